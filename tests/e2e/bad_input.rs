//! Bad input gets a clear error and changes nothing: INVALID_ARGUMENT with field violations,
//! RESOURCE_EXHAUSTED with retry info, NOT_FOUND; no row stored, no message sent.

use std::time::Duration;

use crate::support::{Backends, TestPlatform, unique_phone_number};
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::{CheckCodeRequest, SendCodeRequest};
use tonic::Code;
use tonic_types::StatusExt;

pub(crate) fn request(destination: &str, channel: i32, purpose: i32) -> SendCodeRequest {
    SendCodeRequest {
        target: Some(Target::Destination(destination.to_owned())),
        channel,
        purpose,
        locale: String::new(),
        captcha: None,
    }
}

pub(crate) async fn stored_rows(platform: &TestPlatform, table: &str) -> i64 {
    let database = platform.config.database("verification").await;
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(database.pool())
        .await
        .unwrap()
}

async fn invalid_sends_name_the_field_and_store_nothing(platform: &TestPlatform) {
    let sms = i32::from(Channel::Sms);
    let email = i32::from(Channel::Email);
    let sign_up = i32::from(Purpose::SignUp);
    let cases = [
        (request("", sms, sign_up), vec!["destination"]),
        (request("   ", email, sign_up), vec!["destination"]),
        (request("13800138000", sms, sign_up), vec!["destination"]),
        (request("+86 12", sms, sign_up), vec!["destination"]),
        (
            request("+8613800138000", email, sign_up),
            vec!["destination"],
        ),
        (request("not-an-email", email, sign_up), vec!["destination"]),
        (request("+8613800138000", 0, sign_up), vec!["channel"]),
        (request("+8613800138000", 99, sign_up), vec!["channel"]),
        (request("+8613800138000", sms, 0), vec!["purpose"]),
        (request("+8613800138000", sms, 42), vec!["purpose"]),
        (request("", 0, 0), vec!["channel", "purpose", "destination"]),
    ];
    let mut client = platform.verification().await;
    for (request, expected_fields) in cases {
        let described = format!("{request:?}");
        let status = client.send_code(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{described}");
        let details = status.get_error_details();
        let fields: Vec<&str> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, expected_fields, "{described}");
    }
    assert_eq!(stored_rows(platform, "verifications").await, 0);
    assert_eq!(stored_rows(platform, "outbox").await, 0);
}

async fn invalid_checks_are_refused(platform: &TestPlatform) {
    let mut client = platform.verification().await;
    let cases = [
        (
            CheckCodeRequest {
                verification_id: String::new(),
                code: "123456".into(),
            },
            "verification_id",
        ),
        (
            CheckCodeRequest {
                verification_id: "nope".into(),
                code: "123456".into(),
            },
            "verification_id",
        ),
        (
            CheckCodeRequest {
                verification_id: uuid_like(),
                code: "12345".into(),
            },
            "code",
        ),
        (
            CheckCodeRequest {
                verification_id: uuid_like(),
                code: "abcdef".into(),
            },
            "code",
        ),
    ];
    for (request, field) in cases {
        let status = client.check_code(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status
                .get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            field
        );
    }
    let unknown = client
        .check_code(CheckCodeRequest {
            verification_id: uuid_like(),
            code: "123456".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

fn uuid_like() -> String {
    "01890a5d-ac96-774b-bcce-b302099a8057".into()
}

/// A second send inside the cooldown is refused with retry info, stores nothing and sends nothing.
async fn too_many_sends_are_refused_with_retry_info(platform: &TestPlatform) {
    let destination = unique_phone_number();
    let send = request(
        &destination,
        Channel::Sms.into(),
        Purpose::PasswordReset.into(),
    );
    let mut client = platform.verification().await;
    client.send_code(send.clone()).await.unwrap();
    let refused = client.send_code(send).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let details = refused.get_error_details();
    let retry_delay = details.retry_info().unwrap().retry_delay.unwrap();
    assert!(
        retry_delay > Duration::from_secs(50) && retry_delay <= Duration::from_secs(60),
        "{retry_delay:?}"
    );
    assert_eq!(
        details.quota_failure().unwrap().violations[0].subject,
        "destination per minute"
    );

    assert_eq!(
        stored_rows(platform, "verifications").await,
        1,
        "the refused send stored a row"
    );
    platform.wait_for_inbox(&destination, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        platform.inbox(&destination).await.len(),
        1,
        "the refused send produced a message"
    );
}

async fn run_all(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    invalid_sends_name_the_field_and_store_nothing(&platform).await;
    invalid_checks_are_refused(&platform).await;
    too_many_sends_are_refused_with_retry_info(&platform).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_in_embedded_mode() {
    run_all(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_postgres_kafka_redis() {
    run_all(Backends::Servers).await;
}
