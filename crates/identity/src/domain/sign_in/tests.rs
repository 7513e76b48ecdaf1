//! Unit tests of the sign-in family against the in-memory store.

use mi_contracts::{Purpose, UnixMillis};
use secrecy::SecretString;
use strum::IntoEnumIterator;

use crate::domain::events::IdentityEvent;
use crate::domain::testing::{PHONE, STRONG_PASSWORD, World, device};
use crate::domain::{
    ChallengeReason, ChallengeSettings, CompleteSignInOutcome, ContactKind, ReauthenticateError,
    Reauthentication, SecondFactorMethod, SecondFactorProof, SignInError, SignInOutcome,
    SignInRequest,
};

fn request(identifier: &str, password: &str, device_id: &str) -> SignInRequest {
    SignInRequest {
        identifier: identifier.into(),
        password: SecretString::from(password),
        device: device(device_id),
        client_address: "203.0.113.9".into(),
        captcha_pass: None,
    }
}

fn with_pass(mut request: SignInRequest, pass: SecretString) -> SignInRequest {
    request.captcha_pass = Some(pass);
    request
}

#[test]
fn challenge_reasons_keep_their_stored_names() {
    let names: Vec<&str> = ChallengeReason::iter()
        .map(ChallengeReason::as_str)
        .collect();
    assert_eq!(names, ["two_factor", "new_device"]);
    for reason in ChallengeReason::iter() {
        assert_eq!(reason.as_str().parse::<ChallengeReason>(), Ok(reason));
    }
}

#[tokio::test]
async fn wrong_passwords_ask_known_and_unknown_identifiers_alike_for_a_captcha() {
    let world = World::new();
    let mi_id = world.signed_up().await.session.mi_id.to_string();
    world.clear_events();
    let sign_in = &world.services.sign_in;
    let unknown = "+8613900139000";
    for _ in 0..5 {
        for identifier in [PHONE, unknown] {
            let wrong = sign_in
                .sign_in(request(identifier, "Wrong-Password-1", "device-1"))
                .await;
            assert!(
                matches!(wrong, Err(SignInError::InvalidCredentials)),
                "{wrong:?}"
            );
        }
    }
    // Right password or wrong, known or not: a CAPTCHA first.
    for (identifier, password) in [(PHONE, STRONG_PASSWORD), (unknown, STRONG_PASSWORD)] {
        let refused = sign_in
            .sign_in(request(identifier, password, "device-1"))
            .await;
        assert!(
            matches!(
                refused,
                Err(SignInError::CaptchaRequired { answered: false })
            ),
            "{identifier}: {refused:?}"
        );
        let foreign = world.captcha_pass("+8613700137000");
        let refused = sign_in
            .sign_in(with_pass(
                request(identifier, password, "device-1"),
                foreign,
            ))
            .await;
        assert!(
            matches!(
                refused,
                Err(SignInError::CaptchaRequired { answered: true })
            ),
            "a pass for another identifier: {refused:?}"
        );
    }
    // A pass is spent by the sign-in it comes with, right password or wrong.
    let pass = world.captcha_pass(PHONE);
    let wrong = sign_in
        .sign_in(with_pass(
            request(PHONE, "Wrong-Password-1", "device-1"),
            pass.clone(),
        ))
        .await;
    assert!(
        matches!(wrong, Err(SignInError::InvalidCredentials)),
        "{wrong:?}"
    );
    let reused = sign_in
        .sign_in(with_pass(request(PHONE, STRONG_PASSWORD, "device-1"), pass))
        .await;
    assert!(
        matches!(reused, Err(SignInError::CaptchaRequired { answered: true })),
        "{reused:?}"
    );
    let signed_in = sign_in
        .sign_in(with_pass(
            request(PHONE, STRONG_PASSWORD, "device-1"),
            world.captcha_pass(PHONE),
        ))
        .await;
    assert!(
        matches!(signed_in, Ok(SignInOutcome::SignedIn(_))),
        "{signed_in:?}"
    );
    let events = world.events();
    assert!(
        matches!(
            &events[..],
            [
                IdentityEvent::PasswordFailures { failures: 5, .. },
                IdentityEvent::SignedIn { .. }
            ]
        ),
        "one alert: {events:?}"
    );

    // The right password cleared the count; reaching the threshold again, by another of the
    // account's identifiers, alerts nobody within the period.
    world.clear_events();
    for _ in 0..5 {
        let wrong = sign_in
            .sign_in(request(&mi_id, "Wrong-Password-1", "device-1"))
            .await;
        assert!(
            matches!(wrong, Err(SignInError::InvalidCredentials)),
            "{wrong:?}"
        );
    }
    let refused = sign_in
        .sign_in(request(&mi_id, STRONG_PASSWORD, "device-1"))
        .await;
    assert!(
        matches!(
            refused,
            Err(SignInError::CaptchaRequired { answered: false })
        ),
        "{refused:?}"
    );
    assert_eq!(world.events(), [], "one alert per period");
}

#[tokio::test]
async fn a_new_device_is_challenged_and_a_verification_code_answers_once() {
    let world = World::with_challenges(ChallengeSettings {
        challenge_new_devices: true,
        ..ChallengeSettings::default()
    });
    world.signed_up().await;
    let sign_in = &world.services.sign_in;
    let known = sign_in
        .sign_in(request(PHONE, STRONG_PASSWORD, "device-1"))
        .await;
    assert!(matches!(known, Ok(SignInOutcome::SignedIn(_))), "{known:?}");

    let Ok(SignInOutcome::Challenged {
        challenge,
        contacts,
    }) = sign_in
        .sign_in(request(PHONE, STRONG_PASSWORD, "device-2"))
        .await
    else {
        panic!("expected a challenge");
    };
    assert_eq!(challenge.methods, [SecondFactorMethod::VerificationCode]);
    let [contact] = contacts.as_slice() else {
        panic!("one contact expected: {contacts:?}");
    };
    assert_eq!(
        (
            contact.contact_id.as_str(),
            contact.kind,
            contact.masked.as_str()
        ),
        ("1", ContactKind::Phone, "+86 138****8000")
    );
    // The send token names the number only for verification, and only for this challenge.
    let claims = world
        .send_tokens
        .open(&contact.send_token, UnixMillis::now())
        .expect("opens");
    assert_eq!(
        (
            claims.challenge_id.as_str(),
            claims.contact_id.as_str(),
            claims.destination.as_str(),
            claims.purpose,
            claims.expires_at
        ),
        (
            challenge.challenge_id.as_str(),
            "1",
            PHONE,
            Purpose::SignInSecondFactor,
            challenge.expires_at
        )
    );
    let by_totp = sign_in
        .complete_sign_in(
            &challenge.challenge_id,
            SecondFactorProof::Totp("123456".into()),
        )
        .await;
    assert!(
        matches!(by_totp, Err(SignInError::MethodNotAllowed)),
        "{by_totp:?}"
    );
    let token = world.verification_token(PHONE, Purpose::SignInSecondFactor);
    let proof = SecondFactorProof::VerificationToken(token);
    let Ok(CompleteSignInOutcome::SignedIn(tokens)) = sign_in
        .complete_sign_in(&challenge.challenge_id, proof.clone())
        .await
    else {
        panic!("expected tokens");
    };
    assert_eq!(tokens.session.device.device_id, "device-2");
    assert_eq!(tokens.session.methods, ["pwd", "sms", "mfa"]);
    let again = sign_in
        .complete_sign_in(&challenge.challenge_id, proof)
        .await;
    assert!(
        matches!(again, Err(SignInError::ChallengeExpired)),
        "{again:?}"
    );
}

#[tokio::test]
async fn reauthentication_counts_wrong_passwords_and_spends_tokens_once() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let caller = world.stale_caller(&tokens);
    let sign_in = &world.services.sign_in;
    let wrong = Reauthentication::Password(SecretString::from("Wrong-Password-1"));
    for _ in 0..20 {
        let refused = sign_in
            .reauthenticate(&caller, wrong.clone(), "203.0.113.9")
            .await;
        assert!(
            matches!(refused, Err(ReauthenticateError::WrongPassword)),
            "{refused:?}"
        );
    }
    // Counted under the Mi ID: its sign-ins need a CAPTCHA, and the next password waits.
    let by_mi_id = sign_in
        .sign_in(request(
            &caller.mi_id.to_string(),
            STRONG_PASSWORD,
            "device-1",
        ))
        .await;
    assert!(
        matches!(by_mi_id, Err(SignInError::PasswordDelayed { .. })),
        "{by_mi_id:?}"
    );
    let right = Reauthentication::Password(SecretString::from(STRONG_PASSWORD));
    let delayed = sign_in.reauthenticate(&caller, right, "203.0.113.9").await;
    assert!(
        matches!(delayed, Err(ReauthenticateError::PasswordDelayed { retry_after }) if !retry_after.is_zero()),
        "{delayed:?}"
    );

    let token = world.verification_token(PHONE, Purpose::SignInSecondFactor);
    let proof = Reauthentication::SecondFactor(SecondFactorProof::VerificationToken(token));
    sign_in
        .reauthenticate(&caller, proof.clone(), "203.0.113.9")
        .await
        .expect("reauthenticated");
    let reused = sign_in.reauthenticate(&caller, proof, "203.0.113.9").await;
    assert!(
        matches!(reused, Err(ReauthenticateError::TokenUsed)),
        "{reused:?}"
    );
}
