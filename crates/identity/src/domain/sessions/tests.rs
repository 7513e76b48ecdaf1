//! Unit tests of the sessions family against the in-memory store.

use std::time::Duration;

use mi_platform::auth::AccessClaims;

use crate::domain::events::IdentityEvent;
use crate::domain::testing::World;
use crate::domain::{CallerError, RefreshError, SessionError};

#[tokio::test]
async fn a_reused_refresh_token_ends_the_session() {
    let world = World::new();
    let first = world.signed_up().await;
    let sessions = &world.services.sessions;
    let second = sessions
        .refresh(&first.tokens.refresh_token)
        .await
        .expect("rotated");
    assert_eq!(second.session.session_id, first.session.session_id);
    assert_ne!(second.tokens.refresh_token, first.tokens.refresh_token);
    world.clear_events();

    let reused = sessions.refresh(&first.tokens.refresh_token).await;
    assert!(matches!(reused, Err(RefreshError::Reused)), "{reused:?}");
    let events = world.events();
    assert!(
        matches!(&events[..], [IdentityEvent::SessionRevoked { reason, .. }] if reason == "refresh_token_reused"),
        "{events:?}"
    );
    let after = sessions.refresh(&second.tokens.refresh_token).await;
    assert!(matches!(after, Err(RefreshError::Invalid)), "{after:?}");
    let malformed = sessions.refresh("not-a-token").await;
    assert!(
        matches!(malformed, Err(RefreshError::Invalid)),
        "{malformed:?}"
    );
}

#[tokio::test]
async fn refreshes_racing_with_one_token_share_its_successor_until_it_is_traded_in() {
    let world = World::with_reuse_grace(Duration::from_secs(10));
    let first = world.signed_up().await;
    let sessions = &world.services.sessions;
    world.clear_events();
    let (one, other) = tokio::join!(
        sessions.refresh(&first.tokens.refresh_token),
        sessions.refresh(&first.tokens.refresh_token),
    );
    let (one, other) = (one.expect("refreshed"), other.expect("refreshed too"));
    assert_eq!(one.tokens.refresh_token, other.tokens.refresh_token);
    assert_ne!(one.tokens.refresh_token, first.tokens.refresh_token);
    assert!(world.events().is_empty(), "{:?}", world.events());

    // Once the successor is traded in, the first token is a reuse even within the grace.
    let third = sessions
        .refresh(&one.tokens.refresh_token)
        .await
        .expect("rotated");
    let reused = sessions.refresh(&first.tokens.refresh_token).await;
    assert!(matches!(reused, Err(RefreshError::Reused)), "{reused:?}");
    let after = sessions.refresh(&third.tokens.refresh_token).await;
    assert!(matches!(after, Err(RefreshError::Invalid)), "{after:?}");
}

#[tokio::test]
async fn a_revoked_session_names_no_caller() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let sessions = &world.services.sessions;
    let claims = AccessClaims {
        iss: String::new(),
        aud: String::new(),
        sub: tokens.session.mi_id.to_string(),
        sid: tokens.session.session_id.clone(),
        amr: Vec::new(),
        auth_time: 0,
        iat: 0,
        exp: 0,
        jti: String::new(),
    };
    let caller = sessions.caller(&claims).await.expect("the caller");
    assert_eq!(caller, world.caller(&tokens));
    let unknown = sessions.revoke_session(&caller, "no-such-session").await;
    assert!(
        matches!(unknown, Err(SessionError::SessionNotFound)),
        "{unknown:?}"
    );
    sessions
        .revoke_session(&caller, &caller.session_id)
        .await
        .expect("signed out");
    let gone = sessions.caller(&claims).await;
    assert!(matches!(gone, Err(CallerError::SessionRevoked)), "{gone:?}");
}
