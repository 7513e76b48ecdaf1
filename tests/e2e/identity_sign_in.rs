//! Password sign-in over gRPC: by Mi ID, phone and email; one answer for unknown accounts and
//! wrong passwords; the second-factor challenge of a new device. What repeated failures lead to
//! (a CAPTCHA, then delays) is in `sign_in_captcha.rs`. Also checks the harness's own RFC 6238 implementation against the RFC's vectors.

use crate::support::{
    Backends, TestConfig, TestPlatform, base32_decode, expect_challenge, expect_tokens,
    in_both_modes, reason, rfc6238_code, test_device, unique_email, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::events;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::events::v1::SignedIn;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    ChallengeReason, CompleteSignInRequest, SecondFactorMethod, SecondFactorProof,
};
use tonic::Code;

in_both_modes!(
    sign_in_by_mi_id_phone_and_email,
    unknown_accounts_and_wrong_passwords_look_the_same,
    a_new_device_answers_a_code_challenge,
);

#[test]
fn rfc6238_appendix_b_sha1_vectors() {
    let secret = b"12345678901234567890";
    for (time, expected) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(rfc6238_code(secret, time, 8), expected, "t = {time}");
    }
    assert_eq!(rfc6238_code(secret, 59, 6), "287082");
}

#[test]
fn base32_decodes_rfc4648_text() {
    assert_eq!(
        base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        b"12345678901234567890"
    );
    assert_eq!(base32_decode("MZXW6YTBOI======"), b"foobar");
    assert_eq!(base32_decode("mzxw6ytb"), b"fooba");
    assert_eq!(base32_decode(""), b"");
}

async fn sign_in_by_mi_id_phone_and_email(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let email = unique_email();
    let (by_phone, phone_password) = platform.create_account(&phone, Channel::Sms).await;
    let (by_email, email_password) = platform.create_account(&email, Channel::Email).await;

    for (identifier, password, mi_id) in [
        (by_phone.mi_id.to_string(), &phone_password, by_phone.mi_id),
        (phone.clone(), &phone_password, by_phone.mi_id),
        (by_email.mi_id.to_string(), &email_password, by_email.mi_id),
        (email.clone(), &email_password, by_email.mi_id),
    ] {
        let response = platform
            .sign_in(&identifier, password, test_device("phone-1"))
            .await
            .unwrap_or_else(|status| panic!("sign-in as {identifier}: {status:?}"));
        let tokens = expect_tokens(response);
        assert_eq!(tokens.mi_id, mi_id, "{identifier}");
        let claims = platform.access_claims(&tokens.access_token).await;
        assert_eq!(claims.sub, mi_id.to_string());
        assert_eq!(claims.sid, tokens.session_id);
        assert!(claims.amr.iter().any(|method| method == "pwd"));
        assert_eq!(
            platform.account(&tokens.access_token).await.unwrap().mi_id,
            mi_id
        );
    }

    // One account's password does not open the other.
    let crossed = platform
        .sign_in(&email, &phone_password, test_device("phone-1"))
        .await
        .unwrap_err();
    assert_eq!(reason(&crossed), Some(Reason::InvalidCredentials));
    platform.stop().await;
}

async fn unknown_accounts_and_wrong_passwords_look_the_same(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, Channel::Sms).await;
    let wrong_password = format!("{password}x");

    let attempts = [
        (phone.clone(), wrong_password.clone()),
        (tokens.mi_id.to_string(), wrong_password.clone()),
        (unique_phone_number(), password.clone()),
        (unique_email(), password.clone()),
        ("1000000001".to_owned(), password.clone()),
    ];
    let mut answers = Vec::new();
    for (identifier, attempt) in &attempts {
        let status = platform
            .sign_in(identifier, attempt, test_device("phone-1"))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{identifier}: {status:?}"
        );
        assert_eq!(
            reason(&status),
            Some(Reason::InvalidCredentials),
            "{identifier}"
        );
        answers.push((status.code(), reason(&status), status.message().to_owned()));
    }
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "every refusal must read the same: {answers:?}"
    );
    platform.stop().await;
}

async fn a_new_device_answers_a_code_challenge(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.second_factor.challenge_new_devices", true);
    let platform = TestPlatform::start_with(config).await;
    let phone = unique_phone_number();
    let (created, password) = platform.create_account(&phone, Channel::Sms).await;

    // The device of the sign-up is known.
    let known = platform
        .sign_in(&phone, &password, test_device("phone-1"))
        .await
        .unwrap();
    assert_eq!(expect_tokens(known).mi_id, created.mi_id);

    let challenge = expect_challenge(
        platform
            .sign_in(&phone, &password, test_device("tablet-2"))
            .await
            .unwrap(),
    );
    assert_eq!(challenge.reason(), ChallengeReason::NewDevice);
    assert!(!challenge.challenge_id.is_empty());
    let now = i64::try_from(crate::support::unix_now()).unwrap();
    assert!(challenge.expire_time.unwrap().seconds > now);
    assert!(
        challenge
            .methods
            .contains(&i32::from(SecondFactorMethod::VerificationCode)),
        "{challenge:?}"
    );
    assert_eq!(challenge.contacts.len(), 1, "{challenge:?}");
    let masked = &challenge.contacts[0].masked;
    assert!(masked.contains('*'), "{masked}");
    assert!(masked.ends_with(&phone[phone.len() - 4..]), "{masked}");
    let shown_digits = masked.chars().filter(char::is_ascii_digit).count();
    let all_digits = phone.chars().filter(char::is_ascii_digit).count();
    assert!(shown_digits <= all_digits - 4, "{masked} hides digits");

    let token = platform
        .verification_token(&phone, Channel::Sms, Purpose::SignInSecondFactor)
        .await;
    let completed = platform
        .identity()
        .await
        .complete_sign_in(CompleteSignInRequest {
            challenge_id: challenge.challenge_id.clone(),
            proof: Some(SecondFactorProof {
                proof: Some(Proof::VerificationToken(token)),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let tokens = expect_tokens(completed);
    assert_eq!(tokens.mi_id, created.mi_id);
    let claims = platform.access_claims(&tokens.access_token).await;
    assert!(
        claims.amr.iter().any(|method| method == "pwd"),
        "{claims:?}"
    );
    assert!(claims.amr.len() >= 2, "two factors were proven: {claims:?}");

    let signed_in = platform
        .first_event("identity.events", |event| {
            events::payload::<SignedIn>(event)
                .and_then(Result::ok)
                .is_some_and(|signed_in| signed_in.session_id == tokens.session_id)
        })
        .await;
    let signed_in: SignedIn = events::payload(&signed_in).unwrap().unwrap();
    assert_eq!(signed_in.mi_id, created.mi_id);
    assert_eq!(signed_in.device, Some(test_device("tablet-2")));
    assert!(signed_in.new_device);
    assert!(!signed_in.client_address.is_empty());

    // The device is known from now on.
    let again = platform
        .sign_in(&phone, &password, test_device("tablet-2"))
        .await
        .unwrap();
    assert_eq!(expect_tokens(again).mi_id, created.mi_id);
    platform.stop().await;
}
