//! The retention job on SQLite and PostgreSQL (`MI_TEST_POSTGRES_URL`; scripts/test starts
//! one): the platform's tables in every service's database lose what is older than their
//! keep-for time and keep the rest, in batches, counted in the metrics and the logs.

use std::time::Duration;

use mi_contracts::UnixMillis;
use mi_platform::config::RetentionConfig;
use mi_platform::db::Database;
use mi_platform::retention::{self, Expiry, platform_expiries};
use mi_test_support::{self as testing, capture_logs};
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn migrated(database: Database) -> Database {
    database
        .migrate(sqlx::migrate!("./tests/migrations"))
        .await
        .expect("migrate");
    database
}

async fn sqlite() -> (Database, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("retention.db"))
        .await
        .expect("sqlite");
    (migrated(database).await, directory)
}

async fn postgres() -> Database {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    migrated(Database::connect_postgres(&url, 4).await.expect("postgres")).await
}

fn ago(age: Duration) -> i64 {
    UnixMillis::now().saturating_sub(age).as_i64()
}

async fn processed(database: &Database, group: &str, event_id: &str, age: Duration) {
    sqlx::query(
        "INSERT INTO processed_events (consumer_group, event_id, processed_at) VALUES ($1, $2, $3)",
    )
    .bind(group)
    .bind(event_id)
    .bind(ago(age))
    .execute(database.pool())
    .await
    .expect("insert processed event");
}

async fn parked(database: &Database, event_id: &str, age: Duration) {
    sqlx::query(
        "INSERT INTO outbox_dead_letters (event_id, topic, message_key, event_type, headers, \
         payload, created_at, attempts, error, parked_at) \
         VALUES ($1, 't', 'k', 'e', '{}', $2, $3, 1, 'too large', $3)",
    )
    .bind(event_id)
    .bind(vec![0_u8; 4])
    .bind(ago(age))
    .execute(database.pool())
    .await
    .expect("insert dead letter");
}

async fn keys(database: &Database, statement: &str) -> Vec<String> {
    sqlx::query_scalar(statement)
        .fetch_all(database.pool())
        .await
        .expect("keys")
}

async fn processed_keys(database: &Database) -> Vec<String> {
    keys(
        database,
        "SELECT consumer_group || '/' || event_id FROM processed_events \
         ORDER BY consumer_group, event_id",
    )
    .await
}

async fn parked_keys(database: &Database) -> Vec<String> {
    keys(
        database,
        "SELECT event_id FROM outbox_dead_letters ORDER BY event_id",
    )
    .await
}

/// Processed-event records go after 14 days by default and dead letters after 30; one event
/// applied by two groups is two records, each judged by its own time.
async fn old_rows_go_and_recent_ones_stay(database: Database) {
    let rules = platform_expiries(&RetentionConfig::default());
    processed(&database, "identity", "e-1", 15 * DAY).await;
    processed(&database, "notification", "e-1", 13 * DAY).await;
    processed(
        &database,
        "notification",
        "e-2",
        14 * DAY + Duration::from_secs(60),
    )
    .await;
    processed(&database, "device", "e-3", Duration::ZERO).await;
    parked(&database, "d-old", 31 * DAY).await;
    parked(&database, "d-recent", 29 * DAY).await;

    let deleted = retention::sweep(&database, &rules, UnixMillis::now())
        .await
        .expect("sweep");
    assert_eq!(deleted, 3);
    assert_eq!(
        processed_keys(&database).await,
        ["device/e-3", "notification/e-1"]
    );
    assert_eq!(parked_keys(&database).await, ["d-recent"]);
    assert_eq!(
        retention::sweep(&database, &rules, UnixMillis::now())
            .await
            .expect("sweep again"),
        0
    );
}

/// More rows than one batch take several statements; a condition keeps what it protects.
async fn batches_and_conditions(database: Database) {
    let mut transaction = database.begin_write().await.expect("begin");
    for index in 0..1_201 {
        sqlx::query(
            "INSERT INTO processed_events (consumer_group, event_id, processed_at) \
             VALUES ('g', $1, $2)",
        )
        .bind(format!("e-{index:04}"))
        .bind(ago(20 * DAY))
        .execute(&mut *transaction)
        .await
        .expect("insert");
    }
    transaction.commit().await.expect("commit");
    let only_odd = Expiry::after(
        "processed_events",
        "consumer_group, event_id",
        "processed_at",
        DAY,
    )
    .only_if("event_id NOT LIKE 'e-%0'");
    let deleted = retention::delete_expired(&database, &only_odd, UnixMillis::now())
        .await
        .expect("delete");
    assert_eq!(deleted, 1_080, "all but the 121 whose number ends in 0");
    let rest = processed_keys(&database).await;
    assert_eq!(rest.len(), 121);
    assert!(rest.iter().all(|key| key.ends_with('0')), "{rest:?}");
}

/// The job itself: it sweeps at start, counts each table's rows in
/// `mi_retention_deleted_rows_total` and logs them, and stops at shutdown.
async fn the_job_counts_and_logs_what_it_deletes(database: Database, service: &'static str) {
    let metrics = mi_platform::metrics::recorder();
    processed(&database, "identity", "e-old", 20 * DAY).await;
    processed(&database, "identity", "e-new", DAY).await;
    parked(&database, "d-old", 40 * DAY).await;
    let shutdown = CancellationToken::new();
    let job = retention::run(
        service,
        database.clone(),
        platform_expiries(&RetentionConfig::default()),
        RetentionConfig::default(),
        shutdown.clone(),
    );
    let watcher = async {
        for _ in 0..200 {
            if processed_keys(&database).await.len() == 1 && parked_keys(&database).await.is_empty()
            {
                shutdown.cancel();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the first sweep did not delete the expired rows within 10 s");
    };
    let ((outcome, ()), logs) = capture_logs(async { tokio::join!(job, watcher) }).await;
    outcome.expect("the job stops cleanly at shutdown");
    assert_eq!(processed_keys(&database).await, ["identity/e-new"]);

    let rendered = metrics.render();
    for table in ["processed_events", "outbox_dead_letters"] {
        let counted = rendered.lines().any(|line| {
            line.starts_with("mi_retention_deleted_rows_total{")
                && line.contains(&format!("service=\"{service}\""))
                && line.contains(&format!("table=\"{table}\""))
                && line.ends_with(" 1")
        });
        assert!(counted, "{table} of {service} not counted in\n{rendered}");
        assert!(
            logs.lines()
                .any(|line| line.contains("deleted expired rows")
                    && line.contains(&format!("table=\"{table}\""))
                    && line.contains("deleted=1")),
            "{table} not logged in\n{logs}"
        );
    }
}

#[tokio::test]
async fn sqlite_old_rows_go_and_recent_ones_stay() {
    let (database, _directory) = sqlite().await;
    old_rows_go_and_recent_ones_stay(database).await;
}

#[tokio::test]
async fn postgres_old_rows_go_and_recent_ones_stay() {
    old_rows_go_and_recent_ones_stay(postgres().await).await;
}

#[tokio::test]
async fn sqlite_batches_and_conditions() {
    let (database, _directory) = sqlite().await;
    batches_and_conditions(database).await;
}

#[tokio::test]
async fn postgres_batches_and_conditions() {
    batches_and_conditions(postgres().await).await;
}

#[tokio::test]
async fn sqlite_the_job_counts_and_logs_what_it_deletes() {
    let (database, _directory) = sqlite().await;
    the_job_counts_and_logs_what_it_deletes(database, "retention-sqlite").await;
}

#[tokio::test]
async fn postgres_the_job_counts_and_logs_what_it_deletes() {
    the_job_counts_and_logs_what_it_deletes(postgres().await, "retention-postgres").await;
}
