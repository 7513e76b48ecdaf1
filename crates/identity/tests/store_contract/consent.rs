//! The consent step: completed once while pending, and the consent it records — the account's
//! current versions, a row of the record of consent, the session and the events — written
//! together or not at all.

use mi_contracts::UnixMillis;
use mi_identity::domain::events;
use mi_identity::domain::{
    Account, CompleteOutcome, Consent, ConsentChallenge, ConsentStore, NewSession, SignInStore,
};
use mi_identity::storage::SqlIdentityStore;
use mi_proto::EventPayload;
use mi_proto::events::v1 as wire;

use crate::support::{
    Fixture, PHONE_A, account_of, active, contact, create_challenge, create_consent_challenge,
    event_types, new_challenge, new_consent_challenge, new_session, outbox_len, race, rows,
    shifted, sign_up, token, types,
};

/// The versions a consent step accepts.
fn new_versions(now: UnixMillis) -> Consent {
    Consent {
        terms_version: "2026-01".into(),
        privacy_policy_version: "2026-02".into(),
        accepted_at: now,
    }
}

/// Accepts `challenge` with `consent`, starting `session` with its events.
async fn accept(
    store: &SqlIdentityStore,
    account: &Account,
    challenge: &ConsentChallenge,
    consent: &Consent,
    session: &NewSession,
) -> CompleteOutcome {
    let events = [
        events::legal_documents_accepted(account.mi_id, consent),
        events::signed_in(account, &session.session, true),
    ];
    let challenge_id = &challenge.challenge_id;
    store
        .accept_consent(challenge_id, consent, "198.51.100.4", session, &events)
        .await
        .expect("accept")
}

async fn stored(store: &SqlIdentityStore, challenge_id: &str) -> Option<ConsentChallenge> {
    store.consent_challenge(challenge_id).await.expect("read")
}

pub(crate) async fn consent_steps_complete_once_and_record_the_consent(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let (id, account) = (signed_up.mi_id(), &signed_up.account);
    assert_eq!(
        rows(database, "consents", id).await,
        1,
        "the sign-up's consent"
    );
    let now = UnixMillis::now();

    // Stored and read back.
    let pending = new_consent_challenge(id, shifted(now, 60_000));
    create_consent_challenge(store, &pending).await;
    assert_eq!(
        stored(store, &pending.challenge_id).await,
        Some(pending.clone())
    );
    assert_eq!(stored(store, &uuid::Uuid::new_v4().to_string()).await, None);

    // Accepted once: the account's versions, a record row, the session and its events.
    let consent = new_versions(now);
    let session = new_session(id, "device-2", now);
    let outcome = accept(store, account, &pending, &consent, &session).await;
    assert_eq!(outcome, CompleteOutcome::Completed);
    assert_eq!(account_of(store, id).await.consent, consent);
    assert_eq!(rows(database, "consents", id).await, 2);
    let started = active(store, &session.session.session_id, now).await;
    assert_eq!(started, Some(session.session.clone()));
    assert!(
        stored(store, &pending.challenge_id)
            .await
            .expect("kept")
            .completed
    );
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::LegalDocumentsAccepted::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);

    // Not again, and not once expired (expiry is exclusive): nothing written.
    let outbox_before = outbox_len(database).await;
    let replay = new_session(id, "device-3", now);
    let later = new_versions(shifted(now, 1));
    let outcome = accept(store, account, &pending, &later, &replay).await;
    assert_eq!(outcome, CompleteOutcome::NotPending, "accepted once");
    let expired = new_consent_challenge(id, now);
    create_consent_challenge(store, &expired).await;
    let outcome = accept(store, account, &expired, &new_versions(now), &replay).await;
    assert_eq!(outcome, CompleteOutcome::NotPending, "expired");
    assert_eq!(active(store, &replay.session.session_id, now).await, None);
    assert_eq!(rows(database, "consents", id).await, 2);
    assert_eq!(outbox_len(database).await, outbox_before);

    // Accepted concurrently: one consent, one session.
    let raced = new_consent_challenge(id, shifted(now, 60_000));
    create_consent_challenge(store, &raced).await;
    let sessions_before = rows(database, "sessions", id).await;
    let outcomes = race(6, |index| {
        let (store, account, raced) = (store.clone(), account.clone(), raced.clone());
        let session = new_session(id, &format!("racer-{index}"), now);
        async move { accept(&store, &account, &raced, &new_versions(now), &session).await }
    })
    .await;
    let completed = outcomes
        .iter()
        .filter(|outcome| **outcome == CompleteOutcome::Completed)
        .count();
    assert_eq!(completed, 1, "{outcomes:?}");
    assert_eq!(rows(database, "sessions", id).await, sessions_before + 1);
    assert_eq!(rows(database, "consents", id).await, 3);
}

pub(crate) async fn a_second_factor_hands_over_to_the_consent_step(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    let now = UnixMillis::now();
    let sessions_before = rows(database, "sessions", id).await;
    let outbox_before = outbox_len(database).await;

    // A spent token: the challenge stays pending and no consent step is stored.
    let challenge = new_challenge(id, shifted(now, 60_000));
    create_challenge(store, &challenge).await;
    let step = new_consent_challenge(id, shifted(now, 600_000));
    let handed_over = |token| {
        let (challenge, step) = (&challenge, &step);
        async move {
            store
                .complete_challenge_for_consent(&challenge.challenge_id, 3, token, step)
                .await
                .expect("complete")
        }
    };
    let outcome = handed_over(Some(&signed_up.token)).await;
    assert_eq!(outcome, CompleteOutcome::TokenSpent);
    assert_eq!(stored(store, &step.challenge_id).await, None);
    let still = store
        .challenge(&challenge.challenge_id)
        .await
        .expect("read");
    assert_eq!(still, Some(challenge.clone()), "still pending");

    // Completed: the consent step is stored, and no session starts yet.
    let fresh = token(&contact(PHONE_A));
    assert_eq!(handed_over(Some(&fresh)).await, CompleteOutcome::Completed);
    assert_eq!(stored(store, &step.challenge_id).await, Some(step.clone()));
    let completed = store
        .challenge(&challenge.challenge_id)
        .await
        .expect("read");
    assert!(completed.expect("kept").completed);
    assert_eq!(rows(database, "sessions", id).await, sessions_before);
    assert_eq!(outbox_len(database).await, outbox_before, "no event yet");
    assert_eq!(handed_over(None).await, CompleteOutcome::NotPending, "once");
}
