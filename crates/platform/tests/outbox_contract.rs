//! The storage contract of the outbox and the idempotency record, on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mi_platform::bus::{BusMessage, EventBus, Subscription};
use mi_platform::config::OutboxConfig;
use mi_platform::consumer::begin_once;
use mi_platform::db::Database;
use mi_platform::events::EVENT_TYPE_HEADER;
use mi_platform::outbox::Outbox;
use mi_proto::EventPayload;
use mi_proto::events::v1::{EventEnvelope, VerificationLocked};
use mi_test_support as testing;
use prost::Message;

/// Records what was published; fails every publish while `failing` is set.
#[derive(Debug, Default)]
struct RecordingBus {
    published: Mutex<Vec<BusMessage>>,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl EventBus for RecordingBus {
    fn messaging_system(&self) -> &'static str {
        "test"
    }

    async fn create_topics(&self, _topics: &[String]) -> anyhow::Result<()> {
        Ok(())
    }

    async fn publish(&self, messages: &[BusMessage]) -> anyhow::Result<()> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!("broker unreachable");
        }
        self.published
            .lock()
            .expect("lock")
            .extend_from_slice(messages);
        Ok(())
    }

    async fn subscribe(
        &self,
        _group: &str,
        _topics: &[String],
    ) -> anyhow::Result<Box<dyn Subscription>> {
        anyhow::bail!("not used by these tests")
    }
}

fn event(index: u32) -> VerificationLocked {
    VerificationLocked {
        verification_id: format!("v-{index}"),
        destination: "+8613800138000".into(),
        attempts: index,
    }
}

async fn outbox_rows(database: &Database) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn events_commit_and_roll_back_with_the_state_change(database: &Database, outbox: &Outbox) {
    let mut transaction = database.pool().begin().await.expect("begin");
    sqlx::query("INSERT INTO widgets (widget_id) VALUES ('rolled-back')")
        .execute(&mut *transaction)
        .await
        .expect("insert");
    outbox
        .enqueue(&mut transaction, "rolled-back", &event(0))
        .await
        .expect("enqueue");
    transaction.rollback().await.expect("rollback");
    assert_eq!(outbox_rows(database).await, 0);

    let mut transaction = database.pool().begin().await.expect("begin");
    sqlx::query("INSERT INTO widgets (widget_id) VALUES ('committed')")
        .execute(&mut *transaction)
        .await
        .expect("insert");
    outbox
        .enqueue(&mut transaction, "committed", &event(1))
        .await
        .expect("enqueue");
    transaction.commit().await.expect("commit");
    assert_eq!(outbox_rows(database).await, 1);
}

async fn relay_keeps_rows_while_the_bus_fails_then_publishes_them(
    database: &Database,
    outbox: &Outbox,
) {
    let bus = Arc::new(RecordingBus::default());
    bus.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let relay = outbox.relay(database.clone(), bus.clone(), OutboxConfig::default());
    assert!(relay.publish_batch().await.is_err());
    assert!(relay.publish_batch().await.is_err());
    assert_eq!(
        outbox_rows(database).await,
        1,
        "a failed publish must keep the row"
    );
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM outbox")
        .fetch_one(database.pool())
        .await
        .expect("attempts");
    assert_eq!(attempts, 2);

    bus.failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(relay.publish_batch().await.expect("publish"), 1);
    assert_eq!(outbox_rows(database).await, 0);
    let published = bus.published.lock().expect("lock").clone();
    assert_eq!(published.len(), 1);
    let message = &published[0];
    assert_eq!(message.topic, outbox.topic());
    assert_eq!(message.key, "committed");
    assert_eq!(
        message.header(EVENT_TYPE_HEADER),
        Some(VerificationLocked::EVENT_TYPE)
    );
    let envelope = EventEnvelope::decode(message.payload.as_slice()).expect("envelope");
    assert_eq!(envelope.event_type, VerificationLocked::EVENT_TYPE);
    assert_eq!(envelope.aggregate_id, "committed");
    assert_eq!(envelope.producer, "test");
    assert!(
        uuid::Uuid::parse_str(&envelope.event_id)
            .expect("uuid")
            .get_version_num()
            == 7
    );
    assert_eq!(
        VerificationLocked::decode(envelope.payload.as_slice()).expect("payload"),
        event(1)
    );
}

/// Replicas relaying the same table publish every event exactly once.
async fn concurrent_relays_publish_each_event_once(database: &Database, outbox: &Outbox) {
    for index in 0..120 {
        let mut transaction = database.pool().begin().await.expect("begin");
        outbox
            .enqueue(&mut transaction, &format!("a-{}", index % 7), &event(index))
            .await
            .expect("enqueue");
        transaction.commit().await.expect("commit");
    }
    let bus = Arc::new(RecordingBus::default());
    let config = OutboxConfig {
        batch_size: 10,
        ..OutboxConfig::default()
    };
    // Collected first: the relays run side by side, as replicas would.
    let relays: Vec<_> = (0..4)
        .map(|_| {
            let relay = outbox.relay(database.clone(), bus.clone(), config.clone());
            tokio::spawn(async move { while relay.publish_batch().await.expect("publish") > 0 {} })
        })
        .collect();
    for relay in relays {
        relay.await.expect("join");
    }
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for message in bus.published.lock().expect("lock").iter() {
        let envelope = EventEnvelope::decode(message.payload.as_slice()).expect("envelope");
        *per_event.entry(envelope.event_id).or_default() += 1;
    }
    assert_eq!(per_event.len(), 120);
    assert!(
        per_event.values().all(|count| *count == 1),
        "an event was published twice"
    );
    assert_eq!(outbox_rows(database).await, 0);
}

async fn an_event_is_processed_once_per_group(database: &Database) {
    let first = begin_once(database, "group-a", "event-1")
        .await
        .expect("begin")
        .expect("first time");
    first.rollback().await.expect("rollback");
    // A rolled-back attempt does not count.
    let again = begin_once(database, "group-a", "event-1")
        .await
        .expect("begin")
        .expect("after rollback");
    again.commit().await.expect("commit");
    assert!(
        begin_once(database, "group-a", "event-1")
            .await
            .expect("begin")
            .is_none()
    );
    let other_group = begin_once(database, "group-b", "event-1")
        .await
        .expect("begin");
    assert!(other_group.is_some(), "groups keep separate records");
}

async fn run_contract(database: Database) {
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate");
    // Migrating again is a no-op.
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate again");
    let outbox = Outbox::new("test", "test.events");
    events_commit_and_roll_back_with_the_state_change(&database, &outbox).await;
    relay_keeps_rows_while_the_bus_fails_then_publishes_them(&database, &outbox).await;
    concurrent_relays_publish_each_event_once(&database, &outbox).await;
    an_event_is_processed_once_per_group(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_storage_meets_the_contract() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("test.db"))
        .await
        .expect("sqlite");
    run_contract(database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_storage_meets_the_contract() {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 8).await.expect("postgres");
    run_contract(database).await;
}
