//! Sessions over gRPC: refresh-token rotation and reuse detection, listing and revoking
//! sessions, and the refusal of every access token that should not work.

use crate::support::{
    Backends, TestPlatform, access_claims_for, authed, in_both_modes, reason, test_device,
    unique_email, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::crypto::SecretKey;
use mi_platform::events;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::Channel;
use mi_proto::events::v1::SessionRevoked;
use mi_proto::identity::v1::{
    GetAccountRequest, ListSessionsRequest, RevokeAllSessionsRequest, RevokeSessionRequest, Session,
};
use tonic::Code;

in_both_modes!(
    refresh_rotates_and_a_reused_refresh_token_ends_the_session,
    sessions_are_listed_and_revoked,
    bad_access_tokens_are_refused,
);

/// The session-revoked event of one session.
async fn revoked_event(platform: &TestPlatform, session_id: &str) -> SessionRevoked {
    let event = platform
        .first_event("identity.events", |event| {
            events::payload::<SessionRevoked>(event)
                .and_then(Result::ok)
                .is_some_and(|revoked| revoked.session_id == session_id)
        })
        .await;
    events::payload(&event).unwrap().unwrap()
}

async fn refresh_rotates_and_a_reused_refresh_token_ends_the_session(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let (first, _) = platform
        .create_account(&unique_phone_number(), Channel::Sms)
        .await;

    let second = platform.refresh(&first.refresh_token).await.unwrap();
    assert_eq!(second.mi_id, first.mi_id);
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    let claims = platform.access_claims(&second.access_token).await;
    assert_eq!(claims.sid, first.session_id);
    assert_eq!(
        platform.account(&second.access_token).await.unwrap().mi_id,
        first.mi_id
    );
    let third = platform.refresh(&second.refresh_token).await.unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);

    let garbage = platform.refresh("not-a-refresh-token").await.unwrap_err();
    assert_eq!(garbage.code(), Code::Unauthenticated, "{garbage:?}");

    // Reusing a spent refresh token ends the whole session.
    let reused = platform.refresh(&first.refresh_token).await.unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated, "{reused:?}");
    assert_eq!(reason(&reused), Some(Reason::RefreshTokenReused));
    let newest = platform.refresh(&third.refresh_token).await.unwrap_err();
    assert_eq!(newest.code(), Code::Unauthenticated, "{newest:?}");
    platform
        .assert_access_refused(&third.access_token, "access token of a revoked session")
        .await;
    platform
        .assert_access_refused(&first.access_token, "first access token")
        .await;

    let event = revoked_event(&platform, &first.session_id).await;
    assert_eq!(event.mi_id, first.mi_id);
    assert_eq!(event.reason, "refresh_token_reused");
    platform.stop().await;
}

async fn list_sessions(platform: &TestPlatform, access_token: &str) -> Vec<Session> {
    platform
        .identity()
        .await
        .list_sessions(authed(ListSessionsRequest::default(), access_token))
        .await
        .unwrap()
        .into_inner()
        .sessions
}

async fn sessions_are_listed_and_revoked(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let (signed_up, password) = platform.create_account(&email, Channel::Email).await;
    let laptop = platform
        .sign_in_for_tokens(&email, &password, test_device("laptop-2"))
        .await;
    let tablet = platform
        .sign_in_for_tokens(
            &signed_up.mi_id.to_string(),
            &password,
            test_device("tablet-3"),
        )
        .await;

    let sessions = list_sessions(&platform, &tablet.access_token).await;
    let listed: Vec<(&str, &str, bool)> = sessions
        .iter()
        .map(|session| {
            (
                session.session_id.as_str(),
                session.device.as_ref().unwrap().device_id.as_str(),
                session.current,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (tablet.session_id.as_str(), "tablet-3", true),
            (laptop.session_id.as_str(), "laptop-2", false),
            (signed_up.session_id.as_str(), "phone-1", false),
        ],
        "newest first, the caller's marked current"
    );
    for session in &sessions {
        assert!(session.create_time.is_some() && session.last_used_time.is_some());
        assert!(!session.client_address.is_empty(), "{session:?}");
    }
    assert_eq!(sessions[1].device, Some(test_device("laptop-2")));
    let from_laptop = list_sessions(&platform, &laptop.access_token).await;
    let current: Vec<&str> = from_laptop
        .iter()
        .filter(|session| session.current)
        .map(|session| session.session_id.as_str())
        .collect();
    assert_eq!(current, [laptop.session_id.as_str()]);

    // Revoking another session ends it; the caller's stays.
    platform
        .identity()
        .await
        .revoke_session(authed(
            RevokeSessionRequest {
                session_id: laptop.session_id.clone(),
            },
            &tablet.access_token,
        ))
        .await
        .unwrap();
    platform
        .assert_session_ended(&laptop, "revoked session")
        .await;
    platform.account(&tablet.access_token).await.unwrap();
    let remaining: Vec<String> = list_sessions(&platform, &tablet.access_token)
        .await
        .into_iter()
        .map(|session| session.session_id)
        .collect();
    assert_eq!(
        remaining,
        [tablet.session_id.clone(), signed_up.session_id.clone()]
    );
    let event = revoked_event(&platform, &laptop.session_id).await;
    assert_eq!(event.mi_id, signed_up.mi_id);
    assert_eq!(event.reason, "revoked");

    // Revoking all ends the caller's session too.
    let all = platform
        .identity()
        .await
        .revoke_all_sessions(authed(RevokeAllSessionsRequest {}, &tablet.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.revoked, 2);
    platform
        .assert_access_refused(&tablet.access_token, "own session after revoke all")
        .await;
    platform
        .assert_access_refused(&signed_up.access_token, "other session after revoke all")
        .await;
    let event = revoked_event(&platform, &tablet.session_id).await;
    assert_eq!(event.reason, "all_revoked");
    platform.stop().await;
}

async fn bad_access_tokens_are_refused(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let (tokens, _) = platform
        .create_account(&unique_phone_number(), Channel::Sms)
        .await;
    platform.account(&tokens.access_token).await.unwrap();

    let anonymous = platform
        .identity()
        .await
        .get_account(GetAccountRequest {})
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    let mut basic = tonic::Request::new(GetAccountRequest {});
    basic.metadata_mut().insert(
        "authorization",
        format!("Basic {}", tokens.access_token).parse().unwrap(),
    );
    let basic = platform
        .identity()
        .await
        .get_account(basic)
        .await
        .unwrap_err();
    assert_eq!(basic.code(), Code::Unauthenticated, "{basic:?}");

    let genuine = access_claims_for(tokens.mi_id, &tokens.session_id);
    let now = genuine.iat;
    let foreign = TokenSigner::from_seed(&SecretKey::generate(), None).unwrap();
    let own_key_id = platform.signing_keys().await[0].key_id.clone();
    let impostor = TokenSigner::from_seed(&SecretKey::generate(), Some(&own_key_id)).unwrap();
    let forge = |claims| platform.config.sign_access_token(&claims);
    let cases = [
        ("garbage", "not.a.jwt".to_owned()),
        ("foreign key", foreign.sign(&genuine).unwrap()),
        ("foreign key, own key id", impostor.sign(&genuine).unwrap()),
        (
            "expired",
            forge(mi_platform::auth::AccessClaims {
                iat: now - 1200,
                auth_time: now - 1200,
                exp: now - 600,
                ..genuine.clone()
            }),
        ),
        (
            "other audience",
            forge(mi_platform::auth::AccessClaims {
                aud: "elsewhere".into(),
                ..genuine.clone()
            }),
        ),
        (
            "unknown session",
            forge(mi_platform::auth::AccessClaims {
                sid: uuid::Uuid::new_v4().to_string(),
                ..genuine.clone()
            }),
        ),
        (
            "session of another account",
            forge(mi_platform::auth::AccessClaims {
                sub: (tokens.mi_id + 1).to_string(),
                ..genuine.clone()
            }),
        ),
    ];
    for (what, token) in &cases {
        platform.assert_access_refused(token, what).await;
    }
    // The forged token with genuine claims is accepted: the refusals above are for the
    // reasons named, not because the harness signs differently.
    platform.account(&forge(genuine)).await.unwrap();
    platform.stop().await;
}
