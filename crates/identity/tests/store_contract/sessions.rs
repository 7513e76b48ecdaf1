//! Sessions: refresh-token rotation and reuse (also raced), revocation by scope, the
//! authentication methods a session gathers (also raced).

use mi_contracts::UnixMillis;
use mi_identity::domain::{RevokeScope, RotateOutcome, Session, SessionPosition, SessionStore};

use crate::support::{
    DAY, Fixture, PHONE_A, active, ids, ids_in_order, pairs, race, random_hash, revoke,
    revoked_events, rotate, rotate_first, session_ids, session_until, sessions, shifted, sign_up,
    sign_up_round, sorted, start, start_session, two_accounts, used_tokens_of,
};

pub(crate) async fn refresh_tokens_rotate_once_and_reuse_is_detected(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, other) = two_accounts(store).await;
    let id = signed_up.mi_id();
    let session_id = signed_up.session_id();
    let first_hash = signed_up.session.refresh_hash.as_str();
    let (other_id, other_hash) = (other.session_id(), &other.session.refresh_hash);
    let now = shifted(UnixMillis::now(), 1_000);
    let until = shifted(now, 30 * DAY);

    // The current token rotates: the session comes back, used now.
    let second_hash = random_hash();
    let rotated = rotate(store, session_id, first_hash, &second_hash, now, until).await;
    let expected = Session {
        last_used_at: now,
        ..signed_up.session.session.clone()
    };
    assert_eq!(rotated, RotateOutcome::Rotated(Box::new(expected.clone())));
    assert_eq!(active(store, session_id, now).await, Some(expected));

    // The traded-in token again: reuse, naming the account.
    let outcome = rotate(
        store,
        session_id,
        first_hash,
        &random_hash(),
        shifted(now, 1),
        until,
    )
    .await;
    assert_eq!(outcome, RotateOutcome::Reused(id));
    // Unknown tokens, tokens of another session, unknown sessions: invalid.
    for (session, hash) in [
        (session_id, random_hash()),
        (session_id, other_hash.to_owned()),
        (other_id, second_hash.clone()),
        (other_id, first_hash.to_owned()),
        (
            "0190aaaa-0000-7000-8000-000000000000",
            first_hash.to_owned(),
        ),
    ] {
        let outcome = rotate(
            store,
            session,
            &hash,
            &random_hash(),
            shifted(now, 2),
            until,
        )
        .await;
        assert_eq!(outcome, RotateOutcome::Invalid, "{session} {hash}");
    }
    // None of that touched the current token.
    let third_hash = random_hash();
    let outcome = rotate(
        store,
        session_id,
        &second_hash,
        &third_hash,
        shifted(now, 3),
        until,
    )
    .await;
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    let outcome = rotate(
        store,
        session_id,
        &second_hash,
        &random_hash(),
        shifted(now, 4),
        until,
    )
    .await;
    assert_eq!(outcome, RotateOutcome::Reused(id));
    let outcome = rotate_first(store, &other.session, &random_hash(), now, until).await;
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");

    // An expired refresh token: invalid, and the session is not active.
    let expired = start_session(
        store,
        session_until(id, "device-2", shifted(now, -2 * DAY), shifted(now, -1)),
    )
    .await;
    let outcome = rotate_first(store, &expired, &random_hash(), now, until).await;
    assert_eq!(outcome, RotateOutcome::Invalid);
    assert_eq!(active(store, &expired.session.session_id, now).await, None);
    // Expiry is exclusive: at the very millisecond the token is gone.
    let edge = start_session(
        store,
        session_until(id, "device-3", shifted(now, -DAY), now),
    )
    .await;
    let outcome = rotate_first(store, &edge, &random_hash(), now, until).await;
    assert_eq!(outcome, RotateOutcome::Invalid);

    // Rotating extends the refresh token's life.
    let short = start_session(
        store,
        session_until(id, "device-4", now, shifted(now, 1_000)),
    )
    .await;
    let (short_id, extended_hash) = (&short.session.session_id, random_hash());
    let outcome = rotate_first(
        store,
        &short,
        &extended_hash,
        shifted(now, 500),
        shifted(now, 10_000),
    )
    .await;
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    assert!(active(store, short_id, shifted(now, 5_000)).await.is_some());
    let outcome = rotate(
        store,
        short_id,
        &extended_hash,
        &random_hash(),
        shifted(now, 10_000),
        shifted(now, 20_000),
    )
    .await;
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "expired after the new expiry"
    );

    // A revoked session's tokens, current or traded in, are invalid; its history is gone.
    let revoked = revoke(
        store,
        id,
        RevokeScope::One(session_id),
        "refresh_token_reused",
    )
    .await;
    assert_eq!(revoked, vec![session_id.to_owned()]);
    assert_eq!(used_tokens_of(database, session_id).await, 0);
    for hash in [first_hash, &second_hash, &third_hash] {
        let outcome = rotate(
            store,
            session_id,
            hash,
            &random_hash(),
            shifted(now, 5),
            until,
        )
        .await;
        assert_eq!(outcome, RotateOutcome::Invalid);
    }
    assert_eq!(active(store, session_id, now).await, None);
}

pub(crate) async fn concurrent_rotations_of_one_token_rotate_once(fixture: Fixture) {
    let store = &fixture.store;
    for round in 0..5u64 {
        let signed_up = sign_up_round(store, round).await;
        let (id, session_id) = (signed_up.mi_id(), signed_up.session_id());
        let now = UnixMillis::now();
        let results = race(8, |_| {
            let (store, session) = (store.clone(), signed_up.session.clone());
            async move {
                let (session_id, old_hash) = (&session.session.session_id, &session.refresh_hash);
                let new_hash = random_hash();
                let until = shifted(now, 30 * DAY);
                let outcome = rotate(&store, session_id, old_hash, &new_hash, now, until).await;
                (new_hash, outcome)
            }
        })
        .await;
        let mut winners = Vec::new();
        let mut outcomes = Vec::new();
        for (new_hash, outcome) in results {
            if matches!(outcome, RotateOutcome::Rotated(_)) {
                winners.push(new_hash);
            }
            outcomes.push(outcome);
        }
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().all(|outcome| matches!(
                outcome,
                RotateOutcome::Rotated(_) | RotateOutcome::Reused(_)
            )),
            "round {round}: the losers see a reused token: {outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|outcome| !matches!(outcome, RotateOutcome::Reused(other) if *other != id))
        );
        // Only the winner's token works next.
        let outcome = rotate(
            store,
            session_id,
            &winners[0],
            &random_hash(),
            shifted(now, 1),
            shifted(now, DAY),
        )
        .await;
        assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    }
}

pub(crate) async fn revoking_sessions_follows_the_scope(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, other) = two_accounts(store).await;
    let id = signed_up.mi_id();
    let base = signed_up.session.session.created_at;
    let first = &signed_up.session;
    let [second, third, fourth] = signed_up.start_devices(store, [2, 3, 4]).await;
    let newest_first = ids_in_order(&[&fourth, &third, &second, first]);
    assert_eq!(session_ids(store, id).await, newest_first, "newest first");

    // One.
    let one = RevokeScope::One(&second.session.session_id);
    assert_eq!(revoke(store, id, one, "revoked").await, ids(&[&second]));
    assert!(
        revoke(store, id, one, "revoked").await.is_empty(),
        "revoked once"
    );
    let foreign = revoke(store, id, RevokeScope::One(other.session_id()), "revoked").await;
    assert!(
        foreign.is_empty(),
        "another account's session is not revoked"
    );
    let unknown = revoke(store, id, RevokeScope::One("no-such-session"), "revoked").await;
    assert!(unknown.is_empty());
    assert_eq!(
        revoked_events(database, id).await,
        pairs(&[&second], "revoked")
    );

    // All except one.
    let all_but_first = RevokeScope::AllExcept(&first.session.session_id);
    let revoked = revoke(store, id, all_but_first, "others_revoked").await;
    assert_eq!(sorted(revoked), ids(&[&third, &fourth]));
    assert_eq!(session_ids(store, id).await, ids_in_order(&[first]));
    // Keeping a session of another account revokes all of this one's, none of the other's.
    let [fifth] = signed_up.start_devices(store, [5]).await;
    let all_but_foreign = RevokeScope::AllExcept(other.session_id());
    let revoked = revoke(store, id, all_but_foreign, "others_revoked").await;
    assert_eq!(sorted(revoked), ids(&[first, &fifth]));

    // All.
    let [sixth, seventh] = signed_up.start_devices(store, [6, 7]).await;
    let revoked = revoke(store, id, RevokeScope::All, "all_revoked").await;
    assert_eq!(sorted(revoked), ids(&[&sixth, &seventh]));
    assert!(session_ids(store, id).await.is_empty());
    assert!(
        revoke(store, id, RevokeScope::All, "all_revoked")
            .await
            .is_empty()
    );
    for gone in [first, &second, &third, &fourth, &fifth, &sixth, &seventh] {
        assert_eq!(active(store, &gone.session.session_id, base).await, None);
    }

    // One SessionRevoked per revoked session, with its reason; the other account untouched.
    let mut expected = pairs(&[&second], "revoked");
    expected.extend(pairs(&[&third, &fourth, first, &fifth], "others_revoked"));
    expected.extend(pairs(&[&sixth, &seventh], "all_revoked"));
    expected.sort();
    assert_eq!(revoked_events(database, id).await, expected);
    assert!(revoked_events(database, other.mi_id()).await.is_empty());
    assert_eq!(
        sessions(store, other.mi_id()).await,
        vec![other.session.session.clone()]
    );
}

pub(crate) async fn concurrent_authentications_keep_every_method(fixture: Fixture) {
    let store = &fixture.store;
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let now = UnixMillis::now();
    for round in 0..10i64 {
        let session = start(store, signed_up.mi_id(), "device-2", shifted(now, round)).await;
        let session_id = session.session.session_id.clone();
        let outcomes = race(2, |index| {
            let (store, session_id) = (store.clone(), session_id.clone());
            async move {
                let method = if index == 0 { "otp" } else { "sms" };
                store
                    .mark_authenticated(&session_id, shifted(now, 1_000), method)
                    .await
                    .map_err(|error| format!("{error:#}"))
            }
        })
        .await;
        let methods = active(store, &session_id, now)
            .await
            .expect("session")
            .methods;
        assert!(
            outcomes.iter().all(Result::is_ok),
            "round {round}: {outcomes:?}"
        );
        assert_eq!(
            sorted(methods.clone()),
            vec!["otp".to_owned(), "pwd".to_owned(), "sms".to_owned()],
            "round {round}: both methods are recorded, got {methods:?}"
        );
    }
}

pub(crate) async fn sessions_are_paged_newest_first_through_equal_times(fixture: Fixture) {
    let store = &fixture.store;
    let (signed_up, other) = two_accounts(store).await;
    let id = signed_up.mi_id();
    let now = UnixMillis::now();
    // Four sessions of one millisecond, so the session id alone orders them, and a newer one.
    let mut started = vec![signed_up.session.session.clone()];
    for device in ["tie-1", "tie-2", "tie-3", "tie-4"] {
        started.push(start(store, id, device, shifted(now, 10)).await.session);
    }
    started.push(start(store, id, "newest", shifted(now, 20)).await.session);
    start(store, other.mi_id(), "other", shifted(now, 30)).await;
    // Already expired: never listed.
    start_session(store, session_until(id, "gone", now, now)).await;
    started.sort_by_key(|session| {
        (
            std::cmp::Reverse(session.created_at),
            std::cmp::Reverse(session.session_id.clone()),
        )
    });
    let expected: Vec<String> = started
        .into_iter()
        .map(|session| session.session_id)
        .collect();

    let mut listed = Vec::new();
    let mut after: Option<SessionPosition> = None;
    loop {
        let page = store
            .list_sessions(id, shifted(now, 1), after.as_ref(), 2)
            .await
            .expect("list");
        assert!(page.len() <= 2, "{page:?}");
        let Some(last) = page.last() else { break };
        after = Some(last.position());
        listed.extend(page.into_iter().map(|session| session.session_id));
        assert!(
            listed.len() <= expected.len(),
            "the pages never end: {listed:?}"
        );
    }
    assert_eq!(
        listed, expected,
        "each once, newest first, then by session id"
    );
}
