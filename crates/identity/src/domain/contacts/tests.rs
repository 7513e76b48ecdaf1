//! Unit tests of the contacts family against the in-memory store.

use crate::domain::ContactsError;
use crate::domain::events::IdentityEvent;
use crate::domain::testing::{PHONE, World};
use mi_contracts::Purpose;

const EMAIL: &str = "jane.doe@example.com";

#[tokio::test]
async fn recovery_contacts_are_added_promoted_and_removed_unless_primary() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let caller = world.caller(&tokens);
    let contacts = &world.services.contacts;
    world.clear_events();
    let token = world.verification_token(EMAIL, Purpose::AddRecoveryContact);
    let account = contacts
        .add_recovery_contact(&caller, &token)
        .await
        .expect("added");
    assert_eq!(account.contact_values(), [PHONE, EMAIL]);
    let events = world.events();
    let [IdentityEvent::RecoveryContactAdded { audience, .. }] = &events[..] else {
        panic!("expected RecoveryContactAdded, got {events:?}");
    };
    assert_eq!(
        audience.contacts,
        [PHONE, EMAIL],
        "the new contact hears of it"
    );

    let reused = contacts.add_recovery_contact(&caller, &token).await;
    assert!(
        matches!(reused, Err(ContactsError::TokenUsed)),
        "{reused:?}"
    );
    let primary = contacts.remove_recovery_contact(&caller, PHONE).await;
    assert!(
        matches!(primary, Err(ContactsError::PrimaryContact)),
        "{primary:?}"
    );
    let promoted = contacts
        .set_primary_contact(&caller, EMAIL)
        .await
        .expect("promoted");
    assert_eq!(promoted.contact_values(), [EMAIL, PHONE]);
    let removed = contacts
        .remove_recovery_contact(&caller, PHONE)
        .await
        .expect("removed");
    assert_eq!(removed.contact_values(), [EMAIL]);
}

#[tokio::test]
async fn contact_changes_need_a_recent_proof() {
    let world = World::new();
    let tokens = world.signed_up().await;
    let stale = world.stale_caller(&tokens);
    let token = world.verification_token(EMAIL, Purpose::AddRecoveryContact);
    let refused = world
        .services
        .contacts
        .add_recovery_contact(&stale, &token)
        .await;
    assert!(
        matches!(refused, Err(ContactsError::ReauthenticationRequired)),
        "{refused:?}"
    );
    let malformed = world
        .services
        .contacts
        .set_primary_contact(&world.caller(&tokens), "nobody")
        .await;
    assert!(
        matches!(malformed, Err(ContactsError::InvalidValue(_))),
        "{malformed:?}"
    );
}
