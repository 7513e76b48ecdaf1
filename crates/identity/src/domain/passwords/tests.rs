//! Unit tests of the passwords family against the in-memory store.

use mi_contracts::{Purpose, UnixMillis};
use secrecy::SecretString;

use crate::domain::events::IdentityEvent;
use crate::domain::testing::{PHONE, STRONG_PASSWORD, World};
use crate::domain::{PasswordError, SessionStore, SignInRequest};

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
