//! Fault 1 of issue 13: the broker crashes (SIGKILL) and comes back on its durable storage
//! while events are being written. With the idempotent producer on, librdkafka's producer was
//! left fenced after the restart and the relay never published again; now the relay replaces
//! a producer that cannot recover and republishes from the outbox.
//!
//! Every event accepted into the outbox must reach the topic (no loss), and a consumer that
//! deduplicates by event id, as every consumer of the platform does, must apply each exactly
//! once (no duplicate delivery), all without a restart of the relay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mi_platform::bus::{EventBus, KafkaBus};
use mi_platform::config::{ConsumerConfig, KafkaConfig, OutboxConfig};
use mi_platform::consumer::{ConsumerSpec, EventHandler, begin_once, run_consumer};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_proto::events::v1::{EventEnvelope, VerificationLocked};
use mi_test_support as testing;
use tokio_util::sync::CancellationToken;

use crate::tansu::DurableTansu;

/// Events written per second, and for how long: the broker dies and returns in the middle.
const EVENTS_PER_SECOND: u64 = 50;
const WRITING: Duration = Duration::from_secs(25);
const KILL_AFTER: Duration = Duration::from_secs(3);
const DOWN_FOR: Duration = Duration::from_secs(15);
/// How long the relay and the consumer get to catch up once writing stops.
const DRAIN_WITHIN: Duration = Duration::from_secs(60);

/// Applies each event once per group (the platform's `begin_once`), counting deliveries (the
/// topic may hold a republished event twice) and applications (never twice).
struct CountingHandler {
    database: Database,
    group: String,
    delivered: std::sync::atomic::AtomicUsize,
    applied: Mutex<HashMap<String, u32>>,
}

#[async_trait]
impl EventHandler for CountingHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        self.delivered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Some(transaction) = begin_once(&self.database, &self.group, &event.event_id).await?
        else {
            return Ok(());
        };
        transaction.commit().await?;
        *self
            .applied
            .lock()
            .expect("lock")
            .entry(event.event_id.clone())
            .or_default() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_crash_loses_nothing_and_duplicates_nothing() {
    // The relay's and librdkafka's warnings explain a failure; RUST_LOG chooses what shows.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut broker = DurableTansu::start().await;
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 8).await.expect("postgres");
    database
        .migrate(sqlx::migrate::Migrator::DEFAULT)
        .await
        .expect("migrate");
    let kafka = KafkaConfig {
        brokers: Some(broker.brokers()),
        partitions: 3,
        idempotent_producer: true,
        message_timeout: Duration::from_secs(10),
        ..KafkaConfig::default()
    };
    let bus: Arc<dyn EventBus> =
        Arc::new(KafkaBus::new(&broker.brokers(), &kafka).expect("kafka clients"));
    let topic = testing::unique_name("faults.events.");
    let outbox = Outbox::unlistened("faults", &topic, &database);
    let shutdown = CancellationToken::new();
    let outbox_config = OutboxConfig {
        poll_interval: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        ..OutboxConfig::default()
    };
    let relay = tokio::spawn(
        outbox
            .relay(database.clone(), Arc::clone(&bus), outbox_config)
            .run(shutdown.clone()),
    );
    let group = testing::unique_name("faults.group.");
    let handler = Arc::new(CountingHandler {
        database: database.clone(),
        group: group.clone(),
        delivered: std::sync::atomic::AtomicUsize::new(0),
        applied: Mutex::new(HashMap::new()),
    });
    let consumer = tokio::spawn(run_consumer(
        Arc::clone(&bus),
        ConsumerSpec {
            group,
            topics: vec![topic.clone()],
            dead_letter_topic: format!("{topic}.dead"),
        },
        ConsumerConfig::default(),
        Arc::clone(&handler) as Arc<dyn EventHandler>,
        shutdown.clone(),
    ));

    // Writes events at a steady rate; the broker is killed and restarted meanwhile.
    let started = Instant::now();
    let mut accepted = Vec::new();
    let mut killed_at = None;
    let mut restarted = false;
    let mut index: u32 = 0;
    while started.elapsed() < WRITING {
        let mut transaction = database.begin_write().await.expect("begin");
        let event = VerificationLocked {
            verification_id: format!("v-{index}"),
            destination: "+8613800138000".into(),
            attempts: index,
        };
        let aggregate = format!("aggregate-{}", index % 16);
        let event_id = outbox
            .enqueue(&mut transaction, &aggregate, &event)
            .await
            .expect("enqueue");
        transaction.commit().await.expect("commit");
        outbox.notify_committed();
        accepted.push(event_id);
        index += 1;
        if killed_at.is_none() && started.elapsed() >= KILL_AFTER {
            broker.kill();
            killed_at = Some(Instant::now());
        }
        if let Some(at) = killed_at
            && !restarted
            && at.elapsed() >= DOWN_FOR
        {
            broker.restart().await;
            restarted = true;
        }
        tokio::time::sleep(Duration::from_millis(1000 / EVENTS_PER_SECOND)).await;
    }
    assert!(restarted, "the broker was not restarted during the run");

    // The relay drains the outbox by itself, and the consumer applies every event.
    let drained_from = Instant::now();
    let (waiting, applied) = loop {
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(database.pool())
            .await
            .expect("count the outbox");
        let applied = handler.applied.lock().expect("lock").clone();
        if (waiting == 0 && applied.len() == accepted.len())
            || drained_from.elapsed() > DRAIN_WITHIN
        {
            break (waiting, applied);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let drain_time = drained_from.elapsed();
    shutdown.cancel();
    relay.await.expect("relay task").expect("relay");
    consumer.await.expect("consumer task").expect("consumer");

    let lost: Vec<&String> = accepted
        .iter()
        .filter(|event_id| !applied.contains_key(*event_id))
        .collect();
    let twice = applied.values().filter(|count| **count > 1).count();
    eprintln!(
        "broker restart: {} accepted, {} delivered from the topic, {} applied, {} lost, {} \
         applied twice, {waiting} left in the outbox, drained {drain_time:?} after writing stopped",
        accepted.len(),
        handler.delivered.load(std::sync::atomic::Ordering::SeqCst),
        applied.len(),
        lost.len(),
        twice
    );
    assert_eq!(waiting, 0, "the relay left events in the outbox");
    assert!(
        lost.is_empty(),
        "{} accepted events never arrived",
        lost.len()
    );
    assert_eq!(twice, 0, "events were applied twice");
}
