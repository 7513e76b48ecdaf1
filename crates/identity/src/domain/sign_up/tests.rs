//! Unit tests of the sign-up family against the in-memory store.

use crate::domain::events::IdentityEvent;
use crate::domain::testing::{PHONE, PRIVACY_VERSION, TERMS_VERSION, World};
use crate::domain::{AccountLookup, SignUpError, SignUpRequest};
use mi_contracts::Purpose;

#[tokio::test]
async fn a_sign_up_creates_the_account_signed_in_and_spends_its_token() {
    let world = World::new();
    let token = world.verification_token(PHONE, Purpose::SignUp);
    let tokens = world
        .services
        .sign_up
        .sign_up(world.sign_up_request(token.clone()))
        .await
        .expect("sign up");
    let account = world
        .store
        .account(tokens.session.mi_id)
        .await
        .expect("read")
        .expect("the account");
    assert_eq!(account.contacts[0].value.as_str(), PHONE);
    assert!(account.contacts[0].primary);
    let events = world.events();
    assert!(
        matches!(
            &events[..],
            [
                IdentityEvent::AccountCreated { .. },
                IdentityEvent::SignedIn {
                    new_device: false,
                    ..
                },
            ]
        ),
        "{events:?}"
    );

    let again = world
        .services
        .sign_up
        .sign_up(world.sign_up_request(token))
        .await;
    assert!(matches!(again, Err(SignUpError::TokenUsed)), "{again:?}");
    let fresh = world.verification_token(PHONE, Purpose::SignUp);
    let taken = world
        .services
        .sign_up
        .sign_up(world.sign_up_request(fresh))
        .await;
    assert!(
        matches!(taken, Err(SignUpError::AccountExists)),
        "{taken:?}"
    );
}

#[tokio::test]
async fn a_sign_up_is_refused_before_anything_is_stored() {
    let world = World::new();
    let wrong_purpose = world.verification_token(PHONE, Purpose::PasswordReset);
    let refused = world
        .services
        .sign_up
        .sign_up(world.sign_up_request(wrong_purpose))
        .await;
    assert!(
        matches!(refused, Err(SignUpError::TokenInvalid)),
        "{refused:?}"
    );

    let mut bad_fields = world.sign_up_request(world.verification_token(PHONE, Purpose::SignUp));
    bad_fields.region = "India".into();
    bad_fields.locale = "english!".into();
    let Err(SignUpError::InvalidRequest(problems)) =
        world.services.sign_up.sign_up(bad_fields).await
    else {
        panic!("expected InvalidRequest");
    };
    let fields: Vec<&str> = problems.iter().map(|(field, _)| *field).collect();
    assert_eq!(fields, ["region", "locale"]);
    assert!(world.events().is_empty());
}

#[tokio::test]
async fn only_the_current_document_versions_create_an_account_and_the_consent_is_recorded() {
    let world = World::new();
    let request = || world.sign_up_request(world.verification_token(PHONE, Purpose::SignUp));
    for (terms, privacy) in [("banana", PRIVACY_VERSION), (TERMS_VERSION, "1999-01")] {
        let refused = world
            .services
            .sign_up
            .sign_up(SignUpRequest {
                terms_version: terms.into(),
                privacy_policy_version: privacy.into(),
                ..request()
            })
            .await;
        let Err(SignUpError::ConsentOutdated(outdated)) = refused else {
            panic!("{terms}/{privacy} accepted: {refused:?}");
        };
        assert_eq!(outdated.len(), 1, "{outdated:?}");
    }
    let unnamed = world
        .services
        .sign_up
        .sign_up(SignUpRequest {
            privacy_policy_version: " ".into(),
            ..request()
        })
        .await;
    assert!(
        matches!(unnamed, Err(SignUpError::TermsNotAccepted)),
        "{unnamed:?}"
    );
    assert!(world.events().is_empty(), "nothing stored");

    let tokens = world
        .services
        .sign_up
        .sign_up(request())
        .await
        .expect("current");
    let record = world.store.consents_of(tokens.session.mi_id);
    assert_eq!(record.len(), 1, "{record:?}");
    let (consent, client_address) = &record[0];
    assert_eq!(
        (
            consent.terms_version.as_str(),
            consent.privacy_policy_version.as_str()
        ),
        (TERMS_VERSION, PRIVACY_VERSION)
    );
    assert_eq!(consent.accepted_at, tokens.session.created_at);
    assert_eq!(client_address, "203.0.113.7");
}
