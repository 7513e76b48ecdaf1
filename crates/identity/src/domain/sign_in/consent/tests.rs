//! Unit tests of the consent step against the in-memory store: new versions are asked for
//! after authentication, and only the current ones start the session.

use mi_contracts::Purpose;
use secrecy::SecretString;

use super::AcceptRequest;
use crate::domain::events::IdentityEvent;
use crate::domain::testing::{
    PHONE, PRIVACY_VERSION, STRONG_PASSWORD, TERMS_VERSION, World, device,
};
use crate::domain::{
    AccountLookup, ChallengeSettings, CompleteSignInOutcome, ConsentChallenge, ConsentError,
    DocumentKind, SecondFactorProof, SignInOutcome, SignInRequest,
};

fn sign_in_on(device_id: &str) -> SignInRequest {
    SignInRequest {
        identifier: PHONE.into(),
        password: SecretString::from(STRONG_PASSWORD),
        device: device(device_id),
        captcha_pass: None,
        client_address: "203.0.113.9".into(),
    }
}

fn accept(challenge: &ConsentChallenge, terms: &str, privacy: &str) -> AcceptRequest {
    AcceptRequest {
        challenge_id: challenge.challenge_id.clone(),
        terms_version: terms.into(),
        privacy_policy_version: privacy.into(),
        client_address: "198.51.100.4".into(),
    }
}

fn expect_consent_step(outcome: SignInOutcome) -> ConsentChallenge {
    match outcome {
        SignInOutcome::ConsentRequired {
            challenge,
            documents,
        } => {
            let kinds: Vec<DocumentKind> = documents.iter().map(|view| view.kind).collect();
            assert_eq!(
                kinds,
                [DocumentKind::TermsOfService],
                "only the changed one"
            );
            assert_eq!(documents[0].version, TERMS_VERSION);
            assert_eq!(documents[0].locale, "zh-CN", "in the account's locale");
            challenge
        }
        other => panic!("expected the consent step, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_version_is_asked_for_and_only_the_current_one_starts_the_session() {
    let world = World::new();
    let mi_id = world.signed_up().await.session.mi_id;
    world.store.set_consent(mi_id, "2024-01", PRIVACY_VERSION);
    world.clear_events();
    let sign_in = &world.services.sign_in;

    let outcome = sign_in
        .sign_in(sign_in_on("device-1"))
        .await
        .expect("proven");
    let challenge = expect_consent_step(outcome);
    assert_eq!(challenge.methods, ["pwd"]);
    assert_eq!(world.store.session_ids(mi_id).len(), 1, "no session yet");
    assert!(world.events().is_empty(), "{:?}", world.events());

    for (terms, privacy) in [("2024-01", ""), ("banana", "")] {
        let refused = sign_in
            .accept_legal_documents(accept(&challenge, terms, privacy))
            .await;
        assert!(
            matches!(&refused, Err(ConsentError::Outdated(outdated)) if outdated[0].current == TERMS_VERSION),
            "{terms}: {refused:?}"
        );
    }
    let unnamed = sign_in
        .accept_legal_documents(accept(&challenge, "", PRIVACY_VERSION))
        .await;
    assert!(
        matches!(unnamed, Err(ConsentError::NotAccepted)),
        "{unnamed:?}"
    );
    assert_eq!(
        world.store.session_ids(mi_id).len(),
        1,
        "refusals change nothing"
    );

    let tokens = sign_in
        .accept_legal_documents(accept(&challenge, TERMS_VERSION, ""))
        .await
        .expect("the current version");
    assert_eq!(tokens.session.methods, ["pwd"]);
    let account = world
        .store
        .account(mi_id)
        .await
        .expect("read")
        .expect("account");
    assert_eq!(account.consent.terms_version, TERMS_VERSION);
    assert_eq!(account.consent.privacy_policy_version, PRIVACY_VERSION);
    let record = world.store.consents_of(mi_id);
    assert_eq!(record.len(), 2, "sign-up, then this acceptance: {record:?}");
    assert_eq!(record[1].0, account.consent);
    assert_eq!(record[1].1, "198.51.100.4");
    let events = world.events();
    assert!(
        matches!(
            &events[..],
            [
                IdentityEvent::LegalDocumentsAccepted { consent, .. },
                IdentityEvent::SignedIn { .. },
            ] if consent.terms_version == TERMS_VERSION
        ),
        "{events:?}"
    );

    let again = sign_in
        .accept_legal_documents(accept(&challenge, TERMS_VERSION, ""))
        .await;
    assert!(matches!(again, Err(ConsentError::Expired)), "{again:?}");
    let next = sign_in.sign_in(sign_in_on("device-1")).await;
    assert!(matches!(next, Ok(SignInOutcome::SignedIn(_))), "{next:?}");
}

#[tokio::test]
async fn the_second_factor_comes_first_then_the_documents() {
    let world = World::with_challenges(ChallengeSettings {
        challenge_new_devices: true,
        ..ChallengeSettings::default()
    });
    let mi_id = world.signed_up().await.session.mi_id;
    world.store.set_consent(mi_id, "2024-01", PRIVACY_VERSION);
    let sign_in = &world.services.sign_in;

    let Ok(SignInOutcome::Challenged { challenge, .. }) =
        sign_in.sign_in(sign_in_on("device-2")).await
    else {
        panic!("the second factor is asked first");
    };
    let token = world.verification_token(PHONE, Purpose::SignInSecondFactor);
    let proof = SecondFactorProof::VerificationToken(token);
    let outcome = sign_in
        .complete_sign_in(&challenge.challenge_id, proof.clone())
        .await
        .expect("the right code");
    let CompleteSignInOutcome::ConsentRequired {
        challenge: step,
        documents,
    } = outcome
    else {
        panic!("the documents are asked after the second factor: {outcome:?}");
    };
    let consent_step = expect_consent_step(SignInOutcome::ConsentRequired {
        challenge: step,
        documents,
    });
    assert_eq!(consent_step.methods, ["pwd", "sms", "mfa"]);
    let spent = sign_in
        .complete_sign_in(&challenge.challenge_id, proof)
        .await;
    assert!(
        spent.is_err(),
        "the second-factor challenge is spent: {spent:?}"
    );

    let tokens = sign_in
        .accept_legal_documents(accept(&consent_step, TERMS_VERSION, PRIVACY_VERSION))
        .await
        .expect("accepted");
    assert_eq!(tokens.session.device.device_id, "device-2");
    assert_eq!(tokens.session.methods, ["pwd", "sms", "mfa"]);
    assert_eq!(
        tokens.session.auth_time, consent_step.authenticated_at,
        "reading the documents is not a recent authentication"
    );
}
