//! The storage contract of the outbox and the idempotency record, on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mi_platform::bus::{BusMessage, EventBus, Subscription};
use mi_platform::config::OutboxConfig;
use mi_platform::consumer::begin_once;
use mi_platform::db::{Backend, Database};
use mi_platform::events::EVENT_TYPE_HEADER;
use mi_platform::outbox::Outbox;
use mi_platform::wake::Wake;
use mi_proto::EventPayload;
use mi_proto::events::v1::{EventEnvelope, VerificationLocked};
use mi_test_support as testing;
use prost::Message;
use tokio_util::sync::CancellationToken;

/// Records what was published; fails every publish while `failing` is set, and that of the
/// event `failing_event` names while that is set; takes `publish_delay` over each publish.
#[derive(Debug, Default)]
struct RecordingBus {
    published: Mutex<Vec<BusMessage>>,
    failing: std::sync::atomic::AtomicBool,
    failing_event: Mutex<Option<String>>,
    publish_delay: Duration,
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
        tokio::time::sleep(self.publish_delay).await;
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!("broker unreachable");
        }
        let failing_event = self.failing_event.lock().expect("lock").clone();
        if messages.iter().any(|message| {
            let envelope = EventEnvelope::decode(message.payload.as_slice()).expect("envelope");
            Some(envelope.event_id) == failing_event
        }) {
            anyhow::bail!("partition leader unavailable");
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

/// Commits `event(index)` under `key` in a transaction of its own; its event id.
async fn commit_event(database: &Database, outbox: &Outbox, key: &str, index: u32) -> String {
    let mut transaction = database.pool().begin().await.expect("begin");
    let event_id = outbox
        .enqueue(&mut transaction, key, &event(index))
        .await
        .expect("enqueue");
    transaction.commit().await.expect("commit");
    event_id
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

/// Replicas relaying the same table publish every event exactly once, each aggregate's
/// events in the order they were written.
async fn concurrent_relays_publish_each_event_once_in_order(database: &Database, outbox: &Outbox) {
    for index in 0..120 {
        commit_event(database, outbox, &format!("a-{}", index % 7), index).await;
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
    let mut last_per_key: HashMap<String, u32> = HashMap::new();
    let mut out_of_order = Vec::new();
    for message in bus.published.lock().expect("lock").iter() {
        let envelope = EventEnvelope::decode(message.payload.as_slice()).expect("envelope");
        *per_event.entry(envelope.event_id).or_default() += 1;
        let index = VerificationLocked::decode(envelope.payload.as_slice())
            .expect("payload")
            .attempts;
        if let Some(last) = last_per_key.insert(message.key.clone(), index)
            && last > index
        {
            out_of_order.push(format!("{}: {index} after {last}", message.key));
        }
    }
    assert!(
        out_of_order.is_empty(),
        "published out of order: {out_of_order:?}"
    );
    assert_eq!(per_event.len(), 120);
    assert!(
        per_event.values().all(|count| *count == 1),
        "an event was published twice"
    );
    assert_eq!(outbox_rows(database).await, 0);
}

/// A claim lasts while its batch is being published, however long that takes (the relay renews
/// it); the claim of a relay that stopped mid-batch (its process died) is free one lease later.
async fn a_claim_lives_as_long_as_its_relay(database: &Database, outbox: &Outbox) {
    commit_event(database, outbox, "slow", 1).await;
    let lease = Duration::from_millis(600);
    let config = OutboxConfig {
        lease,
        ..OutboxConfig::default()
    };
    let other_bus = Arc::new(RecordingBus::default());
    let other = outbox.relay(database.clone(), other_bus.clone(), config.clone());

    // A publish four leases long: the other relay finds nothing to take meanwhile.
    let slow_bus = Arc::new(RecordingBus {
        publish_delay: lease * 4,
        ..RecordingBus::default()
    });
    let slow = outbox.relay(database.clone(), slow_bus.clone(), config.clone());
    let publishing = tokio::spawn(async move { slow.publish_batch().await });
    for _ in 0..5 {
        tokio::time::sleep(lease / 2).await;
        assert_eq!(
            other.publish_batch().await.expect("claim"),
            0,
            "took the rows of a relay still publishing them"
        );
    }
    assert_eq!(publishing.await.expect("join").expect("publish"), 1);
    assert_eq!(slow_bus.published.lock().expect("lock").len(), 1);
    assert!(other_bus.published.lock().expect("lock").is_empty());

    // This relay stops mid-batch, as a killed process would: one lease later the row is free.
    commit_event(database, outbox, "orphaned", 2).await;
    let stuck_bus = Arc::new(RecordingBus {
        publish_delay: Duration::from_secs(3600),
        ..RecordingBus::default()
    });
    let stuck = outbox.relay(database.clone(), stuck_bus, config);
    let dying = tokio::spawn(async move { stuck.publish_batch().await });
    tokio::time::sleep(lease / 3).await;
    dying.abort();
    assert_eq!(
        other.publish_batch().await.expect("claim"),
        0,
        "still leased"
    );
    tokio::time::sleep(lease * 2).await;
    assert_eq!(other.publish_batch().await.expect("publish"), 1);
    assert_eq!(other_bus.published.lock().expect("lock").len(), 1);
    assert_eq!(outbox_rows(database).await, 0);
}

/// After a passing failure of one aggregate's event, the rest of that aggregate waits for the
/// retry (sending it would put it ahead of the failed one); other aggregates flow.
async fn a_failed_event_holds_back_the_rest_of_its_aggregate(database: &Database, outbox: &Outbox) {
    let mut event_ids = Vec::new();
    for (key, index) in [
        ("held", 0),
        ("flowing", 1),
        ("held", 2),
        ("held", 3),
        ("flowing", 4),
    ] {
        event_ids.push(commit_event(database, outbox, key, index).await);
    }
    let bus = Arc::new(RecordingBus::default());
    // The aggregate's first event fails; the two after it would pass.
    *bus.failing_event.lock().expect("lock") = Some(event_ids[0].clone());
    let relay = outbox.relay(database.clone(), bus.clone(), OutboxConfig::default());
    assert!(relay.publish_batch().await.is_err());
    let published_indices = |bus: &RecordingBus| -> Vec<u32> {
        bus.published
            .lock()
            .expect("lock")
            .iter()
            .map(|message| {
                let envelope = EventEnvelope::decode(message.payload.as_slice()).expect("envelope");
                VerificationLocked::decode(envelope.payload.as_slice())
                    .expect("payload")
                    .attempts
            })
            .collect()
    };
    assert_eq!(
        published_indices(&bus),
        [1, 4],
        "only the other aggregate went out"
    );
    let attempts: Vec<i64> =
        sqlx::query_scalar("SELECT attempts FROM outbox ORDER BY created_at, event_id")
            .fetch_all(database.pool())
            .await
            .expect("attempts");
    assert_eq!(attempts, [1, 0, 0], "tried once, then held back unsent");

    *bus.failing_event.lock().expect("lock") = None;
    assert_eq!(relay.publish_batch().await.expect("publish"), 3);
    assert_eq!(published_indices(&bus), [1, 4, 0, 2, 3]);
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
    // Nothing listens here: these parts call the relay themselves.
    let wake = Wake::new(
        "mi_outbox",
        database.backend() == Backend::Postgres,
        Duration::from_secs(5),
    );
    let outbox = Outbox::new("test", "test.events", wake);
    events_commit_and_roll_back_with_the_state_change(&database, &outbox).await;
    relay_keeps_rows_while_the_bus_fails_then_publishes_them(&database, &outbox).await;
    concurrent_relays_publish_each_event_once_in_order(&database, &outbox).await;
    a_claim_lives_as_long_as_its_relay(&database, &outbox).await;
    a_failed_event_holds_back_the_rest_of_its_aggregate(&database, &outbox).await;
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

/// Far longer than the test waits for an event: only a wake-up publishes it in time.
const SLOW_POLL: Duration = Duration::from_secs(10);
/// How soon a woken relay must have published.
const PUBLISHED_WITHIN: Duration = Duration::from_secs(2);

/// Commits one event through `writer`, and returns when `bus` has it or `PUBLISHED_WITHIN`
/// has passed; true if it was published.
async fn written_event_is_published_in_time(
    database: &Database,
    writer: &Outbox,
    bus: &RecordingBus,
    index: u32,
) -> bool {
    let before = bus.published.lock().expect("lock").len();
    commit_event(database, writer, "woken", index).await;
    writer.notify_committed();
    let deadline = tokio::time::Instant::now() + PUBLISHED_WITHIN;
    while tokio::time::Instant::now() < deadline {
        if bus.published.lock().expect("lock").len() > before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Runs `relay_outbox`'s relay with a slow poll, lets it settle into waiting, then requires
/// events written through `writer` to be published long before the poll would find them.
async fn relay_wakes_on_commit(database: &Database, writer: &Outbox, relay_outbox: &Outbox) {
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate");
    let bus = Arc::new(RecordingBus::default());
    let config = OutboxConfig {
        poll_interval: SLOW_POLL,
        ..OutboxConfig::default()
    };
    let shutdown = CancellationToken::new();
    let relay = relay_outbox.relay(database.clone(), bus.clone(), config);
    let relaying = tokio::spawn(relay.run(shutdown.clone()));
    for index in 0..3 {
        // The relay has found the outbox empty and waits for its poll (or a wake-up).
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            written_event_is_published_in_time(database, writer, &bus, index).await,
            "event {index} was not published within {PUBLISHED_WITHIN:?}: the relay waited for its poll"
        );
    }
    shutdown.cancel();
    relaying.await.expect("join").expect("relay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_wakes_on_commit() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("test.db"))
        .await
        .expect("sqlite");
    let outbox = Outbox::new(
        "test",
        "test.events",
        Wake::new("mi_outbox", false, SLOW_POLL),
    );
    relay_wakes_on_commit(&database, &outbox, &outbox).await;
}

/// One replica writes, another one's relay publishes: the wake-up crosses processes through
/// PostgreSQL (each replica has its own `Wake` and listener, as separate processes would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_of_another_replica_wakes_on_commit() {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 8).await.expect("postgres");
    let shutdown = CancellationToken::new();
    let writer_wake = Wake::new("mi_outbox", true, SLOW_POLL);
    let relay_wake = Wake::new("mi_outbox", true, SLOW_POLL);
    let listening = tokio::spawn(relay_wake.clone().listen(url, shutdown.clone()));
    let writer = Outbox::new("test", "test.events", writer_wake);
    let relay_replica = Outbox::new("test", "test.events", relay_wake);
    relay_wakes_on_commit(&database, &writer, &relay_replica).await;
    shutdown.cancel();
    listening.await.expect("join").expect("listener");
}
