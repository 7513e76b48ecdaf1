//! Passwords: a change or reset spends its token and revokes the other sessions; an
//! upgraded hash replaces only the hash it was made from.

use mi_contracts::MiId;
use mi_identity::domain::events;
use mi_identity::domain::{Account, VerifiedContact};
use mi_identity::domain::{PasswordStore, SetPasswordOutcome, SignInStore};
use mi_identity::storage::SqlIdentityStore;
use mi_proto::EventPayload;
use mi_proto::events::v1 as wire;

use crate::support::{
    Fixture, PHONE_A, PHONE_C, contact, event_types, ids_in_order, mi_id, outbox_len, pairs,
    password, password_of, revoked_events, session_ids, sessions, spend, token, two_accounts,
    types,
};

/// What lets a password be set.
#[derive(Debug, Clone, Copy)]
enum Proof<'a> {
    /// The signed-in user changes it; their session with this ID is kept.
    Session(&'a str),
    /// A verification token resets it; no session is kept.
    Token(&'a VerifiedContact),
}

/// Sets the password of `mi_id` to `label`'s hash, with a PasswordChanged event of `account`.
async fn set_password(
    store: &SqlIdentityStore,
    (account, mi_id): (&Account, MiId),
    label: &str,
    proof: Proof<'_>,
) -> SetPasswordOutcome {
    let (reset, keep, reason) = match proof {
        Proof::Session(keep) => (None, Some(keep), "password_changed"),
        Proof::Token(token) => (Some(token), None, "password_reset"),
    };
    let events = [events::password_changed(account, reset.is_some())];
    let hash = password(label);
    store
        .set_password(mi_id, &hash, reset, keep, reason, &events)
        .await
        .expect("set")
}

/// Replaces hash `from` with `to` if it is still the account's.
async fn upgrade(store: &SqlIdentityStore, mi_id: MiId, from: &str, to: &str) {
    store
        .upgrade_password_hash(mi_id, &password(from), &password(to))
        .await
        .expect("upgrade");
}

pub(crate) async fn password_changes_spend_the_token_and_revoke_other_sessions(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, other) = two_accounts(store).await;
    let id = signed_up.mi_id();
    let current = &signed_up.session;
    let [second, third] = signed_up.start_devices(store, [2, 3]).await;
    let this = (&signed_up.account, id);

    // Changed, keeping the current session.
    let outcome = set_password(
        store,
        this,
        "changed",
        Proof::Session(signed_up.session_id()),
    )
    .await;
    let two_revoked = SetPasswordOutcome::Changed {
        sessions_revoked: 2,
    };
    assert_eq!(outcome, two_revoked);
    assert_eq!(password_of(store, id).await, Some(password("changed")));
    assert_eq!(session_ids(store, id).await, ids_in_order(&[current]));
    let revoked = revoked_events(database, id).await;
    assert_eq!(revoked, pairs(&[&second, &third], "password_changed"));
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::PasswordChanged::EVENT_TYPE,
        wire::SessionRevoked::EVENT_TYPE,
        wire::SessionRevoked::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);

    // Reset with a token, keeping nothing.
    let reset_token = token(&contact(PHONE_A));
    let [fourth] = signed_up.start_devices(store, [4]).await;
    let outcome = set_password(store, this, "reset", Proof::Token(&reset_token)).await;
    assert_eq!(outcome, two_revoked);
    assert!(session_ids(store, id).await.is_empty());
    assert_eq!(password_of(store, id).await, Some(password("reset")));

    // The same token again: nothing changes, nothing is revoked, no events.
    let [fifth] = signed_up.start_devices(store, [5]).await;
    let outbox_before = outbox_len(database).await;
    let outcome = set_password(store, this, "replayed", Proof::Token(&reset_token)).await;
    assert_eq!(outcome, SetPasswordOutcome::TokenSpent);
    assert_eq!(
        password_of(store, id).await,
        Some(password("reset")),
        "the password is unchanged"
    );
    assert_eq!(session_ids(store, id).await, ids_in_order(&[&fifth]));
    assert_eq!(outbox_len(database).await, outbox_before);

    // No such account: nothing changes, the token stays unspent.
    let orphan_token = token(&contact(PHONE_C));
    let nobody = (&signed_up.account, mi_id(1_000_000_009));
    let outcome = set_password(store, nobody, "nobody", Proof::Token(&orphan_token)).await;
    assert_eq!(outcome, SetPasswordOutcome::NoAccount);
    assert_eq!(outbox_len(database).await, outbox_before);
    assert!(spend(store, &orphan_token).await);

    // The other account is untouched throughout.
    assert_eq!(
        password_of(store, other.mi_id()).await,
        Some(password("initial"))
    );
    assert_eq!(
        sessions(store, other.mi_id()).await,
        vec![other.session.session.clone()]
    );
    assert!(revoked_events(database, other.mi_id()).await.is_empty());
    let mut expected = pairs(&[&second, &third], "password_changed");
    expected.extend(pairs(&[current, &fourth], "password_reset"));
    expected.sort();
    assert_eq!(revoked_events(database, id).await, expected);

    // A rehash replaces only the hash it was made from.
    upgrade(store, id, "stale", "rehashed").await;
    assert_eq!(
        password_of(store, id).await,
        Some(password("reset")),
        "a rehash of a replaced hash is dropped"
    );
    upgrade(store, id, "reset", "rehashed").await;
    assert_eq!(password_of(store, id).await, Some(password("rehashed")));
}
