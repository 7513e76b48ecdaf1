//! Wrong passwords lead to a CAPTCHA, not a lockout (issue 10, item 6): failures are counted per
//! identifier, known or not, so an unknown identifier and an existing one answer alike before
//! and after the threshold; past it the right password needs a CAPTCHA pass
//! (VerificationService/PassCaptcha), single use and bound to its identifier, and with one it
//! signs in; past a second threshold every attempt waits; the owner hears of it once per period.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{
    Backends, TestConfig, TestPlatform, WRONG_PASSWORD, expect_refusal, expect_tokens,
    field_violations, in_both_modes, reason, retry_after, strong_password, test_device,
    unique_email, unique_phone_number, unix_now,
};
use mi_contracts::Reason;
use mi_platform::auth::{
    CaptchaPassClaims, VERIFICATION_TOKEN_AUDIENCE, VERIFICATION_TOKEN_ISSUER,
};
use mi_platform::contact::canonical_identifier;
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::verification::v1::{CaptchaAnswer, PassCaptchaRequest};
use tonic::{Code, Status};
use tonic_types::StatusExt;

in_both_modes!(
    known_and_unknown_identifiers_answer_alike_before_and_after_the_thresholds,
    the_right_password_needs_a_captcha_after_failures_and_signs_in_with_one,
    a_captcha_pass_is_single_use_bound_to_its_identifier_and_of_its_own_kind,
    repeated_thresholds_alert_the_owner_once_per_period,
);

/// On a Redis Cluster: the counters, CAPTCHA answers and passes of each identifier hash to
/// slots of their own, and a right password clears the number's and the Mi ID's counts in one
/// call across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_password_needs_a_captcha_after_failures_on_a_redis_cluster() {
    the_right_password_needs_a_captcha_after_failures_and_signs_in_with_one(
        Backends::ServersWithRedisCluster,
    )
    .await;
}

/// What a client can read from a refusal: code, reason, metadata and message. A wait in
/// seconds (metadata and message) is left out: two waits set a moment apart differ a little.
fn answer(status: &Status) -> (Code, Option<Reason>, BTreeMap<String, String>, String) {
    let mut metadata: BTreeMap<String, String> = status
        .get_error_details()
        .error_info()
        .map(|info| info.metadata.clone().into_iter().collect())
        .unwrap_or_default();
    let mut message = status.message().to_owned();
    if let Some(seconds) = metadata.get_mut("retry_after_seconds") {
        "<n>".clone_into(seconds);
        message = message.replace(|c: char| c.is_ascii_digit(), "");
    }
    (status.code(), reason(status), metadata, message)
}

/// Five wrong passwords, the CAPTCHA they lead to, two more wrong ones with CAPTCHA passes and
/// the wait after them: an account's address and an address of nobody's get the same answer
/// each time, whatever the password.
async fn known_and_unknown_identifiers_answer_alike_before_and_after_the_thresholds(
    backends: Backends,
) {
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.brute_force.delay_after", 7);
    let platform = TestPlatform::start_with(config).await;
    let email = unique_email();
    let (_, password) = platform.create_account(&email, Channel::Email).await;
    let nobody = unique_email();
    let both = async |password_for_known: &str, pass: bool| {
        let (known_pass, nobody_pass) = if pass {
            (
                platform.captcha_pass(&email).await,
                platform.captcha_pass(&nobody).await,
            )
        } else {
            (String::new(), String::new())
        };
        let device = test_device("phone-1");
        let known = platform
            .sign_in_with_pass(&email, password_for_known, device.clone(), &known_pass)
            .await
            .unwrap_err();
        let unknown = platform
            .sign_in_with_pass(&nobody, &password, device, &nobody_pass)
            .await
            .unwrap_err();
        assert_eq!(answer(&known), answer(&unknown), "{known:?}");
        known
    };

    for attempt in 1..=5 {
        let known = both(WRONG_PASSWORD, false).await;
        assert_eq!(
            (known.code(), reason(&known)),
            (Code::Unauthenticated, Some(Reason::InvalidCredentials)),
            "wrong password {attempt}"
        );
    }
    let captcha = both(&password, false).await;
    expect_refusal::<()>(
        Err(captcha),
        Code::FailedPrecondition,
        Some(Reason::CaptchaRequired),
        "the right password after 5 wrong ones",
    );
    for attempt in 6..=7 {
        let known = both(WRONG_PASSWORD, true).await;
        assert_eq!(
            reason(&known),
            Some(Reason::InvalidCredentials),
            "wrong password {attempt} with a CAPTCHA pass"
        );
    }
    let delayed = both(&password, true).await;
    let delayed = expect_refusal::<()>(
        Err(delayed),
        Code::ResourceExhausted,
        Some(Reason::PasswordDelayed),
        "the right password with a pass after 7 wrong ones",
    );
    let wait = retry_after(&delayed).expect("a delay says when to retry");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    platform.stop().await;
}

/// The right password after five wrong ones is refused without a CAPTCHA pass and signs in with
/// one (solved for the number however it is written); the account's Mi ID counts apart, so its
/// first try is an ordinary answer, and a right password clears every count.
async fn the_right_password_needs_a_captcha_after_failures_and_signs_in_with_one(
    backends: Backends,
) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (created, password) = platform.create_account(&phone, Channel::Sms).await;
    let mi_id = created.mi_id.to_string();
    let device = || test_device("phone-1");

    platform.fail_until_captcha(&phone, &password).await;
    expect_refusal(
        platform.sign_in(&mi_id, WRONG_PASSWORD, device()).await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "the Mi ID's first try, while the number needs a CAPTCHA",
    );
    let by_mi_id = expect_tokens(platform.sign_in(&mi_id, &password, device()).await.unwrap());
    assert_eq!(by_mi_id.mi_id, created.mi_id);
    expect_tokens(
        platform
            .sign_in(&phone, &password, device())
            .await
            .expect("a right password cleared the number's count too"),
    );

    platform.fail_until_captcha(&phone, &password).await;
    let written_otherwise = format!("{} {}", &phone[..3], &phone[3..]);
    let pass = platform.captcha_pass(&written_otherwise).await;
    let tokens = expect_tokens(
        platform
            .sign_in_with_pass(&phone, &password, device(), &pass)
            .await
            .expect("the right password with a CAPTCHA pass"),
    );
    assert_eq!(tokens.mi_id, created.mi_id);
    platform.stop().await;
}

/// A pass for another identifier, one signed with another key, an expired one, a verification
/// token and an access token are all refused as CAPTCHA passes; a pass is spent by the sign-in
/// it comes with, even with a wrong password. PassCaptcha refuses a wrong answer and names a
/// bad subject or a missing CAPTCHA.
async fn a_captcha_pass_is_single_use_bound_to_its_identifier_and_of_its_own_kind(
    backends: Backends,
) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let (created, password) = platform.create_account(&email, Channel::Email).await;
    let device = || test_device("phone-1");
    platform.fail_until_captcha(&email, &password).await;
    let refused = async |pass: &str, what: &str| {
        let status = expect_refusal(
            platform
                .sign_in_with_pass(&email, &password, device(), pass)
                .await,
            Code::FailedPrecondition,
            Some(Reason::CaptchaRequired),
            what,
        );
        assert!(
            status.message().contains("invalid"),
            "{what}: a pass was sent and refused: {status:?}"
        );
    };

    refused(
        &platform.captcha_pass(&unique_email()).await,
        "a pass for another identifier",
    )
    .await;
    let now = i64::try_from(unix_now()).unwrap();
    let claims = |exp: i64| CaptchaPassClaims {
        iss: VERIFICATION_TOKEN_ISSUER.into(),
        aud: VERIFICATION_TOKEN_AUDIENCE.into(),
        sub: canonical_identifier(&email).unwrap(),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp,
    };
    let verification_key =
        TokenSigner::from_seed(&platform.config.verification_signing_key, None).unwrap();
    let other_key = TokenSigner::from_seed(&SecretKey::generate(), None).unwrap();
    refused(
        &other_key.sign(&claims(now + 120)).unwrap(),
        "a pass signed with another key",
    )
    .await;
    refused(
        &verification_key.sign(&claims(now - 60)).unwrap(),
        "an expired pass",
    )
    .await;
    let verification_token = platform
        .verification_token(&email, Channel::Email, Purpose::PasswordReset)
        .await;
    refused(&verification_token, "a verification token").await;
    refused(&created.access_token, "an access token").await;
    // The forging harness is right: the same claims, fresh and signed with the real key, pass.
    expect_refusal(
        platform
            .sign_in_with_pass(
                &email,
                WRONG_PASSWORD,
                device(),
                &verification_key.sign(&claims(now + 120)).unwrap(),
            )
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "a well-made pass with a wrong password",
    );

    let pass = platform.captcha_pass(&email).await;
    expect_refusal(
        platform
            .sign_in_with_pass(&email, WRONG_PASSWORD, device(), &pass)
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "a pass with a wrong password",
    );
    refused(&pass, "a pass spent by a sign-in with a wrong password").await;
    expect_tokens(
        platform
            .sign_in_with_pass(
                &email,
                &password,
                device(),
                &platform.captcha_pass(&email).await,
            )
            .await
            .expect("a fresh pass and the right password"),
    );

    let mut verification = platform.verification().await;
    let wrong_answer = CaptchaAnswer {
        answer: "wrong!".into(),
        ..platform.solved_captcha().await
    };
    expect_refusal(
        verification
            .pass_captcha(PassCaptchaRequest {
                captcha: Some(wrong_answer),
                subject: email.clone(),
            })
            .await,
        Code::FailedPrecondition,
        Some(Reason::CaptchaRequired),
        "PassCaptcha with a wrong answer",
    );
    for (request, field) in [
        (
            PassCaptchaRequest {
                captcha: Some(platform.solved_captcha().await),
                subject: "nobody".into(),
            },
            "subject",
        ),
        (
            PassCaptchaRequest {
                captcha: None,
                subject: email.clone(),
            },
            "captcha",
        ),
    ] {
        let status = expect_refusal(
            verification.pass_captcha(request).await,
            Code::InvalidArgument,
            None,
            "PassCaptcha with a bad field",
        );
        let fields: Vec<String> = field_violations(&status)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, [field], "{status:?}");
    }
    platform.stop().await;
}

/// The owner hears once that wrong passwords made a CAPTCHA necessary: reaching the threshold
/// again within the period (after a right password, and by another of the account's
/// identifiers) sends nothing more.
async fn repeated_thresholds_alert_the_owner_once_per_period(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let (created, password) = platform.create_account(&email, Channel::Email).await;
    let mi_id = created.mi_id.to_string();
    let before = platform.inbox(&email).await.len();

    platform.fail_until_captcha(&email, &password).await;
    let alert = platform.wait_for_text(&email, "CAPTCHA").await;
    assert!(
        alert.body.contains(&mi_id) && alert.body.contains("5 times"),
        "{alert:?}"
    );
    let tokens = expect_tokens(
        platform
            .sign_in_with_pass(
                &email,
                &password,
                test_device("phone-1"),
                &platform.captcha_pass(&email).await,
            )
            .await
            .unwrap(),
    );
    platform.fail_until_captcha(&email, &password).await;
    platform.fail_until_captcha(&mi_id, &password).await;

    // An alert recorded later for the same account arrives after any the thresholds caused.
    platform
        .change_password(&tokens.access_token, &password, &strong_password())
        .await
        .unwrap();
    platform.wait_for_text(&email, "was just changed").await;
    let captcha_alerts: Vec<String> = platform
        .inbox(&email)
        .await
        .into_iter()
        .skip(before)
        .map(|message| message.body)
        .filter(|body| body.contains("CAPTCHA"))
        .collect();
    assert_eq!(captcha_alerts.len(), 1, "{captcha_alerts:?}");
    platform.stop().await;
}
