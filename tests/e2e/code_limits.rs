//! Verification code limits over gRPC: per client, per destination and per country, the
//! country guard, per-client check limits, and bursts that must not get past a limit.

use std::time::Duration;

use crate::codes::{quota_subject, request};
use crate::support::{Backends, TestConfig, TestPlatform, reason, unique_phone_number};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel, Purpose};
use tonic::Code;
use tonic_types::StatusExt;

/// Per-client, per-destination and country limits, and a concurrent burst that must not get
/// past a limit; refused sends store nothing.
async fn limits_hold(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_value("verification.captcha.risk_threshold", 1000)
        .with_value("verification.limits.client_per_hour", 4)
        .with_value("verification.limits.checks_per_client_per_hour", 3)
        .with_value("verification.trusted_proxy_header", "x-forwarded-for")
        .with_value("verification.countries.denied", vec!["IN"]);
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;

    // Twenty clients race for one destination: exactly one send passes the cooldown.
    let destination = unique_phone_number();
    let racers = (0..20).map(|index| {
        let mut client = client.clone();
        let mut request =
            tonic::Request::new(request(&destination, Channel::Sms, Purpose::PasswordReset));
        request.metadata_mut().insert(
            "x-forwarded-for",
            format!("198.51.100.{index}").parse().unwrap(),
        );
        tokio::spawn(async move { client.send_code(request).await })
    });
    let mut passed = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => passed += 1,
            Err(status) => assert_eq!(quota_subject(&status), "destination per minute"),
        }
    }
    assert_eq!(passed, 1);
    let database = platform.config.database("verification").await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM verifications")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1, "refused sends store nothing");

    // One client address (the last x-forwarded-for entry) gets 4 sends an hour.
    let from = |address: &str, destination: String| {
        let mut request =
            tonic::Request::new(request(&destination, Channel::Sms, Purpose::PasswordReset));
        request.metadata_mut().insert(
            "x-forwarded-for",
            format!("10.9.9.9, {address}").parse().unwrap(),
        );
        request
    };
    for _ in 0..4 {
        client
            .send_code(from("203.0.113.7", unique_phone_number()))
            .await
            .unwrap();
    }
    let refused = client
        .send_code(from("203.0.113.7", unique_phone_number()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(quota_subject(&refused), "client per hour");
    client
        .send_code(from("203.0.113.8", unique_phone_number()))
        .await
        .unwrap();

    let denied = client
        .send_code(from("203.0.113.9", "+919876543210".into()))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::FailedPrecondition);
    assert_eq!(reason(&denied), Some(Reason::CountryNotSupported));

    // Code checks from one client are limited too.
    for _ in 0..3 {
        let wrong = platform
            .check("01890a5d-ac96-774b-bcce-b302099a8057", "123456")
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::NotFound);
    }
    let limited = platform
        .check("01890a5d-ac96-774b-bcce-b302099a8057", "123456")
        .await
        .unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    assert!(limited.get_error_details().retry_info().is_some());
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_in_embedded_mode() {
    limits_hold(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_on_redis() {
    limits_hold(Backends::Servers).await;
}

/// The send limits are one group of keys (one hash tag, so one slot); the check limits of
/// each client hash apart, over the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_on_a_redis_cluster() {
    limits_hold(Backends::ServersWithRedisCluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_get_at_most_the_hourly_number_of_codes() {
    let config = TestConfig::new(Backends::Servers)
        .with_value("verification.limits.send_cooldown", "10ms")
        .with_value("verification.limits.destination_per_hour", 2)
        .with_value("verification.captcha.risk_threshold", 1000);
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;
    let destination = unique_phone_number();
    for _ in 0..2 {
        client
            .send_code(request(&destination, Channel::Voice, Purpose::DeviceAction))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = client
        .send_code(request(&destination, Channel::Sms, Purpose::DeviceAction))
        .await
        .unwrap_err();
    assert_eq!(quota_subject(&refused), "destination per hour");
    let retry = refused
        .get_error_details()
        .retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(retry > Duration::from_secs(3500), "{retry:?}");
    platform.stop().await;
}
