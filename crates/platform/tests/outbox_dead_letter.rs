//! No outbox row holds up the others: an event the bus refuses (larger than a Kafka producer
//! sends) is parked with its error while the events around it are delivered, on Kafka (tansu)
//! with PostgreSQL and on the embedded bus with SQLite; and a stuck relay shows the age of its
//! oldest event.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mi_platform::bus::{BusMessage, EmbeddedBus, EventBus, KafkaBus, Subscription};
use mi_platform::config::{KafkaConfig, OutboxConfig};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_proto::EventPayload;
use mi_proto::events::v1::VerificationLocked;
use mi_test_support::{self as testing, capture_logs};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

/// Larger than librdkafka's default `message.max.bytes` (1,000,000) and the embedded bus's
/// cap; tansu itself takes frames up to 1 GiB, so on Kafka the producer is what refuses it.
const OVERSIZED_DESTINATION: usize = 1_500_000;

fn event(destination: String) -> VerificationLocked {
    VerificationLocked {
        verification_id: "v".into(),
        destination,
        attempts: 1,
    }
}

async fn enqueue(database: &Database, outbox: &Outbox, key: &str, destination: String) -> String {
    let mut transaction = database.pool().begin().await.expect("begin");
    let event_id = outbox
        .enqueue(&mut transaction, key, &event(destination))
        .await
        .expect("enqueue");
    transaction.commit().await.expect("commit");
    event_id
}

async fn count(database: &Database, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn oversized_event_is_parked_and_its_neighbours_flow(
    database: Database,
    bus: Arc<dyn EventBus>,
) {
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate");
    let topic = format!("{}.events", testing::unique_name("t."));
    bus.create_topics(std::slice::from_ref(&topic))
        .await
        .expect("create topic");
    let outbox = Outbox::unlistened("test", &topic, &database);
    enqueue(&database, &outbox, "small-0", "+8613800138000".into()).await;
    let oversized = enqueue(
        &database,
        &outbox,
        "oversized",
        "9".repeat(OVERSIZED_DESTINATION),
    )
    .await;
    enqueue(&database, &outbox, "small-2", "+8613800138002".into()).await;
    let relay = outbox.relay(database.clone(), Arc::clone(&bus), OutboxConfig::default());

    let (handled, logs) = capture_logs(relay.publish_batch()).await;
    assert_eq!(handled.expect("the batch is not failed by one row"), 3);
    assert_eq!(
        count(&database, "outbox").await,
        0,
        "nothing is left to retry"
    );
    let parked =
        sqlx::query("SELECT event_id, event_type, error, attempts FROM outbox_dead_letters")
            .fetch_all(database.pool())
            .await
            .expect("dead letters");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].get::<String, _>("event_id"), oversized);
    assert_eq!(
        parked[0].get::<String, _>("event_type"),
        VerificationLocked::EVENT_TYPE
    );
    assert_eq!(parked[0].get::<i64, _>("attempts"), 1);
    let error: String = parked[0].get("error");
    assert!(error.contains("refuses this message"), "{error}");
    let logged = logs
        .lines()
        .find(|line| line.contains("parked in outbox_dead_letters"))
        .expect("the parked event is logged");
    assert!(
        logged.contains("ERROR") && logged.contains(&oversized) && logged.contains(&topic),
        "{logged}"
    );

    // The relay keeps going.
    enqueue(&database, &outbox, "small-3", "+8613800138003".into()).await;
    assert_eq!(relay.publish_batch().await.expect("publish"), 1);

    let mut subscription = bus
        .subscribe(&format!("{topic}.reader"), std::slice::from_ref(&topic))
        .await
        .expect("subscribe");
    let mut keys = Vec::new();
    for _ in 0..3 {
        let delivery = tokio::time::timeout(Duration::from_secs(60), subscription.next())
            .await
            .expect("no message within the timeout")
            .expect("receive");
        keys.push(delivery.message.key);
    }
    assert_eq!(keys, ["small-0", "small-2", "small-3"]);
    subscription.close().await.expect("close");
}

#[tokio::test]
async fn kafka_relay_parks_an_oversized_event_and_delivers_its_neighbours() {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 4).await.expect("postgres");
    let brokers = testing::kafka_brokers();
    let config = KafkaConfig {
        brokers: Some(brokers.clone()),
        partitions: 1,
        idempotent_producer: false,
        ..KafkaConfig::default()
    };
    let bus = KafkaBus::new(&brokers, &config).expect("kafka bus");
    oversized_event_is_parked_and_its_neighbours_flow(database, Arc::new(bus)).await;
}

#[tokio::test]
async fn embedded_relay_parks_an_oversized_event_and_delivers_its_neighbours() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("service.db"))
        .await
        .expect("sqlite");
    let bus = EmbeddedBus::open(&directory.path().join("bus.db"))
        .await
        .expect("bus");
    oversized_event_is_parked_and_its_neighbours_flow(database, Arc::new(bus)).await;
}

/// A bus that is down.
#[derive(Debug)]
struct UnreachableBus;

#[async_trait]
impl EventBus for UnreachableBus {
    fn messaging_system(&self) -> &'static str {
        "test"
    }

    async fn create_topics(&self, _topics: &[String]) -> anyhow::Result<()> {
        Ok(())
    }

    async fn publish(&self, _messages: &[BusMessage]) -> anyhow::Result<()> {
        anyhow::bail!("broker unreachable")
    }

    async fn subscribe(&self, _: &str, _: &[String]) -> anyhow::Result<Box<dyn Subscription>> {
        anyhow::bail!("not used by these tests")
    }
}

#[tokio::test]
async fn a_stuck_relay_reports_the_age_of_its_oldest_event() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("service.db"))
        .await
        .expect("sqlite");
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate");
    let outbox = Outbox::unlistened("test", "stuck.events", &database);
    let config = OutboxConfig {
        stale_after: Duration::from_secs(30),
        ..OutboxConfig::default()
    };
    let relay = outbox.relay(database.clone(), Arc::new(UnreachableBus), config);
    assert_eq!(relay.oldest_unpublished_age().await.expect("age"), None);

    enqueue(&database, &outbox, "waiting", "+8613800138000".into()).await;
    sqlx::query("UPDATE outbox SET created_at = created_at - 120000")
        .execute(database.pool())
        .await
        .expect("age the row");
    let age = relay
        .oldest_unpublished_age()
        .await
        .expect("age")
        .expect("a row waits");
    assert!(age >= Duration::from_secs(120), "{age:?}");

    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let ((), logs) = capture_logs(async move {
        let running = relay.run(shutdown);
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.cancel();
        };
        let (ran, ()) = tokio::join!(running, stopper);
        ran.expect("relay");
    })
    .await;
    let warning = logs
        .lines()
        .find(|line| line.contains("outbox events wait longer than outbox.stale_after"))
        .expect("the stuck relay is reported");
    assert!(
        warning.contains("WARN")
            && warning.contains("stuck.events")
            && warning.contains("oldest_age_ms=12"),
        "{warning}"
    );
    assert_eq!(count(&database, "outbox").await, 1, "the row still waits");
}
