//! The metrics of the event path that the alerts and the dashboard read, for the code that
//! knows the figures to record them under one set of names: the consumers (lag, starving,
//! dead letters) and notification's delivery (results per channel and provider).

/// How far `group` is behind the end of `topic`'s `partition`, in messages: the high-water
/// mark minus the committed position. Alerted on as `MiConsumerLag`.
pub fn consumer_lag(group: &str, topic: &str, partition: i32, lag: i64) {
    metrics::gauge!(
        "mi_consumer_lag_messages",
        "group" => group.to_owned(),
        "topic" => topic.to_owned(),
        "partition" => partition.to_string(),
    )
    .set(lag.max(0) as f64);
}

/// Messages waiting for `group` while its member in this process holds none of the
/// partitions (`crate::consumer` calls it starving); 0 when it holds some or nothing waits.
pub fn consumer_lag_without_partitions(group: &str, waiting: i64) {
    metrics::gauge!(
        "mi_consumer_lag_without_partitions_messages",
        "group" => group.to_owned(),
    )
    .set(waiting.max(0) as f64);
}

/// One event `group` gave up on and sent to its dead-letter topic. Alerted on as
/// `MiConsumerDeadLetters`.
pub fn consumer_dead_lettered(group: &str) {
    metrics::counter!("mi_consumer_dead_letters_total", "group" => group.to_owned()).increment(1);
}

/// One message handed to a provider: `channel` (`email`, `sms`, `voice`), `provider` (`smtp`,
/// `http`, `dev-inbox`) and `result` (`delivered`, `refused`, `failed`).
pub fn delivery(channel: &'static str, provider: &'static str, result: &'static str) {
    metrics::counter!(
        "mi_deliveries_total",
        "channel" => channel,
        "provider" => provider,
        "result" => result,
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn each_is_recorded_under_its_name_and_labels() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            super::consumer_lag("notification", "verification.events", 3, 42);
            super::consumer_lag("notification", "verification.events", 4, -1);
            super::consumer_lag_without_partitions("notification", 7);
            super::consumer_dead_lettered("notification");
            super::delivery("sms", "http", "delivered");
        });
        let text = handle.render();
        for line in [
            r#"mi_consumer_lag_messages{group="notification",topic="verification.events",partition="3"} 42"#,
            r#"mi_consumer_lag_messages{group="notification",topic="verification.events",partition="4"} 0"#,
            r#"mi_consumer_lag_without_partitions_messages{group="notification"} 7"#,
            r#"mi_consumer_dead_letters_total{group="notification"} 1"#,
            r#"mi_deliveries_total{channel="sms",provider="http",result="delivered"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
