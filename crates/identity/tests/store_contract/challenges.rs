//! Sign-in challenges: completed once while pending, wrong answers counted until they lock.

use mi_contracts::UnixMillis;
use mi_identity::domain::events;
use mi_identity::domain::{
    Account, Challenge, CompleteOutcome, NewSession, SignInStore, VerifiedContact,
};
use mi_identity::storage::SqlIdentityStore;
use mi_proto::EventPayload;
use mi_proto::events::v1 as wire;

use crate::support::{
    Fixture, PHONE_A, active, contact, create_challenge, event_types, is_known, new_challenge,
    new_session, outbox_len, race, rows, shifted, sign_up, spend, token, types,
};

/// Wrong answers that lock a challenge.
const MAX_ATTEMPTS: u32 = 3;

/// Completes `challenge` by starting `session`, with the SignedIn event of `account`.
async fn complete(
    store: &SqlIdentityStore,
    account: &Account,
    challenge: &Challenge,
    token: Option<&VerifiedContact>,
    session: &NewSession,
) -> CompleteOutcome {
    let events = [events::signed_in(account, &session.session, true)];
    let challenge_id = &challenge.challenge_id;
    store
        .complete_challenge(challenge_id, MAX_ATTEMPTS, token, session, &events)
        .await
        .expect("complete")
}

/// The challenge as stored.
async fn stored(store: &SqlIdentityStore, challenge_id: &str) -> Option<Challenge> {
    store.challenge(challenge_id).await.expect("challenge")
}

/// Counts a wrong answer, giving the attempts so far if the challenge takes answers.
async fn count_attempt(
    store: &SqlIdentityStore,
    challenge: &Challenge,
    now: UnixMillis,
) -> Option<u32> {
    store
        .count_challenge_attempt(&challenge.challenge_id, now)
        .await
        .expect("count")
}

pub(crate) async fn challenges_complete_once_while_pending(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let (id, account) = (signed_up.mi_id(), &signed_up.account);
    let now = UnixMillis::now();

    // Stored and read back.
    let pending = new_challenge(id, shifted(now, 60_000));
    create_challenge(store, &pending).await;
    assert_eq!(
        stored(store, &pending.challenge_id).await,
        Some(pending.clone())
    );
    assert_eq!(stored(store, &uuid::Uuid::new_v4().to_string()).await, None);

    // Wrong answers count.
    for expected in 1..=2 {
        assert_eq!(count_attempt(store, &pending, now).await, Some(expected));
    }
    let attempts = stored(store, &pending.challenge_id)
        .await
        .expect("stored")
        .attempts;
    assert_eq!(attempts, 2);

    // Completed once: the session starts, with its event.
    let session = new_session(id, "device-2", now);
    let outcome = complete(store, account, &pending, None, &session).await;
    assert_eq!(outcome, CompleteOutcome::Completed);
    let started = active(store, &session.session.session_id, now).await;
    assert_eq!(started, Some(session.session.clone()));
    assert!(is_known(store, id, "device-2").await);
    assert!(
        stored(store, &pending.challenge_id)
            .await
            .expect("stored")
            .completed
    );
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);
    let outbox_before = outbox_len(database).await;
    let replay = new_session(id, "device-3", now);
    let outcome = complete(store, account, &pending, None, &replay).await;
    assert_eq!(outcome, CompleteOutcome::NotPending, "completed once");
    let attempt = count_attempt(store, &pending, now).await;
    assert_eq!(attempt, None, "a completed challenge takes no attempts");

    // Expired: no attempts, no completion (expiry is exclusive).
    let expired = new_challenge(id, now);
    create_challenge(store, &expired).await;
    assert_eq!(count_attempt(store, &expired, now).await, None);
    let outcome = complete(store, account, &expired, None, &replay).await;
    assert_eq!(outcome, CompleteOutcome::NotPending);

    // Locked: no completion once the attempts reach the maximum.
    let locked = new_challenge(id, shifted(now, 60_000));
    create_challenge(store, &locked).await;
    for _ in 0..MAX_ATTEMPTS {
        count_attempt(store, &locked, now).await;
    }
    let outcome = complete(store, account, &locked, None, &replay).await;
    assert_eq!(outcome, CompleteOutcome::NotPending, "locked");
    // Nothing of the refused completions was written.
    assert_eq!(active(store, &replay.session.session_id, now).await, None);
    assert!(!is_known(store, id, "device-3").await);
    assert_eq!(outbox_len(database).await, outbox_before);

    // A spent token: the challenge stays pending and a fresh token completes it.
    let with_token = new_challenge(id, shifted(now, 60_000));
    create_challenge(store, &with_token).await;
    let spent = Some(&signed_up.token);
    let outcome = complete(store, account, &with_token, spent, &replay).await;
    assert_eq!(outcome, CompleteOutcome::TokenSpent);
    let still = stored(store, &with_token.challenge_id).await;
    assert_eq!(still, Some(with_token.clone()), "still pending");
    assert_eq!(active(store, &replay.session.session_id, now).await, None);
    let fresh = token(&contact(PHONE_A));
    let outcome = complete(store, account, &with_token, Some(&fresh), &replay).await;
    assert_eq!(outcome, CompleteOutcome::Completed);
    assert!(!spend(store, &fresh).await, "spent");

    // Answered concurrently: one completion, one session.
    for round in 0..5 {
        let raced = new_challenge(id, shifted(now, 60_000));
        create_challenge(store, &raced).await;
        let sessions_before = rows(database, "sessions", id).await;
        let outcomes = race(6, |index| {
            let (store, account, raced) = (store.clone(), account.clone(), raced.clone());
            let session = new_session(id, &format!("racer-{round}-{index}"), now);
            async move { complete(&store, &account, &raced, None, &session).await }
        })
        .await;
        let completed = outcomes
            .iter()
            .filter(|outcome| **outcome == CompleteOutcome::Completed)
            .count();
        assert_eq!(completed, 1, "round {round}: {outcomes:?}");
        assert_eq!(rows(database, "sessions", id).await, sessions_before + 1);
    }
}
