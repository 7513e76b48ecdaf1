//! Readers of table rows and of the outbox, and the sorted forms to compare them with.

use mi_contracts::MiId;
use mi_identity::domain::NewSession;
use mi_platform::db::Database;
use mi_proto::EventPayload;
use mi_proto::events::v1::{EventEnvelope, SessionRevoked};
use prost::Message;

pub(crate) async fn rows(database: &Database, table: &str, mi_id: MiId) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE mi_id = $1"))
        .bind(mi_id.as_i64())
        .fetch_one(database.pool())
        .await
        .expect("count")
}

/// Asserts that the account holds no rows in any of `tables`.
pub(crate) async fn assert_no_rows(database: &Database, tables: &[&str], mi_id: MiId) {
    for table in tables {
        assert_eq!(rows(database, table, mi_id).await, 0, "{table}");
    }
}

pub(crate) async fn all_rows(database: &Database, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(database.pool())
        .await
        .expect("count")
}

pub(crate) async fn outbox_len(database: &Database) -> i64 {
    all_rows(database, "outbox").await
}

pub(crate) async fn used_tokens_of(database: &Database, session_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM used_refresh_tokens WHERE session_id = $1")
        .bind(session_id)
        .fetch_one(database.pool())
        .await
        .expect("count")
}

/// The event types in the outbox for an account, sorted.
pub(crate) async fn event_types(database: &Database, mi_id: MiId) -> Vec<String> {
    let mut types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM outbox WHERE message_key = $1")
            .bind(mi_id.to_string())
            .fetch_all(database.pool())
            .await
            .expect("outbox");
    types.sort();
    types
}

/// Event types (`EventPayload::EVENT_TYPE`), sorted, for comparing with [`event_types`].
pub(crate) fn types(event_types: &[&str]) -> Vec<String> {
    sorted(
        event_types
            .iter()
            .map(|&event_type| event_type.to_owned())
            .collect(),
    )
}

/// The `(session_id, reason)` of each `SessionRevoked` in the outbox for an account, sorted.
pub(crate) async fn revoked_events(database: &Database, mi_id: MiId) -> Vec<(String, String)> {
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE message_key = $1 AND event_type = $2")
            .bind(mi_id.to_string())
            .bind(SessionRevoked::EVENT_TYPE)
            .fetch_all(database.pool())
            .await
            .expect("outbox");
    let mut revoked: Vec<(String, String)> = payloads
        .iter()
        .map(|payload| {
            let envelope = EventEnvelope::decode(payload.as_slice()).expect("envelope");
            let event: SessionRevoked = mi_platform::events::payload(&envelope)
                .expect("a SessionRevoked")
                .expect("decode");
            assert_eq!(event.mi_id, mi_id.get());
            (event.session_id, event.reason)
        })
        .collect();
    revoked.sort();
    revoked
}

/// `(session_id, reason)` pairs, sorted, for comparing with [`revoked_events`].
pub(crate) fn pairs(sessions: &[&NewSession], reason: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = sessions
        .iter()
        .map(|session| (session.session.session_id.clone(), reason.to_owned()))
        .collect();
    pairs.sort();
    pairs
}

pub(crate) fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// The sessions' IDs, in the order given.
pub(crate) fn ids_in_order(sessions: &[&NewSession]) -> Vec<String> {
    sessions
        .iter()
        .map(|session| session.session.session_id.clone())
        .collect()
}

/// The sessions' IDs, sorted.
pub(crate) fn ids(sessions: &[&NewSession]) -> Vec<String> {
    sorted(ids_in_order(sessions))
}
