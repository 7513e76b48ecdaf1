//! A member that holds no partitions while its group has messages waiting: the broker left it
//! out (tansu 0.6.0 keeps a SIGKILLed member in the group and hands its replacement nothing;
//! see the README's "Kafka consumer groups"), so nothing is consumed though the service looks
//! healthy. It is made visible: a gauge, a warning, and [`starved_groups`] for readiness.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Gauge;

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
