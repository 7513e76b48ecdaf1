//! A member that holds no partitions while its group has messages waiting: the broker left it
//! out (tansu 0.6.0 keeps a SIGKILLed member in the group and hands its replacement nothing;
//! see the README's "Kafka consumer groups"), so nothing is consumed though the service looks
//! healthy. It is made visible: a gauge, a warning, and [`starved_groups`] for readiness.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Gauge;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::bus::Subscription;

/// How often a consumer asks whether it starves: a local call while it holds partitions, a
/// few broker round trips when it holds none.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(15);

/// Messages waiting for a group whose member here holds no partitions, by group; 0 otherwise.
static LAG_WITHOUT_PARTITIONS: LazyLock<Gauge<u64>> = LazyLock::new(|| {
    opentelemetry::global::meter("mi-platform")
        .u64_gauge("mi.consumer.lag_without_partitions")
        .with_description(
            "messages waiting for the group while this member holds none of its partitions",
        )
        .build()
});

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
    loop {
        let status = if starved_groups().is_empty() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status(HEALTH_SERVICE, status).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

/// Asks `subscription` whether it starves and records the answer.
pub(super) async fn check(subscription: &mut dyn Subscription, group: &str) {
    let lag = match subscription.lag_without_partitions().await {
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
    let waiting = lag.unwrap_or_default();
    LAG_WITHOUT_PARTITIONS.record(
        u64::try_from(waiting).unwrap_or_default(),
        &[KeyValue::new("group", group.to_owned())],
    );
    let mut starved = STARVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match lag {
        Some(waiting) => {
            tracing::warn!(
                group,
                waiting,
                "this consumer holds no partitions while messages wait for its group: the broker \
                 has not expired a dead member or gave this one nothing; see the README's Kafka \
                 consumer groups"
            );
            starved.insert(group.to_owned(), waiting);
        }
        None => {
            starved.remove(group);
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::bus::Delivery;

    /// A subscription that reports a fixed lag without partitions.
    struct Lagging(Option<i64>);

    #[async_trait]
    impl Subscription for Lagging {
        async fn next(&mut self) -> anyhow::Result<Delivery> {
            std::future::pending().await
        }

        async fn commit(&mut self, _delivery: &Delivery) -> anyhow::Result<()> {
            Ok(())
        }

        async fn lag_without_partitions(&mut self) -> anyhow::Result<Option<i64>> {
            Ok(self.0)
        }

        async fn close(self: Box<Self>) -> anyhow::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_starving_member_is_listed_until_it_gets_partitions() {
        let group = "starved-test.group";
        check(&mut Lagging(Some(42)), group).await;
        assert_eq!(starved_groups().get(group), Some(&42));
        check(&mut Lagging(None), group).await;
        assert_eq!(starved_groups().get(group), None);
    }
}
