//! How old the oldest unpublished event is, so that an operator sees a stuck relay: a gauge,
//! and a warning while it is older than `outbox.stale_after`.

use std::sync::LazyLock;
use std::time::Duration;

use mi_contracts::UnixMillis;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Gauge;
use tokio::time::Instant;

use crate::db::Database;

/// How often the relay measures the age: often enough for an alert, rare enough to cost
/// nothing (a `MIN` over the `outbox_by_created_at` index).
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The age in milliseconds by topic, 0 when nothing waits. A no-op until a meter provider
/// with an exporter is installed.
static OLDEST_AGE: LazyLock<Gauge<u64>> = LazyLock::new(|| {
    opentelemetry::global::meter("mi-platform")
        .u64_gauge("mi.outbox.oldest_unpublished_age")
        .with_unit("ms")
        .with_description("age of the oldest event not yet published from the outbox")
        .build()
});

/// The age of the oldest row still in the outbox, `None` when it is empty.
pub(super) async fn oldest_unpublished_age(
    database: &Database,
) -> anyhow::Result<Option<Duration>> {
    let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM outbox")
        .fetch_one(database.pool())
        .await?;
    Ok(oldest.map(|created_at| UnixMillis::now().duration_since(UnixMillis::from_i64(created_at))))
}

/// When the relay next measures and next may warn.
#[derive(Debug)]
pub(super) struct AgeWatch {
    next_check: Instant,
    next_warning: Instant,
}

impl AgeWatch {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            next_check: now,
            next_warning: now,
        }
    }

    /// Whether a measurement is due.
    pub(super) fn due(&self) -> bool {
        Instant::now() >= self.next_check
    }

    /// Records a measurement; warns when the oldest event is older than `stale_after`, at
    /// most once per `stale_after`.
    pub(super) fn observe(&mut self, topic: &str, age: Option<Duration>, stale_after: Duration) {
        let now = Instant::now();
        self.next_check = now + CHECK_EVERY;
        let age = age.unwrap_or_default();
        let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
        OLDEST_AGE.record(age_ms, &[KeyValue::new("topic", topic.to_owned())]);
        if age > stale_after && now >= self.next_warning {
            self.next_warning = now + stale_after;
            tracing::warn!(
                topic,
                oldest_age_ms = age_ms,
                stale_after_ms = u64::try_from(stale_after.as_millis()).unwrap_or(u64::MAX),
                "outbox events wait longer than outbox.stale_after: the relay is stuck or the bus is down"
            );
        }
    }
}
