//! Prometheus metrics: one scrape endpoint per process (`metrics.listen_addr`, off by
//! default), fed through the `metrics` facade by every part of the platform.
//!
//! Names follow the Prometheus conventions (base units, `_total` counters) and, for RPCs, the
//! labels of go-grpc-prometheus, which dashboards and alerts commonly expect:
//! - `grpc_server_handled_total{grpc_service, grpc_method, grpc_code}` and
//!   `grpc_server_handling_seconds` (histogram): rate, errors and duration per RPC (`rpc.rs`);
//! - `mi_outbox_rows`, `mi_outbox_oldest_age_seconds`, `mi_outbox_dead_letters`,
//!   `mi_db_pool_connections{state}`, `mi_db_pool_max_connections`: sampled per service
//!   (`sample.rs`);
//! - `mi_worker_jobs{pool, state}`: password hashing waiting and running (`mi_workers`);
//! - consumer lag, consumer dead letters and delivery results, recorded through `events.rs`;
//! - `mi_retention_deleted_rows_total{service, table}`: rows the retention job deleted
//!   (`crate::retention`).

mod endpoint;
pub mod events;
mod rpc;
mod sample;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use self::endpoint::serve_endpoint;
pub(crate) use self::rpc::{RpcObserverLayer, split_path as split_rpc_path};
pub(crate) use self::sample::sample_service;

/// Histogram buckets of RPC durations, in seconds: from a cache hit to a slow Argon2 sign-in.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed on first use; later calls (tests start many platforms
/// in one process) share it.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &DURATION_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        handle
    })
}

/// The help text of each metric, which Prometheus shows and `promtool check metrics` requires.
fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(
        "grpc_server_handled_total",
        "RPCs completed on the server, by service, method and gRPC status code"
    );
    metrics::describe_histogram!(
        "grpc_server_handling_seconds",
        Unit::Seconds,
        "time from an RPC's request to the end of its response, by service and method"
    );
    metrics::describe_gauge!(
        "mi_outbox_rows",
        "events written to the service's outbox and not yet published"
    );
    metrics::describe_gauge!(
        "mi_outbox_oldest_age_seconds",
        Unit::Seconds,
        "age of the oldest event not yet published from the outbox; 0 when none waits"
    );
    metrics::describe_gauge!(
        "mi_outbox_dead_letters",
        "outbox events the bus refused for what they are, parked in outbox_dead_letters"
    );
    metrics::describe_gauge!(
        "mi_db_pool_connections",
        "connections of the service's database pool, in use or idle"
    );
    metrics::describe_gauge!(
        "mi_consumer_lag_messages",
        "messages a consumer group is behind the end of a partition"
    );
    metrics::describe_gauge!(
        "mi_consumer_lag_without_partitions_messages",
        "messages waiting for a consumer group while its member in this process holds none of its partitions"
    );
    metrics::describe_counter!(
        "mi_consumer_dead_letters_total",
        "events a consumer group gave up on and sent to its dead-letter topic"
    );
    metrics::describe_counter!(
        "mi_deliveries_total",
        "messages handed to a provider, by channel, provider and result"
    );
    metrics::describe_gauge!(
        "mi_worker_jobs",
        "password hashing jobs waiting for a worker or running, by pool (cpu threads or worker processes)"
    );
    metrics::describe_counter!(
        "mi_retention_deleted_rows_total",
        "rows the retention job deleted once they were of no further use, by service and table"
    );
    metrics::describe_gauge!(
        "mi_db_pool_max_connections",
        "the most connections the service's database pool opens"
    );
}
