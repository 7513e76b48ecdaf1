//! Verification codes, complete: CAPTCHA, resend and voice, signed tokens, over gRPC (the
//! limits are in `code_limits`).

use std::time::Duration;

use crate::support::{
    Backends, TestConfig, TestPlatform, code_in, reason, unique_email, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::auth::VerificationClaims as TokenClaims;
use mi_platform::tokens::{PublicKey, TokenVerifier};
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::{
    CaptchaAnswer, CreateCaptchaRequest, ListVerificationKeysRequest, ResendCodeRequest,
    SendCodeRequest,
};
use tonic::Code;
use tonic_types::StatusExt;

pub(crate) fn request(destination: &str, channel: Channel, purpose: Purpose) -> SendCodeRequest {
    SendCodeRequest {
        target: Some(Target::Destination(destination.to_owned())),
        channel: channel.into(),
        purpose: purpose.into(),
        locale: "en".into(),
        captcha: None,
    }
}

pub(crate) fn quota_subject(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .quota_failure()
        .unwrap()
        .violations[0]
        .subject
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_needs_a_solved_captcha_checked_once() {
    let platform = TestPlatform::start(Backends::Embedded).await;
    let mut client = platform.verification().await;
    let captcha = client
        .create_captcha(CreateCaptchaRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        captcha.image_png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((290..=301).contains(&(captcha.expire_time.unwrap().seconds - now)));

    let destination = unique_phone_number();
    let missing = client
        .send_code(request(&destination, Channel::Sms, Purpose::SignUp))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition);
    assert_eq!(reason(&missing), Some(Reason::CaptchaRequired));
    let violation = missing
        .get_error_details()
        .precondition_failure()
        .unwrap()
        .violations[0]
        .clone();
    assert_eq!(
        (violation.r#type.as_str(), violation.subject.as_str()),
        (Reason::CaptchaRequired.as_str(), "captcha")
    );

    let solved = platform.solved_captcha().await;
    let wrong = CaptchaAnswer {
        captcha_id: solved.captcha_id.clone(),
        answer: "not-it".into(),
        ..CaptchaAnswer::default()
    };
    let refused = client
        .send_code(SendCodeRequest {
            captcha: Some(wrong),
            ..request(&destination, Channel::Sms, Purpose::SignUp)
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), Some(Reason::CaptchaRequired));
    assert!(
        refused.message().contains("wrong or expired"),
        "{}",
        refused.message()
    );
    // A wrong answer spends the challenge: the right answer no longer works.
    let spent = client
        .send_code(SendCodeRequest {
            captcha: Some(solved),
            ..request(&destination, Channel::Sms, Purpose::SignUp)
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&spent), Some(Reason::CaptchaRequired));

    // Case does not matter.
    let mut fresh = platform.solved_captcha().await;
    fresh.answer = fresh.answer.to_uppercase();
    client
        .send_code(SendCodeRequest {
            captcha: Some(fresh),
            ..request(&destination, Channel::Sms, Purpose::SignUp)
        })
        .await
        .unwrap();
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frequent_sends_from_one_client_need_a_captcha() {
    let platform = TestPlatform::start(Backends::Embedded).await;
    let mut client = platform.verification().await;
    for _ in 0..2 {
        client
            .send_code(request(
                &unique_phone_number(),
                Channel::Sms,
                Purpose::PasswordReset,
            ))
            .await
            .unwrap();
    }
    let third = request(&unique_phone_number(), Channel::Sms, Purpose::PasswordReset);
    let refused = client.send_code(third.clone()).await.unwrap_err();
    assert_eq!(reason(&refused), Some(Reason::CaptchaRequired));
    let captcha = Some(platform.solved_captcha().await);
    client
        .send_code(SendCodeRequest { captcha, ..third })
        .await
        .unwrap();
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_keeps_the_verification_switches_to_voice_and_stops_at_the_limit() {
    let config = TestConfig::new(Backends::Embedded)
        .with_value("verification.limits.send_cooldown", "1s")
        .with_value("verification.captcha.risk_threshold", 100);
    let platform = TestPlatform::start_with(config).await;
    let mut client = platform.verification().await;
    let destination = unique_phone_number();
    let sent = client
        .send_code(request(&destination, Channel::Sms, Purpose::PasswordReset))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.resends_left, 4);
    let first_code = code_in(&platform.wait_for_inbox(&destination, 1).await[0]);
    let resend = |channel: Channel| ResendCodeRequest {
        verification_id: sent.verification_id.clone(),
        channel: channel.into(),
        locale: String::new(),
        captcha: None,
    };

    let too_soon = client
        .resend_code(resend(Channel::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(too_soon.code(), Code::ResourceExhausted);
    assert_eq!(quota_subject(&too_soon), "destination per minute");
    let email_way = client
        .resend_code(resend(Channel::Email))
        .await
        .unwrap_err();
    assert_eq!(email_way.code(), Code::InvalidArgument);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let by_voice = client
        .resend_code(resend(Channel::Voice))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_voice.verification_id, sent.verification_id,
        "a resend keeps the verification"
    );
    assert_eq!(by_voice.channel, i32::from(Channel::Voice));
    assert_eq!(by_voice.resends_left, 3);
    let messages = platform.wait_for_inbox(&destination, 2).await;
    let call = &messages[1];
    assert_eq!(call.channel, i32::from(Channel::Voice));
    let digits: String = call
        .body
        .split("code is ")
        .nth(1)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    assert!(
        call.body.contains(
            &digits
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "{}",
        call.body
    );

    let old = platform.check(&sent.verification_id, &first_code).await;
    if first_code != digits {
        assert_eq!(
            reason(&old.unwrap_err()),
            Some(Reason::CodeMismatch),
            "the old code stops working"
        );
    }
    for resends_left in [2, 1, 0] {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let again = client
            .resend_code(resend(Channel::Sms))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.resends_left, resends_left);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let exhausted = client.resend_code(resend(Channel::Sms)).await.unwrap_err();
    assert_eq!(exhausted.code(), Code::FailedPrecondition);
    assert_eq!(reason(&exhausted), Some(Reason::TooManySends));

    let latest = platform.wait_for_inbox(&destination, 5).await;
    let code = code_in(latest.last().unwrap());
    platform.check(&sent.verification_id, &code).await.unwrap();
    let approved = client.resend_code(resend(Channel::Sms)).await.unwrap_err();
    assert_eq!(reason(&approved), Some(Reason::VerificationAlreadyApproved));
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_token_verifies_offline_with_the_published_keys() {
    let platform = TestPlatform::start(Backends::Embedded).await;
    let destination = unique_email();
    let sent = platform.sign_up(&destination, Channel::Email).await;
    let code = code_in(&platform.wait_for_inbox(&destination, 1).await[0]);
    let token = platform
        .check(&sent.verification_id, &code)
        .await
        .unwrap()
        .verification_token;

    let keys = platform
        .verification()
        .await
        .list_verification_keys(ListVerificationKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(keys.keys[0].algorithm, "EdDSA");
    let jwks: serde_json::Value = serde_json::from_str(&keys.jwks_json).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], keys.keys[0].key_id.as_str());
    let trusted: Vec<PublicKey> = keys
        .keys
        .iter()
        .map(|key| PublicKey {
            key_id: key.key_id.clone(),
            x: key.public_key.clone(),
        })
        .collect();
    let verifier = TokenVerifier::new(&trusted, "mi-verification", "mi-account").unwrap();
    let claims: TokenClaims = verifier.verify(&token).unwrap();
    assert_eq!(claims.sub, destination);
    assert_eq!(claims.vid, sent.verification_id);
    assert_eq!(
        (claims.channel.as_str(), claims.purpose.as_str()),
        ("email", "sign_up")
    );
    assert_eq!(claims.exp - claims.iat, 600);
    assert!(
        verifier
            .verify::<TokenClaims>(&format!("{token}x"))
            .is_err(),
        "a tampered token is refused"
    );
    platform.stop().await;
}
