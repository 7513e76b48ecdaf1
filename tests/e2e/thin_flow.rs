//! The thin flow across every part: SendCode → outbox → bus → notification → dev inbox →
//! CheckCode, in embedded mode and on PostgreSQL + Kafka + Redis.

use crate::support::{
    Backends, TestConfig, TestPlatform, code_in, error_metadata, reason, unique_email,
    unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::events;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::events::v1::VerificationLocked;
use mi_proto::verification::v1::CheckCodeRequest;
use tonic::Code;
use tonic_types::StatusExt;

/// A code reaches the inbox, a wrong code is refused, the right one is accepted exactly once.
async fn code_travels_to_the_inbox_and_checks_once(
    platform: &TestPlatform,
    destination: &str,
    channel: Channel,
) {
    let sent = platform.sign_up(destination, channel).await;
    let expire = sent.expire_time.unwrap().seconds;
    let resend = sent.resend_time.unwrap().seconds;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (590..=601).contains(&(expire - now)),
        "code valid for {}s",
        expire - now
    );
    assert!(
        (55..=61).contains(&(resend - now)),
        "resend allowed in {}s",
        resend - now
    );

    let messages = platform.wait_for_inbox(destination, 1).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.destination, destination);
    assert!(message.body.contains("10 minutes"), "{}", message.body);
    let code = code_in(message);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = platform
        .check(&sent.verification_id, wrong)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), Some(Reason::CodeMismatch));
    let violations = refused
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .clone();
    assert_eq!(violations[0].field, "code");
    assert!(
        violations[0].description.contains("4 attempts left"),
        "{}",
        violations[0].description
    );
    assert_eq!(
        error_metadata(&refused, "attempts_left").as_deref(),
        Some("4")
    );

    let approved = platform
        .verification()
        .await
        .check_code(CheckCodeRequest {
            verification_id: sent.verification_id.clone(),
            code: code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.destination, destination);
    assert_eq!(approved.purpose, i32::from(Purpose::SignUp));

    let again = platform
        .check(&sent.verification_id, &code)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), Some(Reason::VerificationAlreadyApproved));
}

/// Five wrong codes lock the verification; even the right code is refused afterwards.
async fn wrong_codes_lock_the_verification(platform: &TestPlatform) {
    let destination = unique_phone_number();
    let sent = platform.sign_up(&destination, Channel::Sms).await;
    let code = code_in(&platform.wait_for_inbox(&destination, 1).await[0]);
    let wrong = if code == "999999" { "888888" } else { "999999" };
    for _ in 0..4 {
        let refused = platform
            .check(&sent.verification_id, wrong)
            .await
            .unwrap_err();
        assert_eq!(reason(&refused), Some(Reason::CodeMismatch));
    }
    let locked = platform
        .check(&sent.verification_id, wrong)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), Code::FailedPrecondition);
    assert_eq!(reason(&locked), Some(Reason::VerificationLocked));
    let still_locked = platform
        .check(&sent.verification_id, &code)
        .await
        .unwrap_err();
    assert_eq!(reason(&still_locked), Some(Reason::VerificationLocked));
    let locked_event = platform
        .first_event("verification.events", |event| {
            event.aggregate_id == sent.verification_id
                && events::payload::<VerificationLocked>(event).is_some()
        })
        .await;
    let locked_event: VerificationLocked = events::payload(&locked_event).unwrap().unwrap();
    assert_eq!(
        (locked_event.destination, locked_event.attempts),
        (destination, 5)
    );
}

async fn thin_flow(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    code_travels_to_the_inbox_and_checks_once(&platform, &unique_phone_number(), Channel::Sms)
        .await;
    code_travels_to_the_inbox_and_checks_once(&platform, &unique_email(), Channel::Email).await;
    wrong_codes_lock_the_verification(&platform).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thin_flow_in_embedded_mode() {
    thin_flow(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thin_flow_on_postgres_kafka_redis() {
    thin_flow(Backends::Servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_refused() {
    let config = TestConfig::new(Backends::Embedded).with_value("verification.code_ttl", "1s");
    let platform = TestPlatform::start_with(config).await;
    let destination = unique_phone_number();
    let sent = platform.sign_up(&destination, Channel::Sms).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = platform
        .check(&sent.verification_id, "123456")
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::FailedPrecondition);
    assert_eq!(reason(&expired), Some(Reason::VerificationExpired));
    platform.stop().await;
}
