//! The client address behind a trusted proxy (issue 10, item 7): only the entry the proxy
//! appended counts, only from a configured proxy, only when it is an IP address, and an IPv6
//! client is one client per /64.

use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::SendCodeRequest;
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::verification_service_client::VerificationServiceClient;
use tonic::Code;
use tonic::transport::Channel as Connection;
use tonic_types::StatusExt;

use crate::support::{Backends, TestConfig, TestPlatform, in_both_modes, unique_phone_number};

/// A platform where one client address gets `per_hour` sends and the header is believed from
/// the test client (the support's default trusted proxy, 127.0.0.1/32).
fn config(backends: Backends, per_hour: u32) -> TestConfig {
    TestConfig::new(backends)
        .with_value("verification.captcha.risk_threshold", 1000)
        .with_value("verification.limits.client_per_hour", per_hour)
        .with_value("verification.trusted_proxy_header", "x-forwarded-for")
}

/// Whether a send with these `x-forwarded-for` lines passes the per-client limit.
async fn allowed(client: &mut VerificationServiceClient<Connection>, lines: &[&str]) -> bool {
    let mut request = tonic::Request::new(SendCodeRequest {
        target: Some(Target::Destination(unique_phone_number())),
        channel: Channel::Sms.into(),
        purpose: Purpose::PasswordReset.into(),
        locale: "en".into(),
        captcha: None,
    });
    for line in lines {
        let value = line.parse().unwrap();
        request.metadata_mut().append("x-forwarded-for", value);
    }
    match client.send_code(request).await {
        Ok(_) => true,
        Err(status) => {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            let details = status.get_error_details();
            let quota = details.quota_failure().unwrap();
            assert_eq!(quota.violations[0].subject, "client per hour");
            false
        }
    }
}

/// With two header lines, the client wrote the first; the proxy appended the last.
async fn the_last_header_line_counts(backends: Backends) {
    let platform = TestPlatform::start_with(config(backends, 1)).await;
    let mut client = platform.verification().await;
    assert!(allowed(&mut client, &["198.51.100.1", "203.0.113.1"]).await);
    assert!(
        allowed(&mut client, &["198.51.100.1", "203.0.113.2"]).await,
        "the client-written first line is not the client"
    );
    assert!(!allowed(&mut client, &["198.51.100.2", "203.0.113.1"]).await);
    platform.stop().await;
}

/// A value that is not an IP address is not used: the peer address counts instead.
async fn non_ip_values_are_not_used(backends: Backends) {
    let platform = TestPlatform::start_with(config(backends, 1)).await;
    let mut client = platform.verification().await;
    assert!(allowed(&mut client, &["not-an-address"]).await);
    assert!(
        !allowed(&mut client, &["203.0.113.1, anything-else"]).await,
        "both garbled values fall back to the same peer address"
    );
    assert!(allowed(&mut client, &["203.0.113.1"]).await);
    platform.stop().await;
}

/// 25 addresses of one IPv6 /64 share one client's budget; another /64 has its own.
async fn one_ipv6_64_is_one_client(backends: Backends) {
    let platform = TestPlatform::start_with(config(backends, 4)).await;
    let mut client = platform.verification().await;
    let mut passed = 0;
    for host in 1..=25 {
        let address = format!("2001:db8:7:8:{host:x}::{host:x}");
        passed += usize::from(allowed(&mut client, &[&address]).await);
    }
    assert_eq!(passed, 4);
    assert!(allowed(&mut client, &["2001:db8:7:9::1"]).await);
    platform.stop().await;
}

/// A header from a peer outside the trusted proxies is ignored: the peer address counts.
async fn an_untrusted_peers_header_is_ignored(backends: Backends) {
    let config = config(backends, 1).with_value("verification.trusted_proxies", ["10.0.0.0/8"]);
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;
    assert!(allowed(&mut client, &["203.0.113.1"]).await);
    assert!(!allowed(&mut client, &["203.0.113.2"]).await);
    platform.stop().await;
}

in_both_modes!(
    the_last_header_line_counts,
    non_ip_values_are_not_used,
    one_ipv6_64_is_one_client,
    an_untrusted_peers_header_is_ignored,
);
