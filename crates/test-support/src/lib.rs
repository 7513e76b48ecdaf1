//! Helpers for tests that run against real servers: where the servers are, and a loud failure
//! naming what to start when one is not reachable. Tests never skip silently.
//!
//! A dev-dependency only (and a dependency of the end-to-end test crate), so none of this is
//! compiled into a service.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// PostgreSQL server URL: `MI_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432`.
pub fn postgres_url() -> String {
    let url = std::env::var("MI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    require_reachable(host_port(&url), "PostgreSQL", "MI_TEST_POSTGRES_URL");
    url
}

/// Kafka bootstrap servers: `MI_TEST_KAFKA_BROKERS`, default `127.0.0.1:19092` (tansu).
pub fn kafka_brokers() -> String {
    let brokers =
        std::env::var("MI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    require_reachable(&first, "Kafka (tansu)", "MI_TEST_KAFKA_BROKERS");
    brokers
}

/// Redis URL: `MI_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    let url =
        std::env::var("MI_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    require_reachable(host_port(&url), "Redis", "MI_TEST_REDIS_URL");
    url
}

/// A three-node Redis Cluster's node URLs: `MI_TEST_REDIS_CLUSTER_URLS` (comma-separated),
/// default `redis://127.0.0.1:7101` to `7103` (scripts/test starts such a cluster).
pub fn redis_cluster_urls() -> Vec<String> {
    let urls = std::env::var("MI_TEST_REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
        "redis://127.0.0.1:7101,redis://127.0.0.1:7102,redis://127.0.0.1:7103".into()
    });
    let urls: Vec<String> = urls.split(',').map(|url| url.trim().to_owned()).collect();
    for url in &urls {
        require_reachable(
            host_port(url),
            "a node of the Redis Cluster",
            "MI_TEST_REDIS_CLUSTER_URLS",
        );
    }
    urls
}

/// A name no other test run uses, for databases, topics, groups and key prefixes.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..12])
}

/// The `host:port` part of a URL such as `postgres://user@host:5432/db`.
fn host_port(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let after_user = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, rest)| rest);
    after_user.split('/').next().unwrap_or(after_user)
}

fn require_reachable(address: &str, server: &str, variable: &str) {
    let reachable = address
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .any(|socket| TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok());
    if !reachable {
        panic!(
            "{server} is not reachable at {address}. Start it (scripts/test starts PostgreSQL, Redis, a \
             three-node Redis Cluster on 127.0.0.1:7101-7103 and tansu) \
             or point {variable} at a running one."
        );
    }
}

/// Logs written on this thread while `work` runs, as text. A test on a current-thread runtime
/// sees the services' tasks log here too.
pub async fn capture_logs<T>(work: impl Future<Output = T>) -> (T, String) {
    let captured = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let output = work.await;
    (output, captured.text())
}

/// Log output kept in memory: a `tracing_subscriber` writer whose text a test then searches.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
