//! The accounts projection in SQL: each account's audience and second-factor flag, as
//! identity's events last said.

use mi_contracts::MiId;
use sqlx::{AnyConnection, Row};

use crate::domain::AccountNews;
use crate::domain::events::Audience;

/// Contacts are stored newline-separated: neither E.164 numbers nor email addresses hold one.
const CONTACT_SEPARATOR: char = '\n';

/// The audience of account `mi_id`, read inside the caller's (write) transaction so the event
/// it goes into carries what was current when the change committed; empty if identity never
/// said.
pub(crate) async fn audience(
    connection: &mut AnyConnection,
    mi_id: MiId,
) -> anyhow::Result<Audience> {
    let row = sqlx::query("SELECT contacts, locale FROM accounts WHERE mi_id = $1")
        .bind(mi_id.as_i64())
        .fetch_optional(&mut *connection)
        .await?;
    let Some(row) = row else {
        return Ok(Audience::default());
    };
    let contacts: String = row.try_get("contacts")?;
    Ok(Audience {
        contacts: contacts
            .split(CONTACT_SEPARATOR)
            .filter(|contact| !contact.is_empty())
            .map(str::to_owned)
            .collect(),
        locale: row.try_get("locale")?,
    })
}

/// Stores what an event says about account `mi_id`, inside the caller's transaction.
pub(crate) async fn apply_news(
    connection: &mut AnyConnection,
    mi_id: MiId,
    news: &AccountNews,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO accounts (mi_id) VALUES ($1) ON CONFLICT (mi_id) DO NOTHING")
        .bind(mi_id.as_i64())
        .execute(&mut *connection)
        .await?;
    if let Some(audience) = &news.audience {
        let contacts: Vec<&str> = audience.contacts.iter().map(String::as_str).collect();
        sqlx::query("UPDATE accounts SET contacts = $2, locale = $3 WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(contacts.join(&CONTACT_SEPARATOR.to_string()))
            .bind(&audience.locale)
            .execute(&mut *connection)
            .await?;
    }
    if let Some(has_second_factor) = news.has_second_factor {
        sqlx::query("UPDATE accounts SET has_second_factor = $2 WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .bind(i64::from(has_second_factor))
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Whether account `mi_id` has a second factor; false if identity never said.
pub(crate) async fn has_second_factor(
    connection: &mut AnyConnection,
    mi_id: MiId,
) -> anyhow::Result<bool> {
    let flag: Option<i64> =
        sqlx::query_scalar("SELECT has_second_factor FROM accounts WHERE mi_id = $1")
            .bind(mi_id.as_i64())
            .fetch_optional(&mut *connection)
            .await?;
    Ok(flag.is_some_and(|flag| flag != 0))
}

/// Forgets account `mi_id` and its audit trail, inside the caller's transaction.
pub(crate) async fn forget(connection: &mut AnyConnection, mi_id: MiId) -> anyhow::Result<()> {
    for statement in [
        "DELETE FROM accounts WHERE mi_id = $1",
        "DELETE FROM audit_entries WHERE mi_id = $1",
    ] {
        sqlx::query(statement)
            .bind(mi_id.as_i64())
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}
