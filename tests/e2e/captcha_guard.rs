//! CAPTCHAs: CreateCaptcha is limited per client, and a third-party CAPTCHA (hCaptcha,
//! Turnstile, reCAPTCHA) can stand in for the image one, its tokens checked server-side with
//! the provider's siteverify endpoint (a local stub here).

use crate::bad_input::request;
use crate::support::providers::{GOOD_CAPTCHA_TOKEN, SiteVerifyStub};
use crate::support::{
    Backends, TestConfig, TestPlatform, in_both_modes, reason, retry_after, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::{CaptchaAnswer, CreateCaptchaRequest, SendCodeRequest};
use tonic::Code;
use tonic_types::StatusExt;

fn sign_up_with_token(token: &str) -> SendCodeRequest {
    SendCodeRequest {
        captcha: Some(CaptchaAnswer {
            provider_token: token.to_owned(),
            ..CaptchaAnswer::default()
        }),
        ..request(
            &unique_phone_number(),
            Channel::Sms.into(),
            Purpose::SignUp.into(),
        )
    }
}

async fn create_captcha_is_limited_per_client(backends: Backends) {
    let config =
        TestConfig::new(backends).with_value("verification.limits.captchas_per_client_per_hour", 3);
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;
    for _ in 0..3 {
        client
            .create_captcha(CreateCaptchaRequest {})
            .await
            .unwrap();
    }
    let refused = client
        .create_captcha(CreateCaptchaRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(
        refused
            .get_error_details()
            .quota_failure()
            .unwrap()
            .violations[0]
            .subject,
        "client captchas per hour"
    );
    assert!(retry_after(&refused).is_some_and(|delay| !delay.is_zero()));

    // Without a provider configured, a provider token proves nothing.
    let refused = client
        .send_code(sign_up_with_token(GOOD_CAPTCHA_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&refused),
        Some(Reason::CaptchaRequired),
        "{refused:?}"
    );
    platform.stop().await;
}

async fn a_provider_token_is_checked_with_the_provider(backends: Backends) {
    let stub = SiteVerifyStub::start().await;
    let config = TestConfig::new(backends)
        .with_value("verification.captcha.provider.url", &stub.url)
        .with_value("verification.captcha.provider.secret", "stub-secret");
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;

    let refused = client
        .send_code(sign_up_with_token("forged-token"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(reason(&refused), Some(Reason::CaptchaRequired));
    client
        .send_code(sign_up_with_token(GOOD_CAPTCHA_TOKEN))
        .await
        .unwrap();

    let forms = stub.forms();
    assert_eq!(forms.len(), 2, "{forms:?}");
    let last = &forms[1];
    assert_eq!(last["secret"], "stub-secret");
    assert_eq!(last["response"], GOOD_CAPTCHA_TOKEN);
    assert_eq!(last["remoteip"], "127.0.0.1");
    platform.stop().await;
}

in_both_modes!(
    create_captcha_is_limited_per_client,
    a_provider_token_is_checked_with_the_provider,
);
