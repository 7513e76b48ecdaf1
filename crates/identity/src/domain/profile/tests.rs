//! Unit tests of the profile family against the in-memory store.

use crate::domain::events::IdentityEvent;
use crate::domain::testing::World;
use crate::domain::{ProfileError, ProfileUpdate};

#[tokio::test]
async fn a_profile_update_records_the_fields_it_changed() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let caller = world.caller(&tokens);
    let profile = &world.services.profile;
    world.clear_events();
    let update = ProfileUpdate::parse(&["locale".into()], "", "", "en").expect("mask");
    let account = profile
        .update_profile(&caller, update)
        .await
        .expect("updated");
    assert_eq!(
        (account.locale.as_str(), account.region.as_str()),
        ("en", "CN")
    );
    assert_eq!(profile.get_account(&caller).await.expect("read"), account);
    let events = world.events();
    assert!(
        matches!(&events[..], [IdentityEvent::ProfileUpdated { changed_fields, .. }] if changed_fields == &["locale"]),
        "{events:?}"
    );
}

#[tokio::test]
async fn deleting_needs_a_recent_proof_and_happens_once() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let profile = &world.services.profile;
    let stale = profile.delete_account(&world.stale_caller(&tokens)).await;
    assert!(
        matches!(stale, Err(ProfileError::ReauthenticationRequired)),
        "{stale:?}"
    );
    let caller = world.caller(&tokens);
    profile.delete_account(&caller).await.expect("deleted");
    let gone = profile.delete_account(&caller).await;
    assert!(matches!(gone, Err(ProfileError::AccountGone)), "{gone:?}");
    let read = profile.get_account(&caller).await;
    assert!(matches!(read, Err(ProfileError::AccountGone)), "{read:?}");
}
