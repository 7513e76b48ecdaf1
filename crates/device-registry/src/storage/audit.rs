//! The audit trail in SQL: entries written by `publish.rs` in each event's transaction, read a
//! page at a time, and deleted by the retention job once older than the configured time.

use mi_contracts::{MiId, UnixMillis};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::{AuditEntry, AuditPosition};

const COLUMNS: &str = "entry_id, recorded_at, action, device_id, command_id, actor, session_id, \
                       client_address, result";
const ORDER: &str = "ORDER BY recorded_at DESC, entry_id DESC LIMIT $2";

/// Writes `entry` inside the caller's transaction.
pub(crate) async fn insert(
    connection: &mut AnyConnection,
    entry: &AuditEntry,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO audit_entries (entry_id, mi_id, recorded_at, action, device_id, command_id, \
         actor, session_id, client_address, result) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&entry.entry_id)
    .bind(entry.mi_id.as_i64())
    .bind(entry.recorded_at.as_i64())
    .bind(&entry.action)
    .bind(&entry.device_id)
    .bind(&entry.command_id)
    .bind(&entry.actor)
    .bind(&entry.session_id)
    .bind(&entry.client_address)
    .bind(&entry.result)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// At most `limit` entries of account `mi_id`, newest first, after `after`.
pub(crate) async fn list(
    connection: &mut AnyConnection,
    mi_id: MiId,
    after: Option<&AuditPosition>,
    limit: i64,
) -> anyhow::Result<Vec<AuditEntry>> {
    let list = format!("SELECT {COLUMNS} FROM audit_entries WHERE mi_id = $1");
    let first_page = format!("{list} {ORDER}");
    // Keyset paging: the entries after `after` in the trail's order.
    let next_page =
        format!("{list} AND (recorded_at < $3 OR (recorded_at = $3 AND entry_id < $4)) {ORDER}");
    let query = match after {
        None => sqlx::query(&first_page).bind(mi_id.as_i64()).bind(limit),
        Some(after) => sqlx::query(&next_page)
            .bind(mi_id.as_i64())
            .bind(limit)
            .bind(after.recorded_at.as_i64())
            .bind(&after.entry_id),
    };
    let rows = query.fetch_all(&mut *connection).await?;
    rows.iter().map(|row| entry_from_row(mi_id, row)).collect()
}

fn entry_from_row(mi_id: MiId, row: &AnyRow) -> anyhow::Result<AuditEntry> {
    Ok(AuditEntry {
        entry_id: row.try_get("entry_id")?,
        mi_id,
        recorded_at: UnixMillis::from_i64(row.try_get("recorded_at")?),
        action: row.try_get("action")?,
        device_id: row.try_get("device_id")?,
        command_id: row.try_get("command_id")?,
        actor: row.try_get("actor")?,
        session_id: row.try_get("session_id")?,
        client_address: row.try_get("client_address")?,
        result: row.try_get("result")?,
    })
}
