//! The transactional outbox: events are written in the same transaction as the state change,
//! then a relay publishes them and deletes them once the bus has accepted them.
//!
//! Replicas share the table safely and keep each aggregate's order: a relay claims whole
//! aggregates by setting a lease on their oldest rows, skipping every aggregate another relay
//! holds (`claim.rs`), publishes each aggregate's events one after the other (`in_order.rs`),
//! and only the holder of the claim deletes the rows. A claim is renewed while its batch is
//! being published, so the lease can be short: a relay that dies mid-batch leaves a lease that
//! expires within `outbox.lease`, and another relay publishes the rows again (at-least-once;
//! consumers deduplicate by event id, and the first copy of each event still arrives in order).
//!
//! No row holds up other aggregates: a row the bus refuses for what it is (too large,
//! malformed) is parked in `outbox_dead_letters` (`dead_letter.rs`) and its aggregate goes on;
//! a row that failed for a passing reason is retried with backoff, the rest of its aggregate
//! behind it. Events are not refused at `enqueue`: that runs inside the business transaction,
//! where a delivery limit would turn into a failed request; the edges bound what goes into an
//! event. The age of the oldest waiting row is a gauge and, past `outbox.stale_after`, a
//! warning (`age.rs`).
//!
//! Every write wakes the relays of every replica through [`Wake`] (keyed by topic): `pg_notify`
//! in the writer's transaction on PostgreSQL, an in-process signal after the commit on SQLite.
//! A relay so publishes an event as soon as it is committed; `outbox.poll_interval` is only the
//! fallback for a missed signal (a listener reconnecting).

mod age;
mod claim;
mod dead_letter;
mod in_order;

use std::sync::Arc;

use mi_contracts::UnixMillis;
use mi_proto::EventPayload;
use prost::Message;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;

use self::age::AgeWatch;
use self::claim::ClaimedEvent;
use self::in_order::Outcome;
use crate::backoff::Backoff;
use crate::bus::EventBus;
use crate::config::OutboxConfig;
use crate::db::Database;
use crate::events::{self, EVENT_TYPE_HEADER};
use crate::telemetry;
use crate::wake::Wake;

/// The PostgreSQL channel on which outbox writes wake the relays (keyed by topic).
pub const WAKE_CHANNEL: &str = "mi_outbox";

/// Writes one service's events to its outbox table, bound for its topic.
#[derive(Debug, Clone)]
pub struct Outbox {
    producer: String,
    topic: String,
    wake: Wake,
}

impl Outbox {
    /// An outbox for events produced by `producer` (a service name) onto `topic`, whose writes
    /// wake relays through `wake`.
    pub fn new(producer: &str, topic: &str, wake: Wake) -> Self {
        Self {
            producer: producer.to_owned(),
            topic: topic.to_owned(),
            wake,
        }
    }

    /// An outbox whose writes wake only relays made from it, with nothing listening for its
    /// PostgreSQL signals: for tests and tools that run a relay of their own, which then
    /// finds other writers' events at its poll.
    pub fn unlistened(producer: &str, topic: &str, database: &Database) -> Self {
        let postgres = database.backend() == crate::db::Backend::Postgres;
        let wake = Wake::new(WAKE_CHANNEL, postgres, std::time::Duration::from_secs(5));
        Self::new(producer, topic, wake)
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
        .execute(&mut *connection)
        .await?;
        // Delivered to the relays of every replica when the transaction commits.
        self.wake.notify(connection, &self.topic).await?;
        Ok(envelope.event_id)
    }

    /// Tells the relay in this process that committed events are waiting, so it publishes them
    /// now rather than at its next poll. Call after the transaction commits (needed on SQLite;
    /// on PostgreSQL the commit has signalled every replica already).
    pub fn notify_committed(&self) {
        self.wake.committed(&self.topic);
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
            wake: self.wake.clone(),
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
    wake: Wake,
}

impl OutboxRelay {
    /// Creates the topic, then publishes batches until `shutdown`; on failure it backs off and
    /// retries, leaving every unpublished row in place.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut failures: u32 = 0;
        let mut topic_ready = false;
        let mut age_watch = AgeWatch::new();
        // Subscribed before the first claim, so a write committed between a claim that found
        // nothing and the wait is not missed.
        let mut committed = self.wake.subscribe(&self.topic);
        while !shutdown.is_cancelled() {
            if age_watch.due() {
                match self.oldest_unpublished_age().await {
                    Ok(age) => age_watch.observe(&self.topic, age, self.config.stale_after),
                    Err(error) => {
                        tracing::debug!(topic = %self.topic, error = format!("{error:#}"), "cannot read the outbox age")
                    }
                }
            }
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
            // A batch in progress finishes (published rows deleted, the rest released) before
            // shutdown is looked at: cancelled after its claim, it would leave its aggregates
            // leased, and every other replica would skip them until the lease ran out.
            let outcome = work.await;
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
                () = committed.wait(tokio::time::Instant::now() + wait), if failures == 0 => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        Ok(())
    }

    /// How long the oldest event still in the outbox has waited; `None` when none waits.
    pub async fn oldest_unpublished_age(&self) -> anyhow::Result<Option<std::time::Duration>> {
        age::oldest_unpublished_age(&self.database).await
    }

    /// Claims and publishes one batch of whole aggregates, each aggregate's events in order
    /// (`in_order.rs`): published rows are deleted, rows the bus refuses are parked, a row that
    /// failed and the rest of its aggregate are released for a retry. Returns how many rows
    /// left the outbox, or the first passing error once the rest of the batch is done.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let claim_id = uuid::Uuid::new_v4().to_string();
        let events = claim::claim(&self.database, &claim_id, &self.config).await?;
        if events.is_empty() {
            return Ok(0);
        }
        let outcomes = tokio::select! {
            outcomes = in_order::publish(self.bus.as_ref(), &events) => outcomes,
            never = claim::keep_alive(&self.database, &claim_id, self.config.lease) => match never {},
        };
        let mut first_transient_error = None;
        let mut left_outbox = 0;
        for (event, outcome) in events.iter().zip(outcomes) {
            match outcome {
                Outcome::Published => left_outbox += 1,
                Outcome::Refused(error) => {
                    dead_letter::park(&self.database, &claim_id, event, &error).await?;
                    left_outbox += 1;
                }
                Outcome::Failed(error) => {
                    self.release(&claim_id, event, Some(&error)).await?;
                    first_transient_error.get_or_insert(error);
                }
                Outcome::HeldBack => self.release(&claim_id, event, None).await?,
            }
        }
        // What is still claimed was published.
        let published = sqlx::query("DELETE FROM outbox WHERE lease_owner = $1")
            .bind(&claim_id)
            .execute(self.database.pool())
            .await?
            .rows_affected();
        tracing::debug!(topic = %self.topic, published, "outbox batch published");
        match first_transient_error {
            Some(error) => Err(error),
            None => Ok(left_outbox),
        }
    }

    /// Gives a claimed row back for any relay to publish; with the error, when publishing it
    /// failed (an attempt), without, when it was held back behind an earlier event that did.
    async fn release(
        &self,
        claim_id: &str,
        event: &ClaimedEvent,
        error: Option<&anyhow::Error>,
    ) -> anyhow::Result<()> {
        let attempted = i64::from(error.is_some());
        sqlx::query(
            "UPDATE outbox SET lease_owner = NULL, lease_expires_at = 0, \
             attempts = attempts + $3, last_error = COALESCE($4, last_error) \
             WHERE event_id = $1 AND lease_owner = $2",
        )
        .bind(&event.event_id)
        .bind(claim_id)
        .bind(attempted)
        .bind(error.map(|error| format!("{error:#}")))
        .execute(self.database.pool())
        .await?;
        Ok(())
    }
}
