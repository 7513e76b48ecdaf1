//! The test CAPTCHA (issue 11): with `verification.captcha.test_mode` in embedded mode, the
//! documented answer `test-captcha` passes any CAPTCHA CreateCaptcha made, so an app team can
//! drive sign-up from its own integration tests; the switch is logged loudly, without it the
//! answer is just wrong, and server mode refuses to start with it.

use mi_contracts::Reason;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::{CaptchaAnswer, CreateCaptchaRequest, SendCodeRequest};
use mi_test_support::capture_logs;
use tonic::Code;

use crate::support::{Backends, TestConfig, TestPlatform, expect_refusal, unique_phone_number};

/// The answer README documents.
const TEST_ANSWER: &str = "test-captcha";

/// A sign-up SendCode answering a new CAPTCHA with [`TEST_ANSWER`].
async fn answered_with_the_test_answer(platform: &TestPlatform) -> SendCodeRequest {
    let captcha = platform
        .verification()
        .await
        .create_captcha(CreateCaptchaRequest {})
        .await
        .unwrap()
        .into_inner();
    SendCodeRequest {
        target: Some(Target::Destination(unique_phone_number())),
        channel: Channel::Sms.into(),
        purpose: Purpose::SignUp.into(),
        locale: "en".into(),
        captcha: Some(CaptchaAnswer {
            captcha_id: captcha.captcha_id,
            answer: TEST_ANSWER.into(),
            ..CaptchaAnswer::default()
        }),
    }
}

#[tokio::test]
async fn embedded_mode_with_the_switch_passes_the_test_answer_and_says_so() {
    let config =
        TestConfig::new(Backends::Embedded).with_value("verification.captcha.test_mode", true);
    // The services log while they start, after start_with returns: captured until they stop.
    let ((), logs) = capture_logs(async {
        let platform = TestPlatform::start_with(config).await;
        let request = answered_with_the_test_answer(&platform).await;
        let sent = platform.verification().await.send_code(request).await;
        assert!(sent.is_ok(), "{sent:?}");
        platform.stop().await;
    })
    .await;
    assert!(
        logs.lines().any(|line| line.contains("WARN")
            && line.contains("DEVELOPMENT ONLY: verification.captcha.test_mode is on")),
        "{logs}"
    );
}

#[tokio::test]
async fn without_the_switch_the_test_answer_is_wrong() {
    let platform = TestPlatform::start(Backends::Embedded).await;
    let request = answered_with_the_test_answer(&platform).await;
    expect_refusal(
        platform.verification().await.send_code(request).await,
        Code::FailedPrecondition,
        Some(Reason::CaptchaRequired),
        "the test answer without test mode",
    );
    platform.stop().await;
}

#[tokio::test]
async fn server_mode_refuses_to_start_with_the_switch() {
    let config =
        TestConfig::new(Backends::Servers).with_value("verification.captcha.test_mode", true);
    let message =
        TestPlatform::refusal_to_start(config, "the test CAPTCHA must be refused with PostgreSQL")
            .await;
    assert!(
        message.contains("MI_VERIFICATION__CAPTCHA__TEST_MODE")
            && message.contains("embedded mode only"),
        "{message}"
    );
}
