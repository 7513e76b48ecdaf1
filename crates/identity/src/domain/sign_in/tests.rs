//! Unit tests of the sign-in family against the in-memory store.

use mi_contracts::Purpose;
use secrecy::SecretString;
use strum::IntoEnumIterator;

use crate::domain::events::IdentityEvent;
use crate::domain::testing::{PHONE, STRONG_PASSWORD, World, device};
use crate::domain::{
    ChallengeReason, ChallengeSettings, ReauthenticateError, Reauthentication, SecondFactorMethod,
    SecondFactorProof, SignInError, SignInOutcome, SignInRequest,
};

fn request(identifier: &str, password: &str, device_id: &str) -> SignInRequest {
    SignInRequest {
        identifier: identifier.into(),
        password: SecretString::from(password),
        device: device(device_id),
        client_address: "203.0.113.9".into(),
    }
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
async fn wrong_passwords_lock_the_account_and_announce_it_once() {
    let world = World::new();
    world.signed_up().await;
    world.clear_events();
    let sign_in = &world.services.sign_in;
    for _ in 0..5 {
        let wrong = sign_in
            .sign_in(request(PHONE, "Wrong-Password-1", "device-1"))
            .await;
        assert!(
            matches!(wrong, Err(SignInError::InvalidCredentials)),
            "{wrong:?}"
        );
    }
    let locked = sign_in
        .sign_in(request(PHONE, STRONG_PASSWORD, "device-1"))
        .await;
    assert!(
        matches!(locked, Err(SignInError::AccountLocked { .. })),
        "{locked:?}"
    );
    let events = world.events();
    assert!(
        matches!(
            &events[..],
            [IdentityEvent::AccountLocked { failures: 5, .. }]
        ),
        "{events:?}"
    );
    let unknown = sign_in
        .sign_in(request("+8613900139000", STRONG_PASSWORD, "device-1"))
        .await;
    assert!(
        matches!(unknown, Err(SignInError::InvalidCredentials)),
        "{unknown:?}"
    );
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
        masked_contacts,
    }) = sign_in
        .sign_in(request(PHONE, STRONG_PASSWORD, "device-2"))
        .await
    else {
        panic!("expected a challenge");
    };
    assert_eq!(challenge.methods, [SecondFactorMethod::VerificationCode]);
    assert_eq!(masked_contacts, ["+86 138****8000"]);
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
    let Ok(SignInOutcome::SignedIn(tokens)) = sign_in
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
    let refused = sign_in.reauthenticate(&caller, wrong, "203.0.113.9").await;
    assert!(
        matches!(refused, Err(ReauthenticateError::WrongPassword)),
        "{refused:?}"
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
