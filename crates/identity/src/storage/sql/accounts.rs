//! Accounts, contacts and passwords in SQL.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{SqlIdentityStore, flag, spend};
use crate::domain::{
    Account, Consent, Contact, ContactKind, ContactValue, Identifier, MiId, StoredHash, TwoFactor,
    VerifiedContact,
};
use crate::events::IdentityEvent;
use crate::storage::{
    AccountStore, AddContactOutcome, CreateAccountOutcome, NewSession, RevokeScope,
    SetPasswordOutcome, SignInCandidate,
};

#[async_trait]
impl AccountStore for SqlIdentityStore {
    async fn create_account(
        &self,
        account: &Account,
        password_hash: &StoredHash,
        token: &VerifiedContact,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CreateAccountOutcome> {
        let mut transaction = self.begin().await?;
        if !spend(&mut transaction, token).await? {
            transaction.rollback().await?;
            return Ok(CreateAccountOutcome::TokenSpent);
        }
        let inserted = sqlx::query(
            "INSERT INTO accounts (mi_id, display_name, region, locale, created_at, password_hash, \
             terms_version, privacy_policy_version, consent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (mi_id) DO NOTHING",
        )
        .bind(account.mi_id.as_i64())
        .bind(&account.display_name)
        .bind(&account.region)
        .bind(&account.locale)
        .bind(account.created_at)
        .bind(&password_hash.0)
        .bind(&account.consent.terms_version)
        .bind(&account.consent.privacy_policy_version)
        .bind(account.consent.accepted_at)
        .execute(&mut *transaction)
        .await?;
        if inserted.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(CreateAccountOutcome::MiIdTaken);
        }
        for contact in &account.contacts {
            if !insert_contact(&mut transaction, account.mi_id, contact).await? {
                transaction.rollback().await?;
                return Ok(CreateAccountOutcome::ContactTaken);
            }
        }
        insert_session(&mut transaction, session).await?;
        self.commit_with(transaction, account.mi_id, events).await?;
        Ok(CreateAccountOutcome::Created)
    }

    async fn account(&self, mi_id: MiId) -> anyhow::Result<Option<Account>> {
        let rows = sqlx::query(&account_query("accounts.mi_id = $1", ""))
            .bind(mi_id.as_i64())
            .fetch_all(self.database.pool())
            .await?;
        account_from_rows(&rows)
    }

    async fn find_account(&self, identifier: &Identifier) -> anyhow::Result<Option<MiId>> {
        let row = match identifier {
            Identifier::MiId(mi_id) => {
                sqlx::query("SELECT mi_id FROM accounts WHERE mi_id = $1")
                    .bind(mi_id.as_i64())
                    .fetch_optional(self.database.pool())
                    .await?
            }
            Identifier::Contact(contact) => {
                sqlx::query("SELECT mi_id FROM contacts WHERE contact_value = $1")
                    .bind(contact.as_str())
                    .fetch_optional(self.database.pool())
                    .await?
            }
        };
        row.map(|row| Ok(MiId::from_i64(row.try_get("mi_id")?)))
            .transpose()
    }

    async fn sign_in_candidate(
        &self,
        identifier: &Identifier,
        device_id: &str,
    ) -> anyhow::Result<Option<SignInCandidate>> {
        let extra = ", password_hash, \
             (SELECT COUNT(*) FROM known_devices WHERE known_devices.mi_id = accounts.mi_id \
              AND known_devices.device_id = $2) AS known_device";
        let rows = match identifier {
            Identifier::MiId(mi_id) => {
                sqlx::query(&account_query("accounts.mi_id = $1", extra))
                    .bind(mi_id.as_i64())
                    .bind(device_id)
                    .fetch_all(self.database.pool())
                    .await?
            }
            Identifier::Contact(contact) => {
                let condition =
                    "accounts.mi_id = (SELECT mi_id FROM contacts WHERE contact_value = $1)";
                sqlx::query(&account_query(condition, extra))
                    .bind(contact.as_str())
                    .bind(device_id)
                    .fetch_all(self.database.pool())
                    .await?
            }
        };
        let (Some(account), Some(row)) = (account_from_rows(&rows)?, rows.first()) else {
            return Ok(None);
        };
        Ok(Some(SignInCandidate {
            account,
            password: StoredHash(row.try_get("password_hash")?),
            known_device: row.try_get::<i64, _>("known_device")? > 0,
        }))
    }

    async fn password_hash(&self, mi_id: MiId) -> anyhow::Result<Option<StoredHash>> {
        let row = sqlx::query("SELECT password_hash FROM accounts WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .fetch_optional(self.database.pool())
            .await?;
        row.map(|row| Ok(StoredHash(row.try_get("password_hash")?)))
            .transpose()
    }

    async fn upgrade_password_hash(
        &self,
        mi_id: MiId,
        old: &StoredHash,
        new: &StoredHash,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $3 WHERE mi_id = $1 AND password_hash = $2",
        )
        .bind(mi_id.as_i64())
        .bind(&old.0)
        .bind(&new.0)
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    async fn set_password(
        &self,
        mi_id: MiId,
        hash: &StoredHash,
        token: Option<&VerifiedContact>,
        keep: Option<&str>,
        reason: &str,
        events: &[IdentityEvent],
    ) -> anyhow::Result<SetPasswordOutcome> {
        let mut transaction = self.begin().await?;
        if let Some(token) = token
            && !spend(&mut transaction, token).await?
        {
            transaction.rollback().await?;
            return Ok(SetPasswordOutcome::TokenSpent);
        }
        let updated = sqlx::query("UPDATE accounts SET password_hash = $2 WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(&hash.0)
            .execute(&mut *transaction)
            .await?;
        if updated.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(SetPasswordOutcome::NoAccount);
        }
        let scope = keep.map_or(RevokeScope::All, RevokeScope::AllExcept);
        let revoked = self
            .revoke_in(&mut transaction, mi_id, scope, reason)
            .await?;
        self.commit_with(transaction, mi_id, events).await?;
        Ok(SetPasswordOutcome::Changed {
            sessions_revoked: u32::try_from(revoked.len()).unwrap_or(u32::MAX),
        })
    }

    async fn update_profile(
        &self,
        account: &Account,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET display_name = $2, region = $3, locale = $4 WHERE mi_id = $1",
        )
        .bind(account.mi_id.as_i64())
        .bind(&account.display_name)
        .bind(&account.region)
        .bind(&account.locale)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, account.mi_id, events).await?;
        Ok(true)
    }

    async fn delete_account(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        self.revoke_in(&mut transaction, mi_id, RevokeScope::All, "account_deleted")
            .await?;
        for table in [
            "contacts",
            "known_devices",
            "sign_in_challenges",
            "recovery_codes",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE mi_id = $1"))
                .bind(mi_id.as_i64())
                .execute(&mut *transaction)
                .await?;
        }
        let deleted = sqlx::query("DELETE FROM accounts WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .execute(&mut *transaction)
            .await?;
        if deleted.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }

    async fn add_contact(
        &self,
        mi_id: MiId,
        contact: &Contact,
        token: &VerifiedContact,
        max_contacts: usize,
        events: &[IdentityEvent],
    ) -> anyhow::Result<AddContactOutcome> {
        let mut transaction = self.begin().await?;
        if !lock_account(&mut transaction, mi_id).await? {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::NoAccount);
        }
        let existing: i64 =
            sqlx::query("SELECT COUNT(*) AS contact_count FROM contacts WHERE mi_id = $1")
                .bind(mi_id.as_i64())
                .fetch_one(&mut *transaction)
                .await?
                .try_get("contact_count")?;
        if usize::try_from(existing).unwrap_or(usize::MAX) >= max_contacts {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::TooMany);
        }
        if !spend(&mut transaction, token).await? {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::TokenSpent);
        }
        if !insert_contact(&mut transaction, mi_id, contact).await? {
            transaction.rollback().await?;
            return Ok(AddContactOutcome::InUse);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(AddContactOutcome::Added)
    }

    async fn remove_contact(
        &self,
        mi_id: MiId,
        value: &ContactValue,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        if !lock_account(&mut transaction, mi_id).await? {
            transaction.rollback().await?;
            return Ok(false);
        }
        let removed = sqlx::query(
            "DELETE FROM contacts WHERE mi_id = $1 AND contact_value = $2 AND is_primary = 0",
        )
        .bind(mi_id.as_i64())
        .bind(value.as_str())
        .execute(&mut *transaction)
        .await?;
        if removed.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(false);
        }
        self.commit_with(transaction, mi_id, events).await?;
        Ok(true)
    }

    async fn set_primary_contact(&self, mi_id: MiId, value: &ContactValue) -> anyhow::Result<bool> {
        let mut transaction = self.begin().await?;
        if !lock_account(&mut transaction, mi_id).await? {
            transaction.rollback().await?;
            return Ok(false);
        }
        let owned =
            sqlx::query("SELECT 1 AS owned FROM contacts WHERE mi_id = $1 AND contact_value = $2")
                .bind(mi_id.as_i64())
                .bind(value.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
        if owned.is_none() {
            transaction.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE contacts SET is_primary = CASE WHEN contact_value = $2 THEN 1 ELSE 0 END WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(value.as_str())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn spend_token(&self, token: &VerifiedContact) -> anyhow::Result<bool> {
        let mut connection = self.database.pool().acquire().await?;
        spend(&mut connection, token).await
    }

    async fn record_events(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()> {
        let transaction = self.begin().await?;
        self.commit_with(transaction, mi_id, events).await
    }
}

/// Takes the account's row lock (PostgreSQL) or the write lock (SQLite) before a change that
/// reads first, so concurrent changes to one account's contacts or sessions run one after the
/// other; false if the account is gone.
pub(super) async fn lock_account(
    connection: &mut AnyConnection,
    mi_id: MiId,
) -> anyhow::Result<bool> {
    let locked = sqlx::query("UPDATE accounts SET mi_id = mi_id WHERE mi_id = $1")
        .bind(mi_id.as_i64())
        .execute(connection)
        .await?;
    Ok(locked.rows_affected() == 1)
}

/// Inserts a contact; false if any account has it already.
async fn insert_contact(
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
    .bind(contact.verified_at)
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
    anyhow::ensure!(
        lock_account(&mut *connection, session.mi_id).await?,
        "account {} no longer exists",
        session.mi_id
    );
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
    .bind(session.created_at)
    .bind(session.last_used_at)
    .bind(session.auth_time)
    .bind(new.refresh_expires_at)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO known_devices (mi_id, device_id, first_seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (mi_id, device_id) DO NOTHING",
    )
    .bind(session.mi_id.as_i64())
    .bind(&session.device.device_id)
    .bind(session.created_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// The account `condition` picks (by `$1`), its columns repeated on each of its contacts' rows
/// (one row without contact columns if it has none), with `extra` columns: one round trip.
fn account_query(condition: &str, extra: &str) -> String {
    format!(
        "SELECT accounts.mi_id AS account_mi_id, display_name, region, locale, created_at, \
         terms_version, privacy_policy_version, consent_at, totp_secret, code_second_factor, \
         (SELECT COUNT(*) FROM recovery_codes WHERE recovery_codes.mi_id = accounts.mi_id) AS codes_left, \
         contact_value, kind, is_primary, verified_at{extra} \
         FROM accounts LEFT JOIN contacts ON contacts.mi_id = accounts.mi_id \
         WHERE {condition} ORDER BY is_primary DESC, verified_at"
    )
}

/// The account in the rows of [`account_query`], if there are any.
fn account_from_rows(rows: &[AnyRow]) -> anyhow::Result<Option<Account>> {
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
        mi_id: MiId::from_i64(row.try_get("account_mi_id")?),
        display_name: row.try_get("display_name")?,
        region: row.try_get("region")?,
        locale: row.try_get("locale")?,
        created_at: row.try_get("created_at")?,
        contacts,
        two_factor: TwoFactor {
            totp: totp_secret.is_some(),
            codes: row.try_get::<i64, _>("code_second_factor")? == 1,
            recovery_codes_left: u32::try_from(recovery_codes_left).unwrap_or_default(),
        },
        consent: Consent {
            terms_version: row.try_get("terms_version")?,
            privacy_policy_version: row.try_get("privacy_policy_version")?,
            accepted_at: row.try_get("consent_at")?,
        },
    }))
}

/// A contact from a row of the account query (where `kind` is not null).
fn contact_from_row(row: &AnyRow, kind: &str) -> anyhow::Result<Contact> {
    let kind =
        ContactKind::parse(kind).ok_or_else(|| anyhow::anyhow!("unknown contact kind {kind}"))?;
    Ok(Contact {
        value: ContactValue::from_stored(kind, row.try_get("contact_value")?),
        primary: row.try_get::<i64, _>("is_primary")? == 1,
        verified_at: row.try_get("verified_at")?,
    })
}
