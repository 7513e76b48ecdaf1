//! The transactional outbox: events are written in the same transaction as the state change,
//! then a relay publishes them and deletes them once the bus has accepted them.
//!
//! Replicas share the table safely: a relay claims a batch by setting a lease in one atomic
//! `UPDATE` (with `SKIP LOCKED` on PostgreSQL so replicas do not queue behind each other), and
//! only the holder of the claim deletes the rows. A relay that dies mid-batch leaves a lease
//! that expires; another relay publishes the rows again (at-least-once; consumers deduplicate).

use std::sync::Arc;

use mi_contracts::UnixMillis;
use mi_proto::EventPayload;
use prost::Message;
use sqlx::{AnyConnection, Row};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::bus::{BusMessage, EventBus};
use crate::config::OutboxConfig;
use crate::db::{Backend, Database};
use crate::events::{self, EVENT_TYPE_HEADER};
use crate::telemetry;

/// Writes one service's events to its outbox table, bound for its topic.
#[derive(Debug, Clone)]
pub struct Outbox {
    producer: String,
    topic: String,
    wake_relay: Arc<Notify>,
}

impl Outbox {
    /// An outbox for events produced by `producer` (a service name) onto `topic`.
    pub fn new(producer: &str, topic: &str) -> Self {
        Self {
            producer: producer.to_owned(),
            topic: topic.to_owned(),
            wake_relay: Arc::new(Notify::new()),
        }
    }

    /// The topic this outbox publishes to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Adds an event inside the caller's transaction; returns the new event id.
    ///
    /// The current span's trace context goes with the event, so the trace continues in consumers.
    pub async fn enqueue<P: EventPayload>(
        &self,
        connection: &mut AnyConnection,
        aggregate_id: &str,
        payload: &P,
    ) -> anyhow::Result<String> {
        let envelope = events::envelope(&self.producer, aggregate_id, payload);
        let mut headers: Vec<(String, String)> =
            telemetry::current_trace_headers().into_iter().collect();
        headers.push((EVENT_TYPE_HEADER.to_owned(), envelope.event_type.clone()));
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, message_key, event_type, headers, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&envelope.event_id)
        .bind(&self.topic)
        .bind(aggregate_id)
        .bind(&envelope.event_type)
        .bind(serde_json::to_string(&headers)?)
        .bind(envelope.encode_to_vec())
        .bind(UnixMillis::now().as_i64())
        .execute(connection)
        .await?;
        Ok(envelope.event_id)
    }

    /// Tells the relay in this process that committed events are waiting, so it publishes them
    /// now rather than at its next poll. Call after the transaction commits.
    pub fn notify_committed(&self) {
        self.wake_relay.notify_one();
    }

    /// The relay that publishes this outbox's rows from `database` to `bus`.
    pub fn relay(
        &self,
        database: Database,
        bus: Arc<dyn EventBus>,
        config: OutboxConfig,
    ) -> OutboxRelay {
        OutboxRelay {
            database,
            bus,
            config,
            topic: self.topic.clone(),
            wake: Arc::clone(&self.wake_relay),
        }
    }
}

/// Publishes outbox rows to the bus until shut down.
#[derive(Debug)]
pub struct OutboxRelay {
    database: Database,
    bus: Arc<dyn EventBus>,
    config: OutboxConfig,
    topic: String,
    wake: Arc<Notify>,
}

impl OutboxRelay {
    /// Creates the topic, then publishes batches until `shutdown`; on failure it backs off and
    /// retries, leaving every unpublished row in place.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut failures: u32 = 0;
        let mut topic_ready = false;
        while !shutdown.is_cancelled() {
            let work = async {
                if topic_ready {
                    return self.publish_batch().await;
                }
                self.bus
                    .create_topics(std::slice::from_ref(&self.topic))
                    .await?;
                topic_ready = true;
                Ok(1)
            };
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                outcome = work => outcome,
            };
            let wait = match outcome {
                Ok(0) => {
                    failures = 0;
                    self.config.poll_interval
                }
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let backoff = Backoff::infrastructure(self.config.max_backoff).after(failures);
                    // A single failure is usually a blip (a busy SQLite file, a broker
                    // election); a run of them is worth a warning.
                    if failures >= 3 {
                        tracing::warn!(topic = %self.topic, failures, backoff_ms = backoff.as_millis() as u64, error = format!("{error:#}"), "outbox relay cannot publish");
                    } else {
                        tracing::debug!(topic = %self.topic, failures, error = format!("{error:#}"), "outbox relay publish failed; retrying");
                    }
                    backoff
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified(), if failures == 0 => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        Ok(())
    }

    /// Claims, publishes and deletes one batch; returns how many events went out.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let claim_id = uuid::Uuid::new_v4().to_string();
        let now = UnixMillis::now();
        let skip_locked = match self.database.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claim = format!(
            "UPDATE outbox SET lease_owner = $1, lease_expires_at = $2 \
             WHERE lease_expires_at < $3 AND event_id IN ( \
               SELECT event_id FROM outbox WHERE lease_expires_at < $3 \
               ORDER BY created_at, event_id LIMIT $4{skip_locked}) \
             RETURNING event_id, topic, message_key, headers, payload, created_at"
        );
        let mut rows = sqlx::query(&claim)
            .bind(&claim_id)
            .bind(now.saturating_add(self.config.lease).as_i64())
            .bind(now.as_i64())
            .bind(self.config.batch_size)
            .fetch_all(self.database.pool())
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // RETURNING does not keep the subquery's order.
        rows.sort_by_key(|row| {
            (
                row.try_get::<i64, _>("created_at").unwrap_or_default(),
                row.try_get::<String, _>("event_id").unwrap_or_default(),
            )
        });
        let messages = rows
            .iter()
            .map(|row| {
                let headers: String = row.try_get("headers")?;
                Ok(BusMessage {
                    topic: row.try_get("topic")?,
                    key: row.try_get("message_key")?,
                    headers: serde_json::from_str(&headers)?,
                    payload: row.try_get("payload")?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        if let Err(error) = self.bus.publish(&messages).await {
            sqlx::query(
                "UPDATE outbox SET lease_owner = NULL, lease_expires_at = 0, attempts = attempts + 1, last_error = $2 \
                 WHERE lease_owner = $1",
            )
            .bind(&claim_id)
            .bind(format!("{error:#}"))
            .execute(self.database.pool())
            .await?;
            return Err(error);
        }
        sqlx::query("DELETE FROM outbox WHERE lease_owner = $1")
            .bind(&claim_id)
            .execute(self.database.pool())
            .await?;
        tracing::debug!(topic = %self.topic, published = messages.len(), "outbox batch published");
        Ok(messages.len())
    }
}
