//! What an on-call engineer relies on: an open health `Watch` stream does not hold a shutdown,
//! which ends within the grace with NOT_SERVING sent first; and the Prometheus endpoint shows
//! each RPC by method and status code and the services' gauges, in a form
//! `promtool check metrics` accepts.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mi_proto::common::v1::Channel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{
    Backends, TestConfig, TestPlatform, channel, in_both_modes, unique_phone_number,
};

/// The default `lifecycle.shutdown_grace`.
const GRACE: Duration = Duration::from_secs(10);

async fn an_open_watch_does_not_hold_the_shutdown(backends: Backends) {
    // Readiness checked once at start only: a check slowed past its interval by a loaded
    // machine would send the watcher a NOT_SERVING of its own.
    let config = TestConfig::new(backends).with_value("lifecycle.readiness_interval", "1h");
    let platform = TestPlatform::start_with(config).await;
    let mut health = HealthClient::new(channel(platform.addresses.verification).await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "mi.verification.v1.VerificationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, i32::from(ServingStatus::Serving));

    let started = Instant::now();
    platform.stop().await;
    let took = started.elapsed();
    assert!(
        took < GRACE,
        "shutdown took {took:?} with a Watch stream open"
    );

    let mut statuses = Vec::new();
    while let Ok(Some(message)) = watch.message().await {
        statuses.push(message.status);
    }
    assert_eq!(
        statuses,
        [i32::from(ServingStatus::NotServing)],
        "the watcher is told NOT_SERVING, then its stream ends"
    );
}

async fn metrics_show_each_rpc_and_pass_promtool(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_value("metrics.listen_addr", "127.0.0.1:0")
        .with_value("lifecycle.readiness_interval", "250ms");
    let platform = TestPlatform::start_with(config).await;
    let address = platform.metrics_address.expect("metrics are on");
    let sent = platform.sign_up(&unique_phone_number(), Channel::Sms).await;
    let refused = platform
        .check(&sent.verification_id, "x")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    let verification = ("grpc_service", "mi.verification.v1.VerificationService");
    let wanted: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "grpc_server_handled_total",
            vec![
                verification,
                ("grpc_method", "SendCode"),
                ("grpc_code", "OK"),
            ],
        ),
        (
            "grpc_server_handled_total",
            vec![
                verification,
                ("grpc_method", "CheckCode"),
                ("grpc_code", "INVALID_ARGUMENT"),
            ],
        ),
        (
            "grpc_server_handling_seconds_bucket",
            vec![verification, ("grpc_method", "SendCode"), ("le", "+Inf")],
        ),
        ("mi_outbox_rows", vec![("service", "verification")]),
        (
            "mi_db_pool_connections",
            vec![("service", "notification"), ("state", "in_use")],
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = scrape(address).await;
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(name, labels)| !has_sample(&text, name, labels))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "missing {missing:?} in the scrape:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    promtool_accepts(&text).await;
    platform.stop().await;
}

/// `GET /metrics` over plain HTTP/1.0.
async fn scrape(address: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    body.to_owned()
}

/// Whether a sample of `name` has all of `labels`.
fn has_sample(text: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    text.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            && labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
    })
}

/// Fails unless `promtool check metrics` (the Debian package `prometheus`, which
/// `scripts/test` installs when missing) accepts the exposition, lint included.
async fn promtool_accepts(text: &str) {
    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed: apt-get install prometheus (scripts/test does)");
    let mut stdin = promtool.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let output = promtool.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics refused the scrape:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

in_both_modes!(
    an_open_watch_does_not_hold_the_shutdown,
    metrics_show_each_rpc_and_pass_promtool
);
