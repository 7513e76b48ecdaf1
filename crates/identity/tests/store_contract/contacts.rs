//! Contacts: how an account lists them, adding within a limit and only to a live account,
//! removing all but the primary one, and swapping the primary one, also under races.

use mi_contracts::{MiId, UnixMillis};
use mi_identity::domain::TwoFactorStatus;
use mi_identity::domain::events::{self, IdentityEvent};
use mi_identity::domain::{AddContactOutcome, ContactStore, CreateAccountOutcome};
use mi_identity::storage::SqlIdentityStore;
use mi_proto::EventPayload;
use mi_proto::events::v1 as wire;

use crate::support::{
    EMAIL_A, EMAIL_B, EMAIL_C, Fixture, PHONE_A, PHONE_B, PHONE_C, SignUp, account_of, add_contact,
    add_contact_with, confirm_totp, contact, delete, event_types, find, outbox_len, pend_totp,
    race, recovery, rows, set_codes, shifted, sign_up, sign_up_round, spend, token, two_accounts,
    two_factor, two_factor_of, types,
};

/// Makes `raw` the account's primary contact.
async fn set_primary(store: &SqlIdentityStore, mi_id: MiId, raw: &str) -> bool {
    store
        .set_primary_contact(mi_id, &contact(raw))
        .await
        .expect("primary")
}

/// Removes `raw` from the account's contacts, with `events`.
async fn remove(
    store: &SqlIdentityStore,
    mi_id: MiId,
    raw: &str,
    events: &[IdentityEvent],
) -> bool {
    store
        .remove_contact(mi_id, &contact(raw), events)
        .await
        .expect("remove")
}

pub(crate) async fn account_lists_contacts_primary_first_with_two_factor_state(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    let primary = &signed_up.account.contacts[0];

    // Recovery contacts verified before and after the primary one.
    let earlier = recovery(EMAIL_A, shifted(primary.verified_at, -60_000));
    let later = recovery(PHONE_B, shifted(primary.verified_at, 60_000));
    for added in [&later, &earlier] {
        assert_eq!(
            add_contact(store, id, added, 5).await,
            AddContactOutcome::Added
        );
    }
    let account = account_of(store, id).await;
    assert_eq!(
        account.contacts,
        vec![primary.clone(), earlier.clone(), later.clone()],
        "the primary contact first, then by verification time"
    );
    assert_eq!(account.two_factor, TwoFactorStatus::default());

    // Second factors show in the account.
    assert!(set_codes(store, id, true).await);
    pend_totp(store, id, b"sealed-secret").await;
    assert_eq!(
        two_factor_of(store, id).await,
        two_factor(false, true, 0),
        "a pending secret is not on"
    );
    let codes: Vec<String> = (0..4).map(|index| format!("code-{index}")).collect();
    assert!(confirm_totp(store, id, b"sealed-secret", 100, &codes, &[]).await);
    assert_eq!(two_factor_of(store, id).await, two_factor(true, true, 4));

    // Another contact becomes primary: exactly one primary, listed first.
    assert!(set_primary(store, id, PHONE_B).await);
    let account = account_of(store, id).await;
    let primaries: Vec<(&str, bool)> = account
        .contacts
        .iter()
        .map(|listed| (listed.value.as_str(), listed.primary))
        .collect();
    assert_eq!(
        primaries,
        vec![(PHONE_B, true), (EMAIL_A, false), (PHONE_A, false)],
        "the new primary first, the others by verification time"
    );
    // Not a contact of this account: nothing changes.
    let other = sign_up(store, 1_000_000_002, PHONE_C).await;
    assert!(!set_primary(store, id, PHONE_C).await);
    assert!(!set_primary(store, id, EMAIL_C).await);
    assert_eq!(account_of(store, id).await, account);
    assert_eq!(account_of(store, other.mi_id()).await, other.account);
    assert_eq!(rows(database, "contacts", other.mi_id()).await, 1);
}

pub(crate) async fn contacts_are_added_within_limits_and_removed_unless_primary(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, other) = two_accounts(store).await;
    let id = signed_up.mi_id();
    let now = UnixMillis::now();
    const MAX: usize = 3;

    // Added, with its event.
    let email = recovery(EMAIL_A, now);
    let added = [events::recovery_contact_added(
        &signed_up.account,
        &email.value,
    )];
    let outcome = store
        .add_contact(id, &email, &token(&email.value), MAX, &added)
        .await
        .expect("add");
    assert_eq!(outcome, AddContactOutcome::Added);
    assert_eq!(find(store, EMAIL_A).await, Some(id));
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::RecoveryContactAdded::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);

    // In use by this account or another: nothing written, the token not spent.
    let outbox_before = outbox_len(database).await;
    let unspent = "the token of a refused addition stays unspent";
    for (raw, owner) in [(PHONE_A, id), (EMAIL_A, id), (PHONE_B, other.mi_id())] {
        let in_use = recovery(raw, now);
        let in_use_token = token(&in_use.value);
        let outcome = add_contact_with(store, id, &in_use, &in_use_token, MAX).await;
        assert_eq!(outcome, AddContactOutcome::InUse, "{raw}");
        assert_eq!(find(store, raw).await, Some(owner), "{raw}");
        assert!(spend(store, &in_use_token).await, "{unspent}");
    }
    assert_eq!(account_of(store, other.mi_id()).await, other.account);
    assert_eq!(rows(database, "contacts", id).await, 2);
    assert_eq!(outbox_len(database).await, outbox_before);

    // A spent token: nothing written.
    let phone = recovery(PHONE_C, now);
    let outcome = add_contact_with(store, id, &phone, &signed_up.token, MAX).await;
    assert_eq!(outcome, AddContactOutcome::TokenSpent);
    assert_eq!(find(store, PHONE_C).await, None);

    // Up to the limit, then no more.
    assert_eq!(
        add_contact(store, id, &phone, MAX).await,
        AddContactOutcome::Added
    );
    assert_eq!(rows(database, "contacts", id).await, 3);
    let one_too_many = recovery(EMAIL_B, now);
    let too_many_token = token(&one_too_many.value);
    let outcome = add_contact_with(store, id, &one_too_many, &too_many_token, MAX).await;
    assert_eq!(outcome, AddContactOutcome::TooMany);
    assert_eq!(find(store, EMAIL_B).await, None);
    assert_eq!(rows(database, "contacts", id).await, 3);
    assert!(spend(store, &too_many_token).await, "{unspent}");

    // The primary contact stays; recovery contacts go, with their event.
    let account = account_of(store, id).await;
    let removed = |raw: &str| [events::recovery_contact_removed(&account, &contact(raw))];
    let outbox_before = outbox_len(database).await;
    let gone = remove(store, id, PHONE_A, &removed(PHONE_A)).await;
    assert!(!gone, "the primary contact is not removed");
    assert_eq!(find(store, PHONE_A).await, Some(id));
    let gone = remove(store, id, PHONE_B, &removed(PHONE_B)).await;
    assert!(!gone, "another account's contact is not removed");
    assert_eq!(find(store, PHONE_B).await, Some(other.mi_id()));
    assert!(!remove(store, id, EMAIL_C, &removed(EMAIL_C)).await);
    assert_eq!(outbox_len(database).await, outbox_before);
    assert!(remove(store, id, EMAIL_A, &removed(EMAIL_A)).await);
    assert_eq!(find(store, EMAIL_A).await, None);
    assert_eq!(outbox_len(database).await, outbox_before + 1);
    assert!(!remove(store, id, EMAIL_A, &[]).await, "removed once");
    // The freed contact may be added again, to any account.
    let outcome = add_contact(store, other.mi_id(), &recovery(EMAIL_A, now), MAX).await;
    assert_eq!(outcome, AddContactOutcome::Added);

    // After a swap the former primary may go, the new one may not.
    assert!(set_primary(store, id, PHONE_C).await);
    assert!(!remove(store, id, PHONE_C, &[]).await);
    assert!(remove(store, id, PHONE_A, &[]).await);
    let left = account_of(store, id).await.contacts;
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].value.as_str(), left[0].primary), (PHONE_C, true));
}

pub(crate) async fn concurrent_contact_additions_respect_the_limit(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    const MAX: usize = 2;
    for round in 0..5u64 {
        let id = sign_up_round(store, round).await.mi_id();
        let outcomes: Vec<Result<AddContactOutcome, String>> = race(6, |index| {
            let store = store.clone();
            async move {
                let raw = format!("round{round}.racer{index}@example.com");
                let added = recovery(&raw, UnixMillis::now());
                store
                    .add_contact(id, &added, &token(&added.value), MAX, &[])
                    .await
                    .map_err(|error| format!("{error:#}"))
            }
        })
        .await;
        let added = outcomes
            .iter()
            .filter(|outcome| **outcome == Ok(AddContactOutcome::Added))
            .count();
        assert_eq!(
            rows(database, "contacts", id).await,
            2,
            "round {round}: an account holds at most {MAX} contacts; outcomes {outcomes:?}"
        );
        assert_eq!(added, 1, "round {round}: outcomes {outcomes:?}");
        assert!(
            outcomes.iter().all(|outcome| matches!(
                outcome,
                Ok(AddContactOutcome::Added | AddContactOutcome::TooMany)
            )),
            "round {round}: concurrent additions end Added or TooMany; outcomes {outcomes:?}"
        );
    }
}

pub(crate) async fn an_account_keeps_one_primary_contact_under_concurrent_changes(
    fixture: Fixture,
) {
    let (store, database) = (&fixture.store, &fixture.database);
    for round in 0..10u64 {
        let id = sign_up_round(store, round).await.mi_id();
        let backup = recovery(&format!("round{round}@example.com"), UnixMillis::now());
        assert_eq!(
            add_contact(store, id, &backup, 4).await,
            AddContactOutcome::Added
        );

        // Promoting a recovery contact while it is being removed.
        let outcomes = race(2, |index| {
            let (store, recovery) = (store.clone(), backup.value.clone());
            async move {
                let outcome = if index == 0 {
                    store.set_primary_contact(id, &recovery).await
                } else {
                    store.remove_contact(id, &recovery, &[]).await
                };
                outcome.map_err(|error| format!("{error:#}"))
            }
        })
        .await;
        let primaries: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE mi_id = $1 AND is_primary = 1")
                .bind(id.as_i64())
                .fetch_one(database.pool())
                .await
                .expect("count");
        let left = account_of(store, id).await.contacts;
        assert_eq!(
            primaries, 1,
            "round {round}: promote / remove gave {outcomes:?} and left {left:?}"
        );
        assert!(
            outcomes.iter().all(Result::is_ok),
            "round {round}: promote / remove gave {outcomes:?}"
        );
    }
}

pub(crate) async fn contacts_are_not_added_to_a_deleted_account(fixture: Fixture) {
    let store = &fixture.store;
    let id = sign_up(store, 1_000_000_001, PHONE_A).await.mi_id();
    assert!(delete(store, id, &[]).await);

    // E.g. an AddRecoveryContact that read the account just before it was deleted.
    let outcome = add_contact(store, id, &recovery(PHONE_B, UnixMillis::now()), 4).await;
    assert_eq!(
        find(store, PHONE_B).await,
        None,
        "a deleted account holds no contact (add_contact said {outcome:?})"
    );
    assert_ne!(outcome, AddContactOutcome::Added);
    let again = SignUp::new(1_000_000_002, PHONE_B, UnixMillis::now());
    assert_eq!(
        again.attempt(store).await,
        CreateAccountOutcome::Created,
        "the contact stays free for a new account"
    );
}
