//! Deletes rows that have outlived their purpose (spent tokens, expired sessions), in small
//! batches on a timer, so tables that grow with every request stay bounded.

use std::time::Duration;

use mi_contracts::UnixMillis;
use tokio_util::sync::CancellationToken;

use crate::config::RetentionConfig;
use crate::db::Database;

/// Rows deleted per statement: short enough that no lock is held for long.
const BATCH: u64 = 500;

/// Rows of `table` that may go once `time_column` (milliseconds since the epoch) is more than
/// `keep_for` in the past; `key` is the table's primary key.
#[derive(Debug, Clone)]
pub struct Expiry {
    /// The table.
    pub table: &'static str,
    /// Its primary key column, used to delete in batches.
    pub key: &'static str,
    /// The column holding the row's time, in milliseconds since the epoch.
    pub time_column: &'static str,
    /// How long after that time the row is kept.
    pub keep_for: Duration,
}

/// Deletes every expired row once, as of `now`; returns how many went.
pub async fn sweep(
    database: &Database,
    expiries: &[Expiry],
    now: UnixMillis,
) -> anyhow::Result<u64> {
    let mut deleted = 0;
    for expiry in expiries {
        let cutoff = now.saturating_sub(expiry.keep_for).as_i64();
        // `IN (SELECT ... LIMIT)` because neither backend takes `DELETE ... LIMIT` portably.
        let statement = format!(
            "DELETE FROM {table} WHERE {key} IN \
             (SELECT {key} FROM {table} WHERE {time} < $1 LIMIT {BATCH})",
            table = expiry.table,
            key = expiry.key,
            time = expiry.time_column,
        );
        loop {
            let batch = sqlx::query(&statement)
                .bind(cutoff)
                .execute(database.pool())
                .await?
                .rows_affected();
            deleted += batch;
            if batch < BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(deleted)
}

/// Sweeps now and then every `config.interval` until `shutdown`; a failed sweep is logged and
/// tried again at the next tick.
pub async fn run(
    database: Database,
    expiries: Vec<Expiry>,
    config: RetentionConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(config.interval.max(Duration::from_secs(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        match sweep(&database, &expiries, UnixMillis::now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "deleted expired rows"),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot delete expired rows")
            }
        }
    }
}
