//! Verification codes, complete: CAPTCHA, resend and voice, signed tokens, rate limits,
//! the country guard and per-client check limits, over gRPC.

use std::time::Duration;

use crate::support::{
    Backends, TestConfig, TestPlatform, code_in, reason, unique_email, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::auth::VerificationClaims as TokenClaims;
use mi_platform::tokens::{PublicKey, TokenVerifier};
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::{
    CaptchaAnswer, CreateCaptchaRequest, ListVerificationKeysRequest, ResendCodeRequest,
    SendCodeRequest,
};
use tonic::Code;
use tonic_types::StatusExt;

fn request(destination: &str, channel: Channel, purpose: Purpose) -> SendCodeRequest {
    SendCodeRequest {
        destination: destination.to_owned(),
        channel: channel.into(),
        purpose: purpose.into(),
        locale: "en".into(),
        captcha: None,
    }
}

fn quota_subject(status: &tonic::Status) -> String {
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
