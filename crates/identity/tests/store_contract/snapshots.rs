//! The account snapshot backfill: one `AccountSnapshot` per account in the outbox with its
//! audience and second-factor flag, in batches that resume after the last Mi ID done, with one
//! worker at a time (another takes over once the holder's lease runs out), once per version;
//! and the `SignedIn`, `TwoFactorEnabled` and `TwoFactorDisabled` events, which say whether the
//! account has a second factor as it stands when they commit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mi_contracts::UnixMillis;
use mi_identity::domain::events::{self, TwoFactorKind};
use mi_identity::domain::snapshots::SNAPSHOT_VERSION;
use mi_identity::domain::{
    AddContactOutcome, BatchOutcome, SessionStore, SnapshotBackfill, SnapshotBatch, SnapshotStore,
    TwoFactorStore,
};
use mi_identity::storage::SqlIdentityStore;
use mi_platform::db::Database;
use mi_proto::EventPayload;
use mi_proto::events::v1::{
    AccountSnapshot, EventEnvelope, SignedIn, TwoFactorDisabled, TwoFactorEnabled,
};
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::support::{
    EMAIL_A, Fixture, add_contact, confirm_totp, new_session, pend_totp, race, recovery, set_codes,
    shifted, sign_up_round, two_accounts,
};

const LEASE: Duration = Duration::from_secs(30);

/// One batch of `version` by `worker` at `now`.
async fn publish(
    store: &SqlIdentityStore,
    version: u32,
    (worker, size): (&str, u32),
    now: UnixMillis,
) -> BatchOutcome {
    let batch = SnapshotBatch {
        version,
        worker,
        size,
        now,
        lease: LEASE,
    };
    store
        .publish_snapshot_batch(&batch)
        .await
        .expect("snapshot batch")
}

fn published(accounts: u32, finished: bool) -> BatchOutcome {
    BatchOutcome::Published { accounts, finished }
}

/// Every event of type `P` in the outbox, in outbox order, with its Kafka key.
async fn outbox_events<P: EventPayload>(database: &Database) -> Vec<(String, P)> {
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE event_type = $1 ORDER BY created_at, event_id",
    )
    .bind(P::EVENT_TYPE)
    .fetch_all(database.pool())
    .await
    .expect("outbox");
    payloads
        .iter()
        .map(|payload| {
            let envelope = EventEnvelope::decode(payload.as_slice()).expect("envelope");
            let event = mi_platform::events::payload(&envelope)
                .expect("an event of the type")
                .expect("decode");
            (envelope.aggregate_id, event)
        })
        .collect()
}

/// Every AccountSnapshot in the outbox, in outbox order; each keyed by its Mi ID.
async fn snapshots(database: &Database) -> Vec<AccountSnapshot> {
    outbox_events::<AccountSnapshot>(database)
        .await
        .into_iter()
        .map(|(key, snapshot)| {
            assert_eq!(key, snapshot.mi_id.to_string(), "keyed by Mi ID");
            snapshot
        })
        .collect()
}

pub(crate) async fn the_backfill_publishes_one_snapshot_per_account_resumes_and_runs_once(
    fixture: Fixture,
) {
    let (store, database) = (&fixture.store, &fixture.database);
    let now = UnixMillis::now();
    let mut accounts = Vec::new();
    for round in 0..5 {
        accounts.push(sign_up_round(store, round).await);
    }
    let ids: Vec<u64> = accounts
        .iter()
        .map(|account| account.mi_id().get())
        .collect();
    assert!(set_codes(store, accounts[1].mi_id(), true).await);
    let added = add_contact(store, accounts[0].mi_id(), &recovery(EMAIL_A, now), 5).await;
    assert_eq!(added, AddContactOutcome::Added);
    let version = 100;

    // Two replicas start at once: one claims the backfill, the other leaves it.
    let outcomes = race(2, |index| {
        let store = store.clone();
        async move { publish(&store, version, (["a", "b"][index], 2), now).await }
    })
    .await;
    let (holder, other) = match outcomes[..] {
        [
            BatchOutcome::Published { .. },
            BatchOutcome::ClaimedElsewhere,
        ] => ("a", "b"),
        [
            BatchOutcome::ClaimedElsewhere,
            BatchOutcome::Published { .. },
        ] => ("b", "a"),
        _ => panic!("one replica claims the backfill: {outcomes:?}"),
    };
    assert!(outcomes.contains(&published(2, false)), "{outcomes:?}");
    let first: Vec<u64> = snapshots(database).await.iter().map(|s| s.mi_id).collect();
    assert_eq!(first, ids[..2], "the first batch, in Mi ID order");
    assert_eq!(
        publish(store, version, (other, 2), shifted(now, 1_000)).await,
        BatchOutcome::ClaimedElsewhere,
        "the claim holds while its lease runs"
    );

    // The holder stops (a crash); after its lease the other resumes after the last Mi ID done.
    let later = shifted(now, 31_000);
    assert_eq!(
        publish(store, version, (other, 2), later).await,
        published(2, false)
    );
    assert_eq!(
        publish(store, version, (holder, 2), later).await,
        BatchOutcome::ClaimedElsewhere,
        "the first holder came back: the claim is no longer its"
    );
    assert_eq!(
        publish(store, version, (other, 2), later).await,
        published(1, true)
    );
    // Done once: neither replica publishes it again, however late.
    for worker in [holder, other] {
        let much_later = shifted(later, 10 * 60 * 1000);
        assert_eq!(
            publish(store, version, (worker, 2), much_later).await,
            BatchOutcome::Finished
        );
    }
    let snapshots_of_version = snapshots(database).await;
    let by_account: BTreeMap<u64, &AccountSnapshot> = snapshots_of_version
        .iter()
        .map(|snapshot| (snapshot.mi_id, snapshot))
        .collect();
    assert_eq!(snapshots_of_version.len(), 5, "one snapshot per account");
    assert_eq!(by_account.keys().copied().collect::<Vec<_>>(), ids);
    for (index, id) in ids.iter().enumerate() {
        assert_eq!(
            by_account[id].has_second_factor,
            index == 1,
            "account {id}'s second factor"
        );
    }
    let audience = by_account[&ids[0]].audience.clone().expect("an audience");
    assert_eq!(
        audience.contacts,
        [accounts[0].account.contacts[0].value.as_str(), EMAIL_A]
    );
    assert_eq!(audience.locale, accounts[0].account.locale);

    // The service's backfill, of the current version, publishes every account again, once.
    let backfill = SnapshotBackfill::new(Arc::new(store.clone()));
    tokio::time::timeout(
        Duration::from_secs(30),
        backfill.clone().run(CancellationToken::new()),
    )
    .await
    .expect("the backfill ends")
    .expect("backfill");
    assert_eq!(snapshots(database).await.len(), 10);
    backfill
        .run(CancellationToken::new())
        .await
        .expect("backfill again");
    assert_eq!(snapshots(database).await.len(), 10, "once per version");
    assert_eq!(
        publish(store, SNAPSHOT_VERSION, ("c", 2), later).await,
        BatchOutcome::Finished
    );
}

pub(crate) async fn a_sign_in_says_whether_the_account_has_a_second_factor_at_commit(
    fixture: Fixture,
) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, _) = two_accounts(store).await;
    let id = signed_up.mi_id();
    assert!(set_codes(store, id, true).await);
    // The event is built from the account as read before the change (no second factor), as a
    // sign-in that checked the password meanwhile would.
    let session = new_session(id, "device-2", UnixMillis::now());
    let signed_in = events::signed_in(&signed_up.account, &session.session, true);
    store
        .start_session(&session, &[signed_in])
        .await
        .expect("start");
    let flags: Vec<Option<bool>> = outbox_events::<SignedIn>(database)
        .await
        .into_iter()
        .filter(|(key, _)| *key == id.to_string())
        .map(|(_, signed_in)| signed_in.has_second_factor)
        .collect();
    assert_eq!(
        flags,
        [Some(false), Some(true)],
        "sign-up, then the sign-in"
    );
}

pub(crate) async fn two_factor_events_say_whether_a_second_factor_is_left(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, _) = two_accounts(store).await;
    let (id, account) = (signed_up.mi_id(), &signed_up.account);
    let changed = |kind, enabled| [events::two_factor_changed(account, kind, enabled)];
    let codes_on = changed(TwoFactorKind::Code, true);
    assert!(
        store
            .set_code_second_factor(id, true, &codes_on)
            .await
            .expect("codes on")
    );
    pend_totp(store, id, b"secret").await;
    let totp_on = changed(TwoFactorKind::Totp, true);
    assert!(confirm_totp(store, id, b"secret", 100, &[], &totp_on).await);
    // Turning the authenticator app off leaves the codes on.
    let totp_off = changed(TwoFactorKind::Totp, false);
    assert!(store.disable_totp(id, &totp_off).await.expect("totp off"));
    let codes_off = changed(TwoFactorKind::Code, false);
    assert!(
        store
            .set_code_second_factor(id, false, &codes_off)
            .await
            .expect("codes off")
    );
    let enabled: Vec<Option<bool>> = outbox_events::<TwoFactorEnabled>(database)
        .await
        .into_iter()
        .map(|(_, enabled)| enabled.has_second_factor)
        .collect();
    assert_eq!(enabled, [Some(true), Some(true)]);
    let disabled: Vec<Option<bool>> = outbox_events::<TwoFactorDisabled>(database)
        .await
        .into_iter()
        .map(|(_, disabled)| disabled.has_second_factor)
        .collect();
    assert_eq!(
        disabled,
        [Some(true), Some(false)],
        "codes left on, then none"
    );
}
