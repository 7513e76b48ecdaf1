//! Watches a consumer's group from beside it: every `consumer.lag_interval`, its lag per
//! partition it holds (`mi_consumer_lag_messages{group, topic, partition}`) and whether it
//! starves with none (`starved.rs`). A task of its own, so that a handler stuck on one event
//! does not freeze the figures that would show it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::starved;
use crate::bus::LagProbe;
use crate::metrics::events::consumer_lag;

/// Measures until `stop`, then forgets what it reported for `group`.
pub(super) async fn watch(
    probe: Arc<dyn LagProbe>,
    group: String,
    every: Duration,
    stop: CancellationToken,
) {
    // The first measurement after one period: a member that just joined holds nothing yet.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut held = BTreeSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        record_assigned(&*probe, &group, &mut held).await;
        starved::check(&*probe, &group).await;
    }
    release(&group, &held);
    starved::forget(&group);
}

/// Records the lag of every partition the member holds; `held` is what it held at the last
/// measurement.
async fn record_assigned(probe: &dyn LagProbe, group: &str, held: &mut BTreeSet<(String, i32)>) {
    let lags = match probe.assigned_lag().await {
        Ok(lags) => lags,
        Err(error) => {
            tracing::debug!(
                group,
                error = format!("{error:#}"),
                "cannot measure the consumer lag"
            );
            return;
        }
    };
    let now_held: BTreeSet<(String, i32)> = lags
        .iter()
        .map(|lag| (lag.topic.clone(), lag.partition))
        .collect();
    release(group, &held.difference(&now_held).cloned().collect());
    for lag in &lags {
        consumer_lag(group, &lag.topic, lag.partition, lag.messages);
    }
    *held = now_held;
}

/// Zeroes the gauges of partitions this member no longer holds: their new holder reports
/// them, and a stale figure here would be added to its figure in the alert's sum.
fn release(group: &str, partitions: &BTreeSet<(String, i32)>) {
    for (topic, partition) in partitions {
        consumer_lag(group, topic, *partition, 0);
    }
}
