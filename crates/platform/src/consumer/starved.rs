//! A member that holds no partitions while its group has messages waiting: the broker left it
//! out (tansu 0.6.0 keeps a SIGKILLed member in the group and hands its replacement nothing),
//! or another member holds them all and is stuck in its handler; see the README's "Kafka
//! consumer groups". Nothing is consumed though the service looks healthy, so it is made
//! visible: a gauge, a warning, and [`starved_groups`] for readiness.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::bus::LagProbe;

/// How often the health entry follows [`starved_groups`]: reading it costs nothing; the
/// measurement behind it runs every `consumer.lag_interval`.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// The groups of this process that starve now, with their waiting messages.
static STARVED: LazyLock<Mutex<BTreeMap<String, i64>>> = LazyLock::new(Mutex::default);

/// Groups of this process whose member holds no partitions while messages wait for them, with
/// how many wait: a readiness probe reports them.
pub fn starved_groups() -> BTreeMap<String, i64> {
    STARVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The `grpc.health.v1` entry that reports this process's consumers: NOT_SERVING while one of
/// them holds no partitions though its group has messages waiting, SERVING otherwise.
pub const HEALTH_SERVICE: &str = "mi.consumers";

/// Keeps [`HEALTH_SERVICE`] in `reporter` in step with [`starved_groups`] until `shutdown`.
pub async fn report_in_health(reporter: HealthReporter, shutdown: CancellationToken) {
    let mut reported = None;
    loop {
        let status = if starved_groups().is_empty() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        // Changes only: every update wakes the entry's `Watch` streams.
        if reported != Some(status) {
            reporter.set_service_status(HEALTH_SERVICE, status).await;
            reported = Some(status);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(HEALTH_EVERY) => {}
        }
    }
}

/// Asks `probe` whether its member starves and records the answer.
pub(super) async fn check(probe: &dyn LagProbe, group: &str) {
    let lag = match probe.lag_without_partitions().await {
        Ok(lag) => lag,
        Err(error) => {
            tracing::debug!(
                group,
                error = format!("{error:#}"),
                "cannot measure the group's lag"
            );
            return;
        }
    };
    crate::metrics::events::consumer_lag_without_partitions(group, lag.unwrap_or_default());
    let mut starved = STARVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match lag {
        Some(waiting) => {
            tracing::warn!(
                group,
                waiting,
                "this consumer holds no partitions while messages wait for its group: the broker \
                 has not expired a dead member, gave this one nothing, or another member is stuck; \
                 see the README's Kafka consumer groups"
            );
            starved.insert(group.to_owned(), waiting);
        }
        None => {
            starved.remove(group);
        }
    }
}

/// Drops `group` from [`starved_groups`]: its member here has left.
pub(super) fn forget(group: &str) {
    crate::metrics::events::consumer_lag_without_partitions(group, 0);
    STARVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(group);
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::bus::PartitionLag;

    /// A probe that reports a fixed lag without partitions.
    struct Lagging(Option<i64>);

    #[async_trait]
    impl LagProbe for Lagging {
        async fn assigned_lag(&self) -> anyhow::Result<Vec<PartitionLag>> {
            Ok(Vec::new())
        }

        async fn lag_without_partitions(&self) -> anyhow::Result<Option<i64>> {
            Ok(self.0)
        }
    }

    #[tokio::test]
    async fn a_starving_member_is_listed_until_it_gets_partitions() {
        let group = "starved-test.group";
        check(&Lagging(Some(42)), group).await;
        assert_eq!(starved_groups().get(group), Some(&42));
        check(&Lagging(None), group).await;
        assert_eq!(starved_groups().get(group), None);
    }
}
