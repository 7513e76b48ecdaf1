//! Rows shared by several stores: sessions, contacts, and the account read with its
//! contacts in one round trip.

use mi_contracts::{MiId, UnixMillis};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{flag, lock_account};
use crate::domain::{
    Account, AccountGone, Consent, Contact, ContactKind, ContactValue, NewSession, Session,
    TwoFactorStatus,
};

/// The Mi ID a row keeps in `column`.
pub(super) fn mi_id_at(row: &AnyRow, column: &str) -> anyhow::Result<MiId> {
    let stored: i64 = row.try_get(column)?;
    MiId::from_i64(stored).ok_or_else(|| anyhow::anyhow!("{column} {stored} is not a Mi ID"))
}

/// The time a row keeps in `column`.
pub(super) fn time_at(row: &AnyRow, column: &str) -> anyhow::Result<UnixMillis> {
    Ok(UnixMillis::from_i64(row.try_get(column)?))
}

pub(super) const SESSION_COLUMNS: &str =
    "session_id, mi_id, device, client_address, methods, created_at, last_used_at, auth_time";

pub(super) fn session_from_row(row: &AnyRow) -> anyhow::Result<Session> {
    let device: String = row.try_get("device")?;
    let methods: String = row.try_get("methods")?;
    Ok(Session {
        session_id: row.try_get("session_id")?,
        mi_id: mi_id_at(row, "mi_id")?,
        device: serde_json::from_str(&device)?,
        client_address: row.try_get("client_address")?,
        methods: serde_json::from_str(&methods)?,
        created_at: time_at(row, "created_at")?,
        last_used_at: time_at(row, "last_used_at")?,
        auth_time: time_at(row, "auth_time")?,
    })
}

/// Inserts a contact; false if any account has it already.
pub(super) async fn insert_contact(
    connection: &mut AnyConnection,
    mi_id: MiId,
    contact: &Contact,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO contacts (contact_value, mi_id, kind, is_primary, verified_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (contact_value) DO NOTHING",
    )
    .bind(contact.value.as_str())
    .bind(mi_id.as_i64())
    .bind(contact.value.kind().as_str())
    .bind(flag(contact.primary))
    .bind(contact.verified_at.as_i64())
    .execute(connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Inserts a session and remembers its device.
pub(super) async fn insert_session(
    connection: &mut AnyConnection,
    new: &NewSession,
) -> anyhow::Result<()> {
    let session = &new.session;
    // A sign-in racing the account's deletion must not leave a session behind.
    if !lock_account(&mut *connection, session.mi_id).await? {
        return Err(AccountGone(session.mi_id).into());
    }
    sqlx::query(
        "INSERT INTO sessions (session_id, mi_id, device, client_address, methods, refresh_hash, \
         created_at, last_used_at, auth_time, refresh_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&session.session_id)
    .bind(session.mi_id.as_i64())
    .bind(serde_json::to_string(&session.device)?)
    .bind(&session.client_address)
    .bind(serde_json::to_string(&session.methods)?)
    .bind(&new.refresh_hash)
    .bind(session.created_at.as_i64())
    .bind(session.last_used_at.as_i64())
    .bind(session.auth_time.as_i64())
    .bind(new.refresh_expires_at.as_i64())
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO known_devices (mi_id, device_id, first_seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (mi_id, device_id) DO NOTHING",
    )
    .bind(session.mi_id.as_i64())
    .bind(&session.device.device_id)
    .bind(session.created_at.as_i64())
    .execute(connection)
    .await?;
    Ok(())
}

/// The accounts `condition` picks (by `$1`...), each one's columns repeated on each of its
/// contacts' rows (one row without contact columns if it has none), with `extra` columns: one
/// round trip. Rows come by Mi ID, so several accounts' rows can be split by account.
pub(super) fn account_query(condition: &str, extra: &str) -> String {
    format!(
        "SELECT accounts.mi_id AS account_mi_id, display_name, region, locale, created_at, \
         terms_version, privacy_policy_version, consent_at, totp_secret, code_second_factor, \
         (SELECT COUNT(*) FROM recovery_codes WHERE recovery_codes.mi_id = accounts.mi_id) AS codes_left, \
         contact_value, kind, is_primary, verified_at{extra} \
         FROM accounts LEFT JOIN contacts ON contacts.mi_id = accounts.mi_id \
         WHERE {condition} ORDER BY accounts.mi_id, is_primary DESC, verified_at"
    )
}

/// The account in the rows of [`account_query`], if there are any.
pub(super) fn account_from_rows(rows: &[AnyRow]) -> anyhow::Result<Option<Account>> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let contacts = rows
        .iter()
        .filter_map(
            |contact| match contact.try_get::<Option<String>, _>("kind") {
                Ok(Some(kind)) => Some(contact_from_row(contact, &kind)),
                Ok(None) => None,
                Err(error) => Some(Err(error.into())),
            },
        )
        .collect::<anyhow::Result<Vec<_>>>()?;
    let recovery_codes_left: i64 = row.try_get("codes_left")?;
    let totp_secret: Option<Vec<u8>> = row.try_get("totp_secret")?;
    Ok(Some(Account {
        mi_id: mi_id_at(row, "account_mi_id")?,
        display_name: row.try_get("display_name")?,
        region: row.try_get("region")?,
        locale: row.try_get("locale")?,
        created_at: time_at(row, "created_at")?,
        contacts,
        two_factor: TwoFactorStatus {
            totp: totp_secret.is_some(),
            codes: row.try_get::<i64, _>("code_second_factor")? == 1,
            recovery_codes_left: u32::try_from(recovery_codes_left).unwrap_or_default(),
        },
        consent: Consent {
            terms_version: row.try_get("terms_version")?,
            privacy_policy_version: row.try_get("privacy_policy_version")?,
            accepted_at: time_at(row, "consent_at")?,
        },
    }))
}

/// A contact from a row of the account query (where `kind` is not null).
fn contact_from_row(row: &AnyRow, kind: &str) -> anyhow::Result<Contact> {
    let kind = kind
        .parse::<ContactKind>()
        .map_err(|_| anyhow::anyhow!("unknown contact kind {kind}"))?;
    Ok(Contact {
        value: ContactValue::from_stored(kind, row.try_get("contact_value")?),
        primary: row.try_get::<i64, _>("is_primary")? == 1,
        verified_at: time_at(row, "verified_at")?,
    })
}
