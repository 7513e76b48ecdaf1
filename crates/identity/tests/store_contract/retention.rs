//! Retention: the sweep deletes expired sessions, used and spent tokens and challenges, and
//! keeps what is still live or within the validator's leeway.

use mi_contracts::UnixMillis;
use mi_identity::domain::{RotateOutcome, SignInStore};
use mi_identity::storage::expiries;
use mi_platform::retention;

use crate::support::{
    DAY, Fixture, PHONE_A, contact, create_challenge, create_consent_challenge, new_challenge,
    new_consent_challenge, new_session, random_hash, rotate, rotate_first, rows, session_ids,
    session_until, shifted, sign_up, spend, start_session, token,
};

pub(crate) async fn expired_rows_are_deleted_and_live_ones_kept(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let now = UnixMillis::now();
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();

    // A live session that traded in one token 31 days ago and one just now.
    let live = start_session(store, new_session(id, "device-2", shifted(now, -40 * DAY))).await;
    let (long_ago, recently) = (shifted(now, -31 * DAY), shifted(now, -1_000));
    let (second, third) = (random_hash(), random_hash());
    assert!(matches!(
        rotate_first(store, &live, &second, long_ago, shifted(now, DAY)).await,
        RotateOutcome::Rotated(_)
    ));
    let live_id = live.session.session_id.as_str();
    assert!(matches!(
        rotate(
            store,
            live_id,
            &second,
            &third,
            recently,
            shifted(now, 30 * DAY)
        )
        .await,
        RotateOutcome::Rotated(_)
    ));
    // A session whose refresh token ran out yesterday.
    let expired = start_session(
        store,
        session_until(id, "device-3", shifted(now, -31 * DAY), shifted(now, -DAY)),
    )
    .await;
    // Verification tokens that expired two hours and one minute ago.
    let mut stale_token = token(&contact(PHONE_A));
    stale_token.expires_at = shifted(now, -2 * 3_600_000);
    let mut recent_token = token(&contact(PHONE_A));
    recent_token.expires_at = shifted(now, -60_000);
    assert!(spend(store, &stale_token).await && spend(store, &recent_token).await);
    // Challenges that expired a minute ago and that expire in five.
    let (old_challenge, open_challenge) = (
        new_challenge(id, shifted(now, -60_000)),
        new_challenge(id, shifted(now, 300_000)),
    );
    create_challenge(store, &old_challenge).await;
    create_challenge(store, &open_challenge).await;
    let (old_step, open_step) = (
        new_consent_challenge(id, shifted(now, -60_000)),
        new_consent_challenge(id, shifted(now, 300_000)),
    );
    create_consent_challenge(store, &old_step).await;
    create_consent_challenge(store, &open_step).await;

    let settings = mi_identity::config::Settings::default();
    let deleted = retention::sweep(database, &expiries(&settings), now)
        .await
        .expect("sweep");
    assert_eq!(
        deleted, 5,
        "one used token, one session, one spent token, one challenge, one consent step"
    );
    assert_eq!(rows(database, "consent_challenges", id).await, 1);

    // The expired session is gone, the live ones stay.
    let remaining = session_ids(store, id).await;
    assert!(remaining.contains(&live.session.session_id));
    assert!(!remaining.contains(&expired.session.session_id));
    assert_eq!(rows(database, "sessions", id).await, 2);
    // The token traded in just now is still recognised as reused; the one from 31 days ago is
    // only invalid now.
    assert_eq!(
        rotate(
            store,
            live_id,
            &second,
            &random_hash(),
            now,
            shifted(now, DAY)
        )
        .await,
        RotateOutcome::Reused(id)
    );
    assert_eq!(
        rotate_first(store, &live, &random_hash(), now, shifted(now, DAY)).await,
        RotateOutcome::Invalid
    );
    // Within the validator's leeway a token stays spent; long expired, it is forgotten.
    assert!(!spend(store, &recent_token).await);
    assert!(spend(store, &stale_token).await);
    // The open challenge remains.
    let challenges =
        [&old_challenge, &open_challenge].map(|challenge| challenge.challenge_id.clone());
    let mut kept = Vec::new();
    for challenge_id in &challenges {
        if store
            .challenge(challenge_id)
            .await
            .expect("challenge")
            .is_some()
        {
            kept.push(challenge_id.clone());
        }
    }
    assert_eq!(kept, vec![open_challenge.challenge_id.clone()]);

    // A second sweep finds only the stale token spent again above.
    assert_eq!(
        retention::sweep(database, &expiries(&settings), now)
            .await
            .expect("sweep"),
        1
    );
}
