//! Per-aggregate order with two relay replicas on one outbox (PostgreSQL) and one topic (Kafka,
//! tansu): many aggregates each write a numbered run of events while two relays, each with its
//! own producer as two processes would have, publish them. A consumer that drops the events it
//! has seen (by event id, as every consumer here does) must see each aggregate's events in the
//! order they were written, with no gaps. Duplicates are allowed (at-least-once); an event that
//! overtakes an earlier one of its aggregate is not.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mi_platform::bus::{EventBus, KafkaBus};
use mi_platform::config::{KafkaConfig, OutboxConfig};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_proto::events::v1::{EventEnvelope, VerificationLocked};
use mi_test_support as testing;
use prost::Message;
use tokio_util::sync::CancellationToken;

const AGGREGATES: u32 = 40;
const EVENTS_PER_AGGREGATE: u32 = 50;
const TOTAL_EVENTS: usize = (AGGREGATES * EVENTS_PER_AGGREGATE) as usize;
/// Small batches, so that one aggregate's events are spread over many claims, as they are when
/// replicas keep up with a steady flow of writes.
const BATCH_SIZE: i64 = 20;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// One aggregate's `sequence`th event; the sequence rides in `attempts`.
fn event(aggregate: &str, sequence: u32) -> VerificationLocked {
    VerificationLocked {
        verification_id: aggregate.to_owned(),
        destination: "+8613800138000".into(),
        attempts: sequence,
    }
}

fn aggregate(index: u32) -> String {
    format!("aggregate-{index}")
}

async fn outbox_rows(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(database.pool())
        .await
        .expect("count")
}

/// Each aggregate writes its events one transaction after the other (as a service does, the
/// aggregate's row lock serialising its changes); the aggregates write side by side. Each write
/// wakes the relay of one of the two "replicas".
async fn write_events(database: &Database, outboxes: &[Outbox]) {
    let writers: Vec<_> = (0..AGGREGATES)
        .map(|index| {
            let database = database.clone();
            let outbox = outboxes[index as usize % outboxes.len()].clone();
            tokio::spawn(async move {
                let key = aggregate(index);
                for sequence in 0..EVENTS_PER_AGGREGATE {
                    let mut transaction = database.pool().begin().await.expect("begin");
                    outbox
                        .enqueue(&mut transaction, &key, &event(&key, sequence))
                        .await
                        .expect("enqueue");
                    transaction.commit().await.expect("commit");
                    outbox.notify_committed();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
}

async fn wait_until_drained(database: &Database) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while outbox_rows(database).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the relays did not drain the outbox within {DRAIN_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What a deduplicating consumer saw: out-of-order pairs (an event whose predecessor in its
/// aggregate had not arrived yet) and duplicates.
#[derive(Debug, Default)]
struct OrderReport {
    out_of_order: Vec<String>,
    duplicates: usize,
}

/// Reads the topic from the start until every event has arrived once, checking each
/// aggregate's sequence as it goes.
async fn consume_and_check(bus: &dyn EventBus, topic: &str) -> OrderReport {
    let mut subscription = bus
        .subscribe(&format!("{topic}.checker"), &[topic.to_owned()])
        .await
        .expect("subscribe");
    let mut seen: HashSet<String> = HashSet::new();
    let mut next_expected: HashMap<String, u32> = HashMap::new();
    let mut report = OrderReport::default();
    while seen.len() < TOTAL_EVENTS {
        let delivery = tokio::time::timeout(Duration::from_secs(60), subscription.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {TOTAL_EVENTS} events arrived", seen.len()))
            .expect("receive");
        let envelope =
            EventEnvelope::decode(delivery.message.payload.as_slice()).expect("envelope");
        if !seen.insert(envelope.event_id) {
            report.duplicates += 1;
            continue;
        }
        let payload = VerificationLocked::decode(envelope.payload.as_slice()).expect("payload");
        let expected = next_expected
            .entry(envelope.aggregate_id.clone())
            .or_default();
        if payload.attempts != *expected {
            report.out_of_order.push(format!(
                "{}: event {} arrived while {} was awaited (partition {}, offset {})",
                envelope.aggregate_id,
                payload.attempts,
                expected,
                delivery.partition,
                delivery.offset
            ));
        }
        *expected = (*expected).max(payload.attempts + 1);
    }
    subscription.close().await.expect("close");
    report
}

/// Two relays, each with its own producer, run until the outbox is empty; `during` runs
/// beside them. Returns how long the outbox took to drain.
async fn relay_with_two_replicas(
    database: &Database,
    outboxes: &[Outbox],
    brokers: &str,
    kafka: &KafkaConfig,
    during: impl Future<Output = ()>,
) -> Duration {
    let config = OutboxConfig {
        batch_size: BATCH_SIZE,
        poll_interval: Duration::from_millis(10),
        ..OutboxConfig::default()
    };
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let relays: Vec<_> = outboxes
        .iter()
        .map(|outbox| {
            let bus: Arc<dyn EventBus> = Arc::new(KafkaBus::new(brokers, kafka).expect("bus"));
            let relay = outbox.relay(database.clone(), bus, config.clone());
            tokio::spawn(relay.run(shutdown.clone()))
        })
        .collect();
    during.await;
    wait_until_drained(database).await;
    let elapsed = started.elapsed();
    shutdown.cancel();
    for relay in relays {
        relay.await.expect("join").expect("relay");
    }
    elapsed
}

async fn setup() -> (Database, String, KafkaConfig, String, [Outbox; 2]) {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 16)
        .await
        .expect("postgres");
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate");
    let brokers = testing::kafka_brokers();
    let kafka = KafkaConfig {
        brokers: Some(brokers.clone()),
        partitions: 3,
        ..KafkaConfig::default()
    };
    let topic = format!("{}.events", testing::unique_name("t."));
    // One outbox per replica, each waking its own relay, over the one table.
    let outboxes = [
        Outbox::unlistened("test", &topic, &database),
        Outbox::unlistened("test", &topic, &database),
    ];
    (database, brokers, kafka, topic, outboxes)
}

fn assert_in_order(report: &OrderReport, scenario: &str, elapsed: Duration) {
    let rate = TOTAL_EVENTS as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{scenario}: {TOTAL_EVENTS} events of {AGGREGATES} aggregates relayed by two replicas in \
         {elapsed:.2?} ({rate:.0} events/s); {} out of order, {} duplicates",
        report.out_of_order.len(),
        report.duplicates
    );
    assert!(
        report.out_of_order.is_empty(),
        "{scenario}: {} events overtook an earlier event of their aggregate, first: {:?}",
        report.out_of_order.len(),
        &report.out_of_order[..report.out_of_order.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_keep_each_aggregates_order_while_events_are_written() {
    let (database, brokers, kafka, topic, outboxes) = setup().await;
    let elapsed = relay_with_two_replicas(
        &database,
        &outboxes,
        &brokers,
        &kafka,
        write_events(&database, &outboxes),
    )
    .await;
    let bus = KafkaBus::new(&brokers, &kafka).expect("bus");
    let report = consume_and_check(&bus, &topic).await;
    assert_in_order(&report, "written while relaying", elapsed);
}

/// A backlog (a relay was down, or the broker) drained by two replicas at once: the
/// throughput figure, and the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_keep_each_aggregates_order_draining_a_backlog() {
    let (database, brokers, kafka, topic, outboxes) = setup().await;
    write_events(&database, &outboxes).await;
    let elapsed = relay_with_two_replicas(&database, &outboxes, &brokers, &kafka, async {}).await;
    let bus = KafkaBus::new(&brokers, &kafka).expect("bus");
    let report = consume_and_check(&bus, &topic).await;
    assert_in_order(&report, "backlog", elapsed);
}
