//! Consuming events: at-least-once delivery, retries with backoff, a dead-letter topic, and
//! the idempotency record that makes redelivery harmless.

mod lag;
mod lanes;
mod starved;

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use mi_contracts::UnixMillis;
use mi_proto::events::v1::EventEnvelope;
use prost::Message;
use sqlx::{Any, Transaction};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::bus::{BusMessage, Delivery, EventBus, Subscription, process_span};
use crate::config::ConsumerConfig;
use crate::db::Database;

use self::lanes::{Batch, Place};

pub use self::starved::{HEALTH_SERVICE, report_in_health, starved_groups};

/// Header on a dead-lettered message: why it could not be processed.
pub const DEAD_LETTER_ERROR_HEADER: &str = "mi-dead-letter-error";
/// Header on a dead-lettered message: the topic it came from.
pub const DEAD_LETTER_TOPIC_HEADER: &str = "mi-dead-letter-topic";
/// Header on a dead-lettered message: the consumer group that gave up on it.
pub const DEAD_LETTER_GROUP_HEADER: &str = "mi-dead-letter-group";

/// Applies events of the types it cares about; ignores the rest.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Applies one event. Must be idempotent: the same event may arrive more than once.
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()>;

    /// Called once the consumer gives up on an event, just before it is dead-lettered, so the
    /// service can record the failure (and, say, publish that it failed).
    async fn gave_up(&self, _event: &EventEnvelope, _reason: &str) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Where a consumer reads and where it puts what it cannot process.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The consumer group: one per service.
    pub group: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// Where events go after the handler has failed `max_attempts` times.
    pub dead_letter_topic: String,
}

/// Reads the spec's topics and applies each event until `shutdown`.
///
/// An event is committed only after the handler succeeded or the event was dead-lettered, so a
/// crash redelivers it. The handler is retried with exponential backoff; an event that cannot be
/// decoded is dead-lettered at once, since retrying cannot help. Up to
/// `consumer.max_in_flight` events are handled at once, each key's in order (`lanes.rs`).
pub async fn run_consumer(
    bus: Arc<dyn EventBus>,
    spec: ConsumerSpec,
    config: ConsumerConfig,
    handler: Arc<dyn EventHandler>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut topics = spec.topics.clone();
    topics.push(spec.dead_letter_topic.clone());
    retry_until_shutdown(&shutdown, &config, "create consumer topics", || {
        bus.create_topics(&topics)
    })
    .await;
    let Some(mut subscription) = retry_until_shutdown(&shutdown, &config, "subscribe", || {
        bus.subscribe(&spec.group, &spec.topics)
    })
    .await
    else {
        return Ok(());
    };
    tracing::info!(group = %spec.group, topics = ?spec.topics, "consumer started");

    // Stopped before the subscription closes: the probe shares its client.
    let stop_lag_watch = CancellationToken::new();
    let lag_watch = subscription.lag_probe().map(|probe| {
        tokio::spawn(lag::watch(
            probe,
            spec.group.clone(),
            config.lag_interval,
            stop_lag_watch.clone(),
        ))
    });
    loop {
        let first = tokio::select! {
            () = shutdown.cancelled() => break,
            delivery = subscription.next() => delivery,
        };
        let first = match first {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(group = %spec.group, error = format!("{error:#}"), "consumer cannot receive");
                tokio::time::sleep(config.initial_backoff).await;
                continue;
            }
        };
        let batch = Batch::new(take_waiting(&mut *subscription, first).await);
        // Lanes run side by side, at most `max_in_flight` at once; each in its order.
        let (bus_ref, spec_ref, config_ref, handler_ref, shutdown_ref, batch_ref) =
            (&*bus, &spec, &config, &*handler, &shutdown, &batch);
        let handled: Vec<Place> = futures::stream::iter(batch.lanes())
            .map(|lane| async move {
                let mut done = Vec::with_capacity(lane.len());
                for place in lane {
                    let delivery = batch_ref.get(place);
                    if !process(
                        bus_ref,
                        spec_ref,
                        config_ref,
                        handler_ref,
                        delivery,
                        shutdown_ref,
                    )
                    .await
                    {
                        break;
                    }
                    done.push(place);
                }
                done
            })
            .buffer_unordered(config.max_in_flight)
            .concat()
            .await;
        let (commits, finished) = batch.commit_points(handled);
        for delivery in commits {
            // Committing a partition's last handled message covers the ones before it.
            if let Err(error) = subscription.commit(delivery).await {
                tracing::warn!(group = %spec.group, error = format!("{error:#}"), "cannot commit consumer position");
            }
        }
        if !finished {
            // Shut down mid-retry: what was not handled stays uncommitted and comes again.
            break;
        }
    }
    stop_lag_watch.cancel();
    if let Some(lag_watch) = lag_watch {
        let _ = lag_watch.await;
    }
    close(subscription, &spec.group).await;
    Ok(())
}

/// Most messages handled together; more wait for the next round.
const MAX_BATCH: usize = 256;

/// `first` and whatever else has already arrived, without waiting for more.
async fn take_waiting(subscription: &mut dyn Subscription, first: Delivery) -> Vec<Delivery> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        // Both subscriptions' `next` are cancel-safe, so a poll that finds nothing loses nothing.
        match tokio::time::timeout(std::time::Duration::ZERO, subscription.next()).await {
            Ok(Ok(delivery)) => batch.push(delivery),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    batch
}

async fn close(subscription: Box<dyn Subscription>, group: &str) {
    if let Err(error) = subscription.close().await {
        tracing::warn!(
            group,
            error = format!("{error:#}"),
            "consumer did not close cleanly"
        );
    }
}

/// Handles one delivery or dead-letters it; false if shutdown interrupted it.
async fn process(
    bus: &dyn EventBus,
    spec: &ConsumerSpec,
    config: &ConsumerConfig,
    handler: &dyn EventHandler,
    delivery: &Delivery,
    shutdown: &CancellationToken,
) -> bool {
    let message = &delivery.message;
    let span = process_span(bus.messaging_system(), &spec.group, delivery);
    async {
        let envelope = match EventEnvelope::decode(message.payload.as_slice()) {
            Ok(envelope) => envelope,
            Err(error) => {
                let reason = format!("undecodable event envelope: {error}");
                return dead_letter(bus, spec, config, message, &reason, shutdown).await;
            }
        };
        let current = tracing::Span::current();
        current.record("messaging.message.id", envelope.event_id.as_str());
        current.record("event_type", envelope.event_type.as_str());
        // Failures that count towards dead-lettering, and all failures (for the backoff). A
        // dependency outage (the database or Redis unreachable) says nothing about the event:
        // it is retried until the dependency is back, the partition waiting behind it, and never
        // dead-lettered for it; a 15 s PostgreSQL outage used up five attempts in 3 s.
        let (mut attempt, mut failures): (u32, u32) = (0, 0);
        loop {
            let Err(error) = handler.handle(&envelope).await else {
                return true;
            };
            failures = failures.saturating_add(1);
            let outage = crate::outage::unreachable_dependency(&error);
            if outage.is_none() {
                attempt += 1;
            }
            if attempt >= config.max_attempts {
                let reason = format!("handler failed {attempt} times: {error:#}");
                if let Err(error) = handler.gave_up(&envelope, &reason).await {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "cannot record the failed event"
                    );
                }
                return dead_letter(bus, spec, config, message, &reason, shutdown).await;
            }
            let wait = Backoff {
                first: config.initial_backoff,
                max: config.max_backoff,
            }
            .after(failures);
            tracing::warn!(
                attempt,
                outage = outage.map(crate::outage::Dependency::as_str),
                retry_in_ms = wait.as_millis() as u64,
                error = format!("{error:#}"),
                "event handler failed"
            );
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
    .instrument(span)
    .await
}

/// Publishes the message to the dead-letter topic, retrying until it is accepted.
async fn dead_letter(
    bus: &dyn EventBus,
    spec: &ConsumerSpec,
    config: &ConsumerConfig,
    message: &BusMessage,
    reason: &str,
    shutdown: &CancellationToken,
) -> bool {
    tracing::error!(dead_letter_topic = %spec.dead_letter_topic, reason, "dead-lettering event");
    crate::metrics::events::consumer_dead_lettered(&spec.group);
    // The process span (current here) failed; the dead letter's send hangs under it.
    let process = tracing::Span::current();
    process.record("otel.status_code", "ERROR");
    let mut headers = crate::bus::headers_under(&process, &message.headers);
    headers.push((DEAD_LETTER_ERROR_HEADER.to_owned(), reason.to_owned()));
    headers.push((DEAD_LETTER_TOPIC_HEADER.to_owned(), message.topic.clone()));
    headers.push((DEAD_LETTER_GROUP_HEADER.to_owned(), spec.group.clone()));
    let dead = BusMessage {
        topic: spec.dead_letter_topic.clone(),
        key: message.key.clone(),
        headers,
        payload: message.payload.clone(),
    };
    let dead = std::slice::from_ref(&dead);
    retry_until_shutdown(shutdown, config, "publish to the dead-letter topic", || {
        bus.publish(dead)
    })
    .await
    .is_some()
}

/// Runs `operation` until it succeeds (`Some`) or shutdown is requested (`None`).
async fn retry_until_shutdown<T, F, Fut>(
    shutdown: &CancellationToken,
    config: &ConsumerConfig,
    what: &str,
    mut operation: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut failures = 0;
    loop {
        match operation().await {
            Ok(value) => return Some(value),
            Err(error) => {
                failures += 1;
                let wait = Backoff::infrastructure(config.max_backoff).after(failures);
                tracing::warn!(failures, error = format!("{error:#}"), "cannot {what}");
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Begins the transaction in which `consumer_group` applies `event_id`, or returns `None` if
/// that group has applied it already.
///
/// The processed-event record is written first, in the same transaction as the handler's
/// effect: both commit or neither does, so a redelivered event finds the record and is skipped.
pub async fn begin_once(
    database: &Database,
    consumer_group: &str,
    event_id: &str,
) -> anyhow::Result<Option<Transaction<'static, Any>>> {
    let mut transaction = database.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO processed_events (consumer_group, event_id, processed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (consumer_group, event_id) DO NOTHING",
    )
    .bind(consumer_group)
    .bind(event_id)
    .bind(UnixMillis::now().as_i64())
    .execute(&mut *transaction)
    .await?;
    if inserted.rows_affected() == 0 {
        transaction.rollback().await?;
        return Ok(None);
    }
    Ok(Some(transaction))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::bus::EmbeddedBus;

    /// Fails its first `failures` calls with `error()`, then succeeds.
    struct Flaky {
        failures: u32,
        calls: AtomicU32,
        error: fn() -> anyhow::Error,
    }

    #[async_trait]
    impl EventHandler for Flaky {
        async fn handle(&self, _event: &EventEnvelope) -> anyhow::Result<()> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err((self.error)());
            }
            Ok(())
        }
    }

    async fn run(handler: &Flaky) -> (bool, usize) {
        let directory = tempfile::tempdir().expect("tempdir");
        let bus = EmbeddedBus::open(&directory.path().join("bus.db"))
            .await
            .expect("bus");
        let spec = ConsumerSpec {
            group: "test".into(),
            topics: vec!["test.events".into()],
            dead_letter_topic: "test.events.dead".into(),
        };
        bus.create_topics(std::slice::from_ref(&spec.dead_letter_topic))
            .await
            .expect("topic");
        let config = ConsumerConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..ConsumerConfig::default()
        };
        let envelope = EventEnvelope {
            event_id: "event-1".into(),
            ..EventEnvelope::default()
        };
        let delivery = Delivery {
            message: BusMessage {
                topic: "test.events".into(),
                key: "aggregate".into(),
                headers: Vec::new(),
                payload: envelope.encode_to_vec(),
            },
            partition: 0,
            offset: 0,
        };
        let handled = process(
            &bus,
            &spec,
            &config,
            handler,
            &delivery,
            &CancellationToken::new(),
        )
        .await;
        let mut dead = bus
            .subscribe(
                "test.dead-readers",
                std::slice::from_ref(&spec.dead_letter_topic),
            )
            .await
            .expect("subscribe");
        let dead_letters = match tokio::time::timeout(Duration::from_millis(300), dead.next()).await
        {
            Ok(Ok(_)) => 1,
            _ => 0,
        };
        (handled, dead_letters)
    }

    #[tokio::test]
    async fn an_outage_is_retried_past_max_attempts_and_never_dead_letters() {
        let handler = Flaky {
            failures: 10,
            calls: AtomicU32::new(0),
            error: || anyhow::Error::new(sqlx::Error::PoolTimedOut).context("linking a device"),
        };
        assert_eq!(run(&handler).await, (true, 0));
        assert_eq!(handler.calls.load(Ordering::SeqCst), 11);
    }

    #[tokio::test]
    async fn a_failing_handler_is_dead_lettered_after_max_attempts() {
        let handler = Flaky {
            failures: 10,
            calls: AtomicU32::new(0),
            error: || anyhow::anyhow!("a bug"),
        };
        assert_eq!(run(&handler).await, (true, 1));
        assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
    }
}
