//! Gauges read from a service's own database every few seconds: how much waits in its outbox
//! and for how long (a stuck relay), how much was dead-lettered, and how busy its pool is.

use std::time::Duration;

use mi_contracts::UnixMillis;
use tokio_util::sync::CancellationToken;

use crate::db::Database;

/// Samples the gauges of `service` every `interval` until `shutdown`. A failed read is logged
/// at debug and leaves the last values: readiness reports an unreachable database.
pub(crate) async fn sample_service(
    service: &'static str,
    database: Database,
    interval: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        sample_pool(service, &database);
        if let Err(error) = sample_outbox(service, &database).await {
            tracing::debug!(
                service,
                error = format!("{error:#}"),
                "cannot sample the outbox"
            );
        }
    }
}

fn sample_pool(service: &'static str, database: &Database) {
    let pool = database.pool();
    let idle = pool.num_idle() as f64;
    let open = f64::from(pool.size());
    metrics::gauge!("mi_db_pool_connections", "service" => service, "state" => "in_use")
        .set(open - idle);
    metrics::gauge!("mi_db_pool_connections", "service" => service, "state" => "idle").set(idle);
    metrics::gauge!("mi_db_pool_max_connections", "service" => service)
        .set(f64::from(pool.options().get_max_connections()));
}

async fn sample_outbox(service: &'static str, database: &Database) -> anyhow::Result<()> {
    let (rows, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox")
            .fetch_one(database.pool())
            .await?;
    let dead_letters: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox_dead_letters")
        .fetch_one(database.pool())
        .await?;
    let age = oldest.map_or(Duration::ZERO, |created_at| {
        UnixMillis::now().duration_since(UnixMillis::from_i64(created_at))
    });
    metrics::gauge!("mi_outbox_rows", "service" => service).set(rows as f64);
    metrics::gauge!("mi_outbox_oldest_age_seconds", "service" => service).set(age.as_secs_f64());
    metrics::gauge!("mi_outbox_dead_letters", "service" => service).set(dead_letters as f64);
    Ok(())
}
