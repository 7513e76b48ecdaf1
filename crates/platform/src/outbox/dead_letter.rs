//! Parking the outbox rows the bus refuses for what they are (too large, malformed): moved to
//! `outbox_dead_letters` with the error, logged and counted, so that the relay moves on. This
//! is what Kafka Connect (Debezium's runtime) does with `errors.tolerance=all` and a dead
//! letter queue; retrying such a row forever would hold up every event behind it.

use std::sync::LazyLock;

use mi_contracts::UnixMillis;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;

use super::ClaimedEvent;
use crate::db::Database;

/// Events parked, by topic. A no-op until a meter provider with an exporter is installed.
static PARKED: LazyLock<Counter<u64>> = LazyLock::new(|| {
    opentelemetry::global::meter("mi-platform")
        .u64_counter("mi.outbox.dead_lettered")
        .with_description("outbox events the bus refused, parked in outbox_dead_letters")
        .build()
});

/// Moves one claimed row to the dead-letter table, with the error that refused it.
pub(super) async fn park(
    database: &Database,
    claim_id: &str,
    event: &ClaimedEvent,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    let error_text = format!("{error:#}");
    let mut transaction = database.begin_write().await?;
    sqlx::query(
        "INSERT INTO outbox_dead_letters \
         (event_id, topic, message_key, event_type, headers, payload, created_at, attempts, error, parked_at) \
         SELECT event_id, topic, message_key, event_type, headers, payload, created_at, attempts + 1, $3, $4 \
         FROM outbox WHERE event_id = $1 AND lease_owner = $2 \
         ON CONFLICT (event_id) DO UPDATE SET \
         attempts = excluded.attempts, error = excluded.error, parked_at = excluded.parked_at",
    )
    .bind(&event.event_id)
    .bind(claim_id)
    .bind(&error_text)
    .bind(UnixMillis::now().as_i64())
    .execute(&mut *transaction)
    .await?;
    sqlx::query("DELETE FROM outbox WHERE event_id = $1 AND lease_owner = $2")
        .bind(&event.event_id)
        .bind(claim_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    tracing::error!(
        topic = %event.message.topic,
        event_id = %event.event_id,
        event_type = %event.event_type,
        error = error_text,
        "the bus refused an outbox event; parked in outbox_dead_letters"
    );
    PARKED.add(1, &[KeyValue::new("topic", event.message.topic.clone())]);
    Ok(())
}
