//! Second factors: TOTP secrets pending and confirmed, TOTP steps and recovery codes each
//! accepted once (also raced), the code second factor, and turning them off.

use mi_contracts::MiId;
use mi_identity::domain::TwoFactorStatus;
use mi_identity::domain::events::{self, TwoFactorKind};
use mi_identity::domain::{TotpState, TwoFactorStore};
use mi_identity::storage::SqlIdentityStore;
use mi_proto::EventPayload;
use mi_proto::events::v1 as wire;

use crate::support::{
    Fixture, confirm_totp, event_types, mi_id, outbox_len, pend_totp, race, rows, set_codes,
    successes, two_accounts, two_factor, two_factor_of, types,
};

async fn totp_state(store: &SqlIdentityStore, mi_id: MiId) -> TotpState {
    store.totp_state(mi_id).await.expect("state")
}

/// A TOTP state with these sealed secrets.
fn totp(secret: Option<&[u8]>, pending: Option<&[u8]>) -> TotpState {
    TotpState {
        secret: secret.map(<[u8]>::to_vec),
        pending: pending.map(<[u8]>::to_vec),
    }
}

async fn accept_step(store: &SqlIdentityStore, mi_id: MiId, step: u64) -> bool {
    store.accept_totp_step(mi_id, step).await.expect("step")
}

async fn use_code(store: &SqlIdentityStore, mi_id: MiId, code: &str) -> bool {
    store.use_recovery_code(mi_id, code).await.expect("use")
}

async fn replace_codes(store: &SqlIdentityStore, mi_id: MiId, codes: &[&str]) {
    let codes: Vec<String> = codes.iter().map(|code| (*code).to_owned()).collect();
    store
        .replace_recovery_codes(mi_id, &codes)
        .await
        .expect("codes");
}

pub(crate) async fn totp_steps_and_recovery_codes_are_accepted_once(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let (signed_up, other) = two_accounts(store).await;
    let (id, other_id) = (signed_up.mi_id(), other.mi_id());
    let enabled = [events::two_factor_changed(
        &signed_up.account,
        TwoFactorKind::Totp,
        true,
    )];
    let disabled = [events::two_factor_changed(
        &signed_up.account,
        TwoFactorKind::Totp,
        false,
    )];
    let disable = async || store.disable_totp(id, &disabled).await.expect("disable");
    let codes: Vec<String> = (0..3).map(|index| format!("a-code-{index}")).collect();

    // Pending secrets replace each other; only the current one confirms.
    assert_eq!(totp_state(store, id).await, TotpState::default());
    pend_totp(store, id, b"first").await;
    pend_totp(store, id, b"second").await;
    assert_eq!(totp_state(store, id).await, totp(None, Some(b"second")));
    let confirmed = confirm_totp(store, id, b"first", 100, &codes, &enabled).await;
    assert!(!confirmed, "a replaced pending secret does not confirm");
    let confirmed = confirm_totp(store, other_id, b"second", 100, &codes, &enabled).await;
    assert!(!confirmed, "nor does another account's");
    assert_eq!(two_factor_of(store, id).await, TwoFactorStatus::default());
    assert_eq!(rows(database, "recovery_codes", id).await, 0);
    assert_eq!(
        event_types(database, id).await,
        types(&[wire::AccountCreated::EVENT_TYPE, wire::SignedIn::EVENT_TYPE])
    );
    assert!(confirm_totp(store, id, b"second", 100, &codes, &enabled).await);
    assert_eq!(totp_state(store, id).await, totp(Some(b"second"), None));
    assert_eq!(two_factor_of(store, id).await, two_factor(true, false, 3));
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::TwoFactorEnabled::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);
    let confirmed = confirm_totp(store, id, b"second", 101, &codes, &enabled).await;
    assert!(!confirmed, "confirmed once");

    // Steps are accepted only going forward; the confirming step is used.
    for (step, accepted) in [
        (100, false),
        (99, false),
        (101, true),
        (101, false),
        (105, true),
        (104, false),
    ] {
        assert_eq!(accept_step(store, id, step).await, accepted, "step {step}");
    }
    assert!(
        accept_step(store, other_id, 101).await,
        "steps are per account"
    );
    for step in 200..205u64 {
        let accepted = race(6, |_| {
            let store = store.clone();
            async move { accept_step(&store, id, step).await }
        })
        .await;
        assert_eq!(successes(&accepted), 1, "step {step} is accepted once");
    }

    // Recovery codes are used up, and only by their account.
    replace_codes(store, other_id, &["b-code"]).await;
    assert!(
        !use_code(store, id, "b-code").await,
        "another account's code"
    );
    assert!(!use_code(store, id, "no-code").await);
    assert!(use_code(store, id, "a-code-0").await);
    assert!(!use_code(store, id, "a-code-0").await, "used once");
    let used = race(6, |_| {
        let store = store.clone();
        async move { use_code(&store, id, "a-code-1").await }
    })
    .await;
    assert_eq!(
        successes(&used),
        1,
        "a code is used once, even concurrently"
    );
    assert_eq!(two_factor_of(store, id).await.recovery_codes_left, 1);
    assert_eq!(rows(database, "recovery_codes", other_id).await, 1);
    // Replacing drops the old codes.
    replace_codes(store, id, &["c-code-0", "c-code-1"]).await;
    assert!(!use_code(store, id, "a-code-2").await);
    assert_eq!(two_factor_of(store, id).await.recovery_codes_left, 2);

    // The code second factor toggles once each way.
    assert!(set_codes(store, id, true).await);
    assert!(!set_codes(store, id, true).await, "on already");
    assert!(
        !set_codes(store, mi_id(1_000_000_009), true).await,
        "no such account"
    );

    // Turning TOTP off with codes still on keeps the recovery codes, and drops a pending secret.
    pend_totp(store, id, b"third").await;
    let outbox_before = outbox_len(database).await;
    assert!(disable().await);
    assert_eq!(totp_state(store, id).await, TotpState::default());
    assert_eq!(two_factor_of(store, id).await, two_factor(false, true, 2));
    assert_eq!(outbox_len(database).await, outbox_before + 1);
    assert!(!disable().await, "off already");
    assert_eq!(outbox_len(database).await, outbox_before + 1);

    // With no second factor left, the recovery codes go too.
    pend_totp(store, id, b"fourth").await;
    assert!(confirm_totp(store, id, b"fourth", 300, &codes, &enabled).await);
    assert!(set_codes(store, id, false).await);
    assert!(!set_codes(store, id, false).await, "off already");
    assert_eq!(two_factor_of(store, id).await.recovery_codes_left, 3);
    assert!(disable().await);
    assert_eq!(two_factor_of(store, id).await, TwoFactorStatus::default());
    assert_eq!(rows(database, "recovery_codes", id).await, 0);
    let other_codes = rows(database, "recovery_codes", other_id).await;
    assert_eq!(other_codes, 1, "only this account's codes go");
}
