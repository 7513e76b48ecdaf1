//! Accounts: sign-up (all or nothing, and once under a race), lookup, recorded events, the
//! profile, and deletion.

use mi_contracts::UnixMillis;
use mi_identity::domain::Account;
use mi_identity::domain::events;
use mi_identity::domain::{
    AddContactOutcome, CreateAccountOutcome, PasswordStore, ProfileStore, RotateOutcome,
    SessionStore, SignInCandidate, TotpState, TwoFactorStore,
};
use mi_proto::EventPayload;
use mi_proto::events::v1 as wire;

use crate::support::{
    ACCOUNT_TABLES, DAY, EMAIL_A, EMAIL_B, Fixture, PHONE_A, PHONE_B, PHONE_C, SignUp, account,
    account_of, active, active_with_locale, add_contact, all_rows, assert_no_rows, candidate,
    confirm_totp, contact, create_challenge, create_consent_challenge, delete, event_types, find,
    ids_in_order, is_known, mi_id, named, new_account, new_challenge, new_consent_challenge,
    outbox_len, pairs, password, password_of, pend_totp, race, random_hash, recovery,
    revoked_events, rotate_first, rows, session_ids, sessions, shifted, sign_up, spend, start,
    successes, token, types, used_tokens_of,
};

pub(crate) async fn sign_up_stores_everything_or_nothing(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let first = sign_up(store, 1_000_000_001, PHONE_A).await;
    let first_id = first.mi_id();
    let now = UnixMillis::now();

    // Account, primary contact, password, session, device and events are all stored.
    assert_eq!(
        account(store, first_id).await,
        Some(first.account.clone()),
        "the account reads back as created"
    );
    assert_eq!(
        password_of(store, first_id).await,
        Some(password("initial"))
    );
    assert_eq!(
        sessions(store, first_id).await,
        vec![first.session.session.clone()]
    );
    let first_session = active(store, first.session_id(), now).await;
    assert_eq!(first_session, Some(first.session.session.clone()));
    assert!(is_known(store, first_id, "device-1").await);
    assert!(!is_known(store, first_id, "device-2").await);
    let stored_events = event_types(database, first_id).await;
    assert_eq!(
        stored_events,
        types(&[wire::AccountCreated::EVENT_TYPE, wire::SignedIn::EVENT_TYPE])
    );

    // A sign-in reads the account, its hash and whether the device is known, by Mi ID or by
    // contact; nothing for an identifier of no account.
    let expected = SignInCandidate {
        account: first.account.clone(),
        password: password("initial"),
        known_device: true,
    };
    assert_eq!(
        candidate(store, PHONE_A, "device-1").await,
        Some(expected.clone())
    );
    assert_eq!(
        candidate(store, "1000000001", "device-2").await,
        Some(SignInCandidate {
            known_device: false,
            ..expected
        })
    );
    assert_eq!(candidate(store, PHONE_B, "device-1").await, None);
    assert_eq!(candidate(store, "1000000009", "device-1").await, None);

    // Found by Mi ID and by contact, whatever form the contact is typed in.
    assert_eq!(find(store, "1000000001").await, Some(first_id));
    assert_eq!(find(store, PHONE_A).await, Some(first_id));
    assert_eq!(find(store, "+86 138 0013 8000").await, Some(first_id));
    assert_eq!(find(store, "1000000009").await, None);
    assert_eq!(find(store, PHONE_B).await, None);
    assert_eq!(account(store, mi_id(1_000_000_009)).await, None);
    // The same, with the account, in one read (StartPasswordReset).
    for identifier in ["1000000001", PHONE_A, "+86 138 0013 8000"] {
        assert_eq!(
            named(store, identifier).await.as_ref(),
            Some(&first.account),
            "{identifier}"
        );
    }
    assert_eq!(named(store, "1000000009").await, None);
    assert_eq!(named(store, PHONE_B).await, None);
    assert_eq!(password_of(store, mi_id(1_000_000_009)).await, None);

    // A contact of another account: nothing written, the token not spent.
    let outbox_before = outbox_len(database).await;
    let taken = SignUp::new(1_000_000_002, PHONE_A, now)
        .with_password("second")
        .on_device("device-9");
    assert_eq!(
        taken.attempt(store).await,
        CreateAccountOutcome::ContactTaken
    );
    assert_eq!(account(store, taken.mi_id()).await, None);
    assert_no_rows(database, &ACCOUNT_TABLES, taken.mi_id()).await;
    assert_eq!(outbox_len(database).await, outbox_before);
    assert_eq!(
        find(store, PHONE_A).await,
        Some(first_id),
        "still the first's"
    );
    assert_eq!(account_of(store, first_id).await, first.account);
    // The unspent token still creates the account, with a free contact.
    let retried = SignUp {
        account: new_account(1_000_000_002, EMAIL_B, now),
        ..taken.clone()
    };
    assert_eq!(
        retried.attempt(store).await,
        CreateAccountOutcome::Created,
        "the token of a refused sign-up stays unspent"
    );
    assert_eq!(find(store, EMAIL_B).await, Some(retried.mi_id()));

    // A spent token: nothing written.
    let outbox_before = outbox_len(database).await;
    let reused = SignUp::new(1_000_000_003, PHONE_C, now)
        .with_password("third")
        .with_token(&first.token)
        .on_device("device-3");
    assert_eq!(
        reused.attempt(store).await,
        CreateAccountOutcome::TokenSpent
    );
    assert_eq!(account(store, reused.mi_id()).await, None);
    assert_eq!(find(store, PHONE_C).await, None);
    assert_no_rows(database, &ACCOUNT_TABLES, reused.mi_id()).await;
    assert_eq!(outbox_len(database).await, outbox_before);

    // A taken Mi ID: nothing written, the existing account untouched, the token not spent.
    let clash = SignUp::new(1_000_000_001, PHONE_C, shifted(now, 1))
        .with_password("clash")
        .on_device("device-4");
    assert_eq!(clash.attempt(store).await, CreateAccountOutcome::MiIdTaken);
    assert_eq!(account_of(store, first_id).await, first.account);
    assert_eq!(
        password_of(store, first_id).await,
        Some(password("initial"))
    );
    assert_eq!(find(store, PHONE_C).await, None);
    assert_eq!(
        session_ids(store, first_id).await,
        ids_in_order(&[&first.session])
    );
    assert!(!is_known(store, first_id, "device-4").await);
    assert_eq!(outbox_len(database).await, outbox_before);
    assert!(
        spend(store, &clash.token).await,
        "the token of a refused sign-up stays unspent"
    );
}

pub(crate) async fn concurrent_sign_ups_create_one_account(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let now = UnixMillis::now();

    // The same contact, six Mi IDs, six tokens: one account gets it.
    let outcomes = race(6, |index| {
        let store = store.clone();
        let racer = SignUp::new(1_100_000_000 + index as u64, PHONE_A, now).with_password("racer");
        async move { (racer.mi_id(), racer.attempt(&store).await) }
    })
    .await;
    let mut winners = Vec::new();
    for (racer_id, outcome) in outcomes {
        match outcome {
            CreateAccountOutcome::Created => winners.push(racer_id),
            CreateAccountOutcome::ContactTaken => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one sign-up wins the contact");
    assert_eq!(find(store, PHONE_A).await, Some(winners[0]));
    assert_eq!(all_rows(database, "accounts").await, 1);
    assert_eq!(all_rows(database, "sessions").await, 1);
    assert_eq!(outbox_len(database).await, 2);

    // The same token, six contacts: one account is created.
    let shared = token(&contact(PHONE_B));
    let outcomes = race(6, |index| {
        let store = store.clone();
        let email = format!("racer{index}@example.com");
        let racer = SignUp::new(1_200_000_000 + index as u64, &email, now)
            .with_password("racer")
            .with_token(&shared);
        async move { racer.attempt(&store).await }
    })
    .await;
    let mut created = 0;
    for outcome in outcomes {
        match outcome {
            CreateAccountOutcome::Created => created += 1,
            CreateAccountOutcome::TokenSpent => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1, "a token creates one account");
    assert_eq!(all_rows(database, "accounts").await, 2);
    assert_eq!(all_rows(database, "contacts").await, 2);
}

pub(crate) async fn deleting_an_account_removes_only_that_account(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let now = UnixMillis::now();

    // Two accounts with everything an account can have.
    let mut accounts = Vec::new();
    for (raw_id, primary, backup) in [
        (1_000_000_001, PHONE_A, EMAIL_A),
        (1_000_000_002, PHONE_B, EMAIL_B),
    ] {
        let signed_up = sign_up(store, raw_id, primary).await;
        let id = signed_up.mi_id();
        let outcome = add_contact(store, id, &recovery(backup, now), 5).await;
        assert_eq!(outcome, AddContactOutcome::Added);
        let second = start(store, id, "device-2", shifted(now, 1_000)).await;
        let rotated = rotate_first(
            store,
            &second,
            &random_hash(),
            shifted(now, 2_000),
            shifted(now, DAY),
        )
        .await;
        assert!(matches!(rotated, RotateOutcome::Rotated(_)));
        create_challenge(store, &new_challenge(id, shifted(now, 60_000))).await;
        create_consent_challenge(store, &new_consent_challenge(id, shifted(now, 60_000))).await;
        pend_totp(store, id, b"secret").await;
        assert!(confirm_totp(store, id, b"secret", 10, &["code".to_owned()], &[]).await);
        accounts.push((signed_up, second));
    }
    let [(doomed, doomed_second), (kept, kept_second)] = &accounts[..] else {
        panic!("two accounts");
    };
    let (doomed_id, kept_id) = (doomed.mi_id(), kept.mi_id());
    let kept_account = account_of(store, kept_id).await;
    let kept_sessions = sessions(store, kept_id).await;
    let tables = [
        "accounts",
        "contacts",
        "sessions",
        "known_devices",
        "sign_in_challenges",
        "consent_challenges",
        "consents",
        "recovery_codes",
    ];
    let mut kept_counts = Vec::new();
    for table in tables {
        kept_counts.push(rows(database, table, kept_id).await);
    }

    // Deleted, with a SessionRevoked per session and the AccountDeleted event.
    let deleted = [events::account_deleted(doomed_id)];
    assert!(delete(store, doomed_id, &deleted).await);
    assert_eq!(account(store, doomed_id).await, None);
    assert_eq!(password_of(store, doomed_id).await, None);
    assert_no_rows(database, &tables, doomed_id).await;
    for session in [&doomed.session, doomed_second] {
        let session_id = &session.session.session_id;
        assert_eq!(used_tokens_of(database, session_id).await, 0);
        assert_eq!(active(store, session_id, now).await, None);
    }
    assert_eq!(find(store, PHONE_A).await, None);
    assert_eq!(find(store, EMAIL_A).await, None);
    assert_eq!(find(store, "1000000001").await, None);
    let totp = store.totp_state(doomed_id).await.expect("state");
    assert_eq!(totp, TotpState::default());
    assert_eq!(
        revoked_events(database, doomed_id).await,
        pairs(&[&doomed.session, doomed_second], "account_deleted")
    );
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::SessionRevoked::EVENT_TYPE,
        wire::SessionRevoked::EVENT_TYPE,
        wire::AccountDeleted::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, doomed_id).await, expected);

    // The other account keeps everything.
    assert_eq!(account_of(store, kept_id).await, kept_account);
    assert_eq!(sessions(store, kept_id).await, kept_sessions);
    for (table, count) in tables.iter().zip(&kept_counts) {
        assert_eq!(rows(database, table, kept_id).await, *count, "{table}");
    }
    assert_eq!(
        used_tokens_of(database, &kept_second.session.session_id).await,
        1
    );
    assert_eq!(find(store, PHONE_B).await, Some(kept_id));
    assert_eq!(find(store, EMAIL_B).await, Some(kept_id));
    assert!(revoked_events(database, kept_id).await.is_empty());

    // Deleted once; the freed contact signs up again.
    let outbox_before = outbox_len(database).await;
    assert!(!delete(store, doomed_id, &deleted).await);
    assert_eq!(outbox_len(database).await, outbox_before);
    let again = sign_up(store, 1_000_000_003, PHONE_A).await;
    assert_eq!(find(store, PHONE_A).await, Some(again.mi_id()));
}

pub(crate) async fn tokens_events_profile_and_authentication_times(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    let session_id = signed_up.session_id();
    let now = UnixMillis::now();

    // A token is spent once, even concurrently.
    let spent = token(&contact(PHONE_B));
    assert!(spend(store, &spent).await);
    assert!(!spend(store, &spent).await);
    let raced = token(&contact(PHONE_B));
    let spent = race(6, |_| {
        let (store, raced) = (store.clone(), raced.clone());
        async move { spend(&store, &raced).await }
    })
    .await;
    assert_eq!(successes(&spent), 1);

    // Events without a state change.
    let alert = events::password_failures(&signed_up.account, 5);
    store.record_events(id, &[alert]).await.expect("record");
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::PasswordFailures::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);

    // The profile changes, with its event (and the caller of a session now reads the new
    // locale); a gone account is reported.
    let before = active_with_locale(store, session_id, now).await;
    assert_eq!(
        before.map(|active| active.account_locale).as_deref(),
        Some("zh-CN")
    );
    let updated = Account {
        display_name: "Jane".into(),
        region: "SG".into(),
        locale: "en".into(),
        ..signed_up.account.clone()
    };
    let profile_updated = events::profile_updated(&updated, vec!["display_name".into()]);
    assert!(
        store
            .update_profile(&updated, &[profile_updated])
            .await
            .expect("profile")
    );
    assert_eq!(account_of(store, id).await, updated);
    let after = active_with_locale(store, session_id, now).await;
    assert_eq!(
        after.map(|active| active.account_locale).as_deref(),
        Some("en")
    );
    let expected = types(&[
        wire::AccountCreated::EVENT_TYPE,
        wire::SignedIn::EVENT_TYPE,
        wire::PasswordFailures::EVENT_TYPE,
        wire::ProfileUpdated::EVENT_TYPE,
    ]);
    assert_eq!(event_types(database, id).await, expected);
    let gone = new_account(1_000_000_009, PHONE_C, now);
    let gone_updated = events::profile_updated(&gone, Vec::new());
    assert!(
        !store
            .update_profile(&gone, &[gone_updated])
            .await
            .expect("profile")
    );
    assert_eq!(account(store, gone.mi_id).await, None);
    assert!(event_types(database, gone.mi_id).await.is_empty());

    // Authentication adds its method once and moves the authentication time.
    for at in [shifted(now, 1_000), shifted(now, 2_000)] {
        store
            .mark_authenticated(session_id, at, "otp")
            .await
            .expect("mark");
    }
    let session = active(store, session_id, now).await.expect("session");
    assert_eq!(session.methods, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(session.auth_time, shifted(now, 2_000));
    assert_eq!(session.created_at, signed_up.session.session.created_at);
    store
        .mark_authenticated("no-such-session", now, "otp")
        .await
        .expect("mark an unknown session");
}
