//! Claiming rows for one relay, by aggregate: a relay takes the oldest rows whose message key
//! (the aggregate id) has no row leased to another relay, so two replicas never publish events
//! of one aggregate side by side, where the later could reach the broker first.
//!
//! The check and the lease must be one step for all replicas: two relays claiming at the same
//! moment would each see the other's keys as free (neither lease is committed yet) and split an
//! aggregate between them. On PostgreSQL, claims therefore take turns under a transaction-level
//! advisory lock, held for the few milliseconds of the `UPDATE` (publishing, the long part, runs
//! outside it and in parallel); each claim's statement starts after the previous claim
//! committed, so it sees its leases. On SQLite the claim's `BEGIN IMMEDIATE` transaction is
//! already the only writer.

use mi_contracts::UnixMillis;
use sqlx::Row;

use crate::bus::BusMessage;
use crate::config::OutboxConfig;
use crate::db::{Backend, Database};

/// The advisory lock claims take turns under; advisory locks belong to one database, so each
/// service's relays have their own. The value is arbitrary ("mioutbox" in ASCII), chosen not
/// to meet another lock of this application.
const CLAIM_LOCK: i64 = 0x6d69_6f75_7462_6f78;

/// An outbox row leased to this relay.
#[derive(Debug)]
pub(super) struct ClaimedEvent {
    pub(super) event_id: String,
    pub(super) event_type: String,
    pub(super) created_at: i64,
    pub(super) message: BusMessage,
}

/// Leases to `claim_id` the oldest rows, at most `batch_size`, of the aggregates no other relay
/// holds a live lease on; oldest first. Rows of an aggregate are taken from its oldest on, so
/// what one claim leaves of an aggregate waits for this relay to finish with it.
pub(super) async fn claim(
    database: &Database,
    claim_id: &str,
    config: &OutboxConfig,
) -> anyhow::Result<Vec<ClaimedEvent>> {
    let now = UnixMillis::now();
    // The row locks make a claim wait for a relay that is deleting or releasing rows it read
    // (never long) rather than skip them: skipping an aggregate's oldest row could lease the
    // ones after it.
    let lock_rows = match database.backend() {
        Backend::Postgres => " FOR UPDATE OF candidate",
        Backend::Sqlite => "",
    };
    let statement = format!(
        "UPDATE outbox SET lease_owner = $1, lease_expires_at = $2 \
         WHERE event_id IN ( \
           SELECT candidate.event_id FROM outbox AS candidate \
           WHERE NOT EXISTS ( \
             SELECT 1 FROM outbox AS held \
             WHERE held.message_key = candidate.message_key AND held.lease_expires_at >= $3) \
           ORDER BY candidate.created_at, candidate.event_id LIMIT $4{lock_rows}) \
         RETURNING event_id, event_type, topic, message_key, headers, payload, created_at"
    );
    let mut transaction = database.begin_write().await?;
    if database.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLAIM_LOCK)
            .execute(&mut *transaction)
            .await?;
    }
    let rows = sqlx::query(&statement)
        .bind(claim_id)
        .bind(now.saturating_add(config.lease).as_i64())
        .bind(now.as_i64())
        .bind(config.batch_size)
        .fetch_all(&mut *transaction)
        .await?;
    transaction.commit().await?;
    let mut events = rows
        .iter()
        .map(|row| {
            let headers: String = row.try_get("headers")?;
            Ok(ClaimedEvent {
                event_id: row.try_get("event_id")?,
                event_type: row.try_get("event_type")?,
                created_at: row.try_get("created_at")?,
                message: BusMessage {
                    topic: row.try_get("topic")?,
                    key: row.try_get("message_key")?,
                    headers: serde_json::from_str(&headers)?,
                    payload: row.try_get("payload")?,
                },
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // RETURNING does not keep the subquery's order.
    events.sort_by(|a, b| (a.created_at, &a.event_id).cmp(&(b.created_at, &b.event_id)));
    Ok(events)
}

/// Keeps `claim_id`'s leases alive while its batch is being published, renewing them every
/// third of `lease`; never returns (dropped with the publishing). A publish slower than the
/// lease (a broker failing over) so keeps its claim, while the lease itself stays short: the
/// claim of a relay whose process died frees within one lease, where a lease long enough for
/// the slowest publish held those aggregates back for a minute. A renewal that fails (the
/// database unreachable) is tried again at the next tick; claims cannot be taken meanwhile
/// either.
pub(super) async fn keep_alive(
    database: &Database,
    claim_id: &str,
    lease: std::time::Duration,
) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = UnixMillis::now().saturating_add(lease);
        let renewed = sqlx::query("UPDATE outbox SET lease_expires_at = $2 WHERE lease_owner = $1")
            .bind(claim_id)
            .bind(until.as_i64())
            .execute(database.pool())
            .await;
        if let Err(error) = renewed {
            tracing::debug!(error = %error, "outbox lease not renewed; retrying");
        }
    }
}
