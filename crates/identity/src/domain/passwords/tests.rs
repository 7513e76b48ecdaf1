//! Unit tests of the passwords family against the in-memory store.

use mi_contracts::{Purpose, UnixMillis};
use secrecy::SecretString;

use crate::domain::events::IdentityEvent;
use crate::domain::testing::{PHONE, STRONG_PASSWORD, World};
use crate::domain::{PasswordError, SessionStore, SignInRequest, StartResetError};

const NEW_PASSWORD: &str = "Marmalade-Comet-93";

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_ends_other_sessions() {
    let world = World::new();
    let first = world.signed_up().await;
    let second = world.signed_in_on("device-2").await;
    let caller = world.caller(&first);
    let passwords = &world.services.passwords;
    let wrong = passwords
        .change_password(
            &caller,
            &SecretString::from("Wrong-Password-1"),
            &SecretString::from(NEW_PASSWORD),
            "203.0.113.9",
        )
        .await;
    assert!(
        matches!(wrong, Err(PasswordError::WrongPassword)),
        "{wrong:?}"
    );
    let weak = passwords
        .change_password(
            &caller,
            &SecretString::from(STRONG_PASSWORD),
            &SecretString::from("password"),
            "203.0.113.9",
        )
        .await;
    assert!(
        matches!(weak, Err(PasswordError::WeakPassword(_))),
        "{weak:?}"
    );
    world.clear_events();
    let revoked = passwords
        .change_password(
            &caller,
            &SecretString::from(STRONG_PASSWORD),
            &SecretString::from(NEW_PASSWORD),
            "203.0.113.9",
        )
        .await
        .expect("changed");
    assert_eq!(revoked, 1);
    let mi_id = caller.mi_id;
    assert!(
        world
            .store
            .session_ids(mi_id)
            .contains(&first.session.session_id)
    );
    let now = UnixMillis::now();
    let ended = world
        .store
        .active_session(&second.session.session_id, now)
        .await;
    assert_eq!(ended.expect("read"), None);
    let events = world.events();
    assert!(
        matches!(
            &events[..],
            [
                IdentityEvent::SessionRevoked { .. },
                IdentityEvent::PasswordChanged { reset: false, .. },
            ]
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_reset_needs_a_token_for_a_contact_of_an_account() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let passwords = &world.services.passwords;
    let new_password = SecretString::from(NEW_PASSWORD);
    let stranger = world.verification_token("+8613900139000", Purpose::PasswordReset);
    let unknown = passwords.reset_password(&stranger, &new_password).await;
    assert!(
        matches!(unknown, Err(PasswordError::NoAccountForContact)),
        "{unknown:?}"
    );
    let token = world.verification_token(PHONE, Purpose::PasswordReset);
    let mi_id = passwords
        .reset_password(&token, &new_password)
        .await
        .expect("reset");
    assert_eq!(mi_id, tokens.session.mi_id);
    assert!(
        world.store.session_ids(mi_id).is_empty(),
        "every session ends"
    );
    let reused = passwords.reset_password(&token, &new_password).await;
    assert!(
        matches!(reused, Err(PasswordError::TokenUsed)),
        "{reused:?}"
    );
    let request = SignInRequest {
        identifier: PHONE.into(),
        password: new_password,
        device: crate::domain::testing::device("device-1"),
        client_address: "203.0.113.9".into(),
        captcha_pass: None,
    };
    world
        .services
        .sign_in
        .sign_in(request)
        .await
        .expect("the new password signs in");
}

#[tokio::test]
async fn a_reset_started_from_a_mi_id_offers_its_contacts_and_an_unknown_one_none() {
    let world = World::new();
    let mi_id = world.signed_up().await.session.mi_id;
    let passwords = &world.services.passwords;
    let started = passwords
        .start_reset(&mi_id.to_string(), "203.0.113.9")
        .await
        .expect("started");
    let [contact] = started.contacts.as_slice() else {
        panic!("one contact expected: {:?}", started.contacts);
    };
    assert_eq!(contact.masked, "+86 138****8000");
    let claims = world
        .send_tokens
        .open(&contact.send_token, UnixMillis::now())
        .expect("opens");
    assert_eq!(
        (
            claims.challenge_id,
            claims.destination.as_str(),
            claims.purpose
        ),
        (started.challenge_id.clone(), PHONE, Purpose::PasswordReset)
    );
    assert_eq!(claims.expires_at, started.expires_at);

    // The phone number names the same account; a Mi ID no account has gets the same reply,
    // without contacts.
    let by_phone = passwords.start_reset(PHONE, "203.0.113.9").await;
    assert_eq!(by_phone.expect("started").contacts.len(), 1);
    let unknown = passwords
        .start_reset("9999999999", "203.0.113.9")
        .await
        .expect("same shape");
    assert!(unknown.contacts.is_empty() && !unknown.challenge_id.is_empty());

    // Three starts an hour from one address in this world; another address is not held back.
    let limited = passwords.start_reset(PHONE, "203.0.113.9").await;
    assert!(
        matches!(limited, Err(StartResetError::RateLimited { .. })),
        "{limited:?}"
    );
    passwords
        .start_reset(PHONE, "203.0.113.10")
        .await
        .expect("another client");
    let malformed = passwords.start_reset("not a contact", "203.0.113.10").await;
    assert!(
        matches!(malformed, Err(StartResetError::InvalidIdentifier(_))),
        "{malformed:?}"
    );
}
