//! Sessions end and survive as they should (issue 10, item 10): an absolute lifetime however
//! often a session is refreshed (Keycloak's SSO Session Max), and two refreshes racing with
//! one refresh token both get the same successor, while a token presented after the short
//! grace still ends the session.

use std::time::Duration;

use crate::support::{
    Backends, TestConfig, TestPlatform, expect_refusal, in_both_modes, test_device,
    unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use tonic::Code;

in_both_modes!(
    a_session_ends_at_its_maximum_lifetime,
    racing_refreshes_share_a_successor_and_an_old_token_still_ends_the_session
);

/// With `identity.tokens.session_max_lifetime` at 4 s: refreshing works and the refresh
/// token never outlives the session; after 4 s refresh fails with SESSION_EXPIRED, the access
/// token is refused, and the person signs in again.
async fn a_session_ends_at_its_maximum_lifetime(backends: Backends) {
    let lifetime = Duration::from_secs(4);
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.tokens.session_max_lifetime", "4s");
    let platform = TestPlatform::start_with(config).await;
    let phone = unique_phone_number();
    let (first, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    // The session started before this: its end is at most a lifetime from now.
    let started = std::time::SystemTime::now();
    let second = platform.refresh(&first.refresh_token).await.unwrap();
    let refresh_expires = second.refresh_token_expire_time.unwrap().seconds;
    let session_end = started + lifetime + Duration::from_secs(1);
    let session_end = session_end
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        u64::try_from(refresh_expires).unwrap() <= session_end,
        "the refresh token lives until {refresh_expires}, past the session's end {session_end}"
    );

    tokio::time::sleep(lifetime + Duration::from_millis(300)).await;
    expect_refusal(
        platform.refresh(&second.refresh_token).await,
        Code::Unauthenticated,
        Some(Reason::SessionExpired),
        "a refresh after the session's maximum lifetime",
    );
    platform
        .assert_access_refused(&second.access_token, "an access token of an ended session")
        .await;
    platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    platform.stop().await;
}

/// Two refreshes at once with one token both succeed with the same successor, which keeps
/// working; the first token presented again after the grace (2 s here) ends the session.
async fn racing_refreshes_share_a_successor_and_an_old_token_still_ends_the_session(
    backends: Backends,
) {
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.tokens.refresh_reuse_grace", "2s");
    let platform = TestPlatform::start_with(config).await;
    let (first, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (one, other) = tokio::join!(
        platform.refresh(&first.refresh_token),
        platform.refresh(&first.refresh_token),
    );
    let (one, other) = (one.unwrap(), other.unwrap());
    assert_eq!(one.refresh_token, other.refresh_token, "the same successor");
    assert_ne!(one.refresh_token, first.refresh_token);
    platform.account(&one.access_token).await.unwrap();
    platform.account(&other.access_token).await.unwrap();

    tokio::time::sleep(Duration::from_millis(2300)).await;
    expect_refusal(
        platform.refresh(&first.refresh_token).await,
        Code::Unauthenticated,
        Some(Reason::RefreshTokenReused),
        "the first token after the grace",
    );
    platform
        .assert_session_ended(&one, "after an old token came back")
        .await;
    platform.stop().await;
}
