//! Deletes rows that have outlived their purpose (spent tokens, expired sessions, finished
//! deliveries, old processed-event records), in small batches on a timer, so tables that grow
//! with every request stay bounded.
//!
//! Every service's job also covers the platform's own tables ([`platform_expiries`]); a service
//! adds its rules through [`crate::host::ServiceHost::add_retention`]. Each sweep logs and
//! counts (`mi_retention_deleted_rows_total{service, table}`) the rows it deleted per table.

use std::time::Duration;

use mi_contracts::UnixMillis;
use tokio_util::sync::CancellationToken;

use crate::config::RetentionConfig;
use crate::db::Database;

/// Rows deleted per statement: short enough that no lock is held for long.
const BATCH: u64 = 500;

/// Rows of a table that may go once their time column (milliseconds since the epoch) is more
/// than `keep_for` in the past, and, when a condition is given, only those that meet it.
#[derive(Debug, Clone)]
pub struct Expiry {
    table: &'static str,
    key: &'static str,
    time_column: &'static str,
    keep_for: Duration,
    only_if: Option<String>,
}

impl Expiry {
    /// Rows of `table` whose `time_column` is more than `keep_for` in the past. `key` is the
    /// table's primary key, its columns comma-separated (`consumer_group, event_id`), by which
    /// rows are deleted in batches; `time_column` should be indexed so no sweep scans the table.
    pub fn after(
        table: &'static str,
        key: &'static str,
        time_column: &'static str,
        keep_for: Duration,
    ) -> Self {
        Self {
            table,
            key,
            time_column,
            keep_for,
            only_if: None,
        }
    }

    /// Only rows that also meet `condition` (SQL over the table's columns, e.g.
    /// `status <> 'pending'`) go: what is still pending is never deleted, however old.
    pub fn only_if(self, condition: impl Into<String>) -> Self {
        Self {
            only_if: Some(condition.into()),
            ..self
        }
    }

    /// One batch's statement; `$1` is the cutoff time.
    fn statement(&self) -> String {
        let condition = self
            .only_if
            .as_ref()
            .map_or(String::new(), |condition| format!(" AND ({condition})"));
        // `IN (SELECT ... LIMIT)` because neither backend takes `DELETE ... LIMIT` portably;
        // the row value `(key) IN` serves single and composite keys alike.
        format!(
            "DELETE FROM {table} WHERE ({key}) IN \
             (SELECT {key} FROM {table} WHERE {time} < $1{condition} LIMIT {BATCH})",
            table = self.table,
            key = self.key,
            time = self.time_column,
        )
    }
}

/// The platform's tables in every service's database: processed-event records once no copy of
/// their event can come back, and parked outbox events once an operator had time to act.
pub fn platform_expiries(config: &RetentionConfig) -> Vec<Expiry> {
    vec![
        Expiry::after(
            "processed_events",
            "consumer_group, event_id",
            "processed_at",
            config.processed_events,
        ),
        Expiry::after(
            "outbox_dead_letters",
            "event_id",
            "parked_at",
            config.outbox_dead_letters,
        ),
    ]
}

/// Deletes every row `expiry` lets go as of `now`, a batch per statement (each its own short
/// transaction); returns how many went.
pub async fn delete_expired(
    database: &Database,
    expiry: &Expiry,
    now: UnixMillis,
) -> anyhow::Result<u64> {
    let cutoff = now.saturating_sub(expiry.keep_for).as_i64();
    let statement = expiry.statement();
    let mut deleted = 0;
    loop {
        let batch = sqlx::query(&statement)
            .bind(cutoff)
            .execute(database.pool())
            .await?
            .rows_affected();
        deleted += batch;
        if batch < BATCH {
            return Ok(deleted);
        }
        tokio::task::yield_now().await;
    }
}

/// Deletes every expired row once, as of `now`; returns how many went.
pub async fn sweep(
    database: &Database,
    expiries: &[Expiry],
    now: UnixMillis,
) -> anyhow::Result<u64> {
    let mut deleted = 0;
    for expiry in expiries {
        deleted += delete_expired(database, expiry, now).await?;
    }
    Ok(deleted)
}

/// Sweeps now and then every `config.interval` until `shutdown`. A table that cannot be swept
/// is logged and tried again at the next tick; the others are swept all the same.
pub async fn run(
    service: &'static str,
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
        let now = UnixMillis::now();
        for expiry in &expiries {
            let table = expiry.table;
            match delete_expired(&database, expiry, now).await {
                Ok(0) => {}
                Ok(deleted) => {
                    metrics::counter!(
                        "mi_retention_deleted_rows_total",
                        "service" => service,
                        "table" => table,
                    )
                    .increment(deleted);
                    tracing::info!(service, table, deleted, "deleted expired rows");
                }
                Err(error) => tracing::warn!(
                    service,
                    table,
                    error = %format!("{error:#}"),
                    "cannot delete expired rows"
                ),
            }
        }
    }
}
