//! The ground every scenario stands on: a migrated database of its own on either backend and
//! the [`race`] helper here; builders in [`fixtures`], store calls that must succeed in
//! [`calls`], and readers of table rows and of the outbox in [`outbox`].

mod calls;
mod fixtures;
mod outbox;

pub(crate) use calls::*;
pub(crate) use fixtures::*;
pub(crate) use outbox::*;

use mi_contracts::UnixMillis;
use mi_identity::storage::SqlIdentityStore;
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_test_support as testing;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

/// A day in milliseconds, for [`shifted`].
pub(crate) const DAY: i64 = 24 * 60 * 60 * 1000;
pub(crate) const PHONE_A: &str = "+8613800138000";
pub(crate) const PHONE_B: &str = "+8613900139000";
pub(crate) const PHONE_C: &str = "+8613700137000";
pub(crate) const EMAIL_A: &str = "jane.doe@example.com";
pub(crate) const EMAIL_B: &str = "li.lei@example.com";
pub(crate) const EMAIL_C: &str = "han.meimei@example.com";

/// The tables that hold an account's own rows, keyed by its Mi ID.
pub(crate) const ACCOUNT_TABLES: [&str; 5] = [
    "accounts",
    "contacts",
    "consents",
    "sessions",
    "known_devices",
];

/// `millis` milliseconds after `time` (before it, when negative).
pub(crate) fn shifted(time: UnixMillis, millis: i64) -> UnixMillis {
    UnixMillis::from_i64(time.as_i64() + millis)
}

// ---------------------------------------------------------------------------------------------
// Databases.

/// A migrated database and the store over it.
pub(crate) struct Fixture {
    pub store: SqlIdentityStore,
    pub database: Database,
    _directory: Option<tempfile::TempDir>,
}

async fn fixture(database: Database, directory: Option<tempfile::TempDir>) -> Fixture {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    Fixture {
        // Nothing listens in these tests: the wake-ups only have to be sendable.
        store: SqlIdentityStore::new(
            database.clone(),
            Outbox::unlistened("identity", "identity.events", &database),
        ),
        database,
        _directory: directory,
    }
}

/// A SQLite database in a temporary directory.
pub(crate) async fn sqlite() -> Fixture {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("identity.db"))
        .await
        .expect("sqlite");
    fixture(database, Some(directory)).await
}

/// A PostgreSQL database with a unique name.
pub(crate) async fn postgres() -> Fixture {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 8).await.expect("postgres");
    fixture(database, None).await
}

// ---------------------------------------------------------------------------------------------
// Racing.

/// Runs `racers` futures at once: every task is spawned before any is awaited, and all start
/// together behind a barrier. The results come back in racer order.
pub(crate) async fn race<T, F, Fut>(racers: usize, racer: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|index| {
            let (barrier, racer) = (Arc::clone(&barrier), racer(index));
            tokio::spawn(async move {
                barrier.wait().await;
                racer.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(racers);
    for task in tasks {
        results.push(task.await.expect("join"));
    }
    results
}

/// How many of the results are `true`.
pub(crate) fn successes(results: &[bool]) -> usize {
    results.iter().filter(|won| **won).count()
}
