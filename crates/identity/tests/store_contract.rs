//! The identity store contract, on SQLite and PostgreSQL: every scenario below runs as
//! `sqlite::<scenario>` and `postgres::<scenario>`, each on a database of its own.

use mi_identity::domain::{
    Account, Challenge, ChallengeReason, Consent, Contact, ContactValue, DeviceInfo, Identifier,
    MiId, SecondFactorMethod, Session, StoredHash, TwoFactor, VerifiedContact,
};
use mi_identity::events::{self, IdentityEvent};
use mi_identity::storage::{
    AccountStore, AddContactOutcome, CompleteOutcome, CreateAccountOutcome, NewSession,
    RevokeScope, RotateOutcome, SecondFactorStore, SessionStore, SetPasswordOutcome,
    SqlIdentityStore, TotpState,
};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::{clock, testing};
use mi_proto::EventPayload;
use mi_proto::events::v1::{EventEnvelope, SessionRevoked};
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

const DAY: i64 = 24 * 60 * 60 * 1000;
const PHONE_A: &str = "+8613800138000";
const PHONE_B: &str = "+8613900139000";
const PHONE_C: &str = "+8613700137000";
const EMAIL_A: &str = "jane.doe@example.com";
const EMAIL_B: &str = "li.lei@example.com";
const EMAIL_C: &str = "han.meimei@example.com";

/// A migrated database and the store over it.
struct Fixture {
    store: SqlIdentityStore,
    database: Database,
    _directory: Option<tempfile::TempDir>,
}

async fn fixture(database: Database, directory: Option<tempfile::TempDir>) -> Fixture {
    database
        .migrate(sqlx::migrate!("./migrations"))
        .await
        .expect("migrate");
    Fixture {
        store: SqlIdentityStore::new(database.clone(), Outbox::new("identity", "identity.events")),
        database,
        _directory: directory,
    }
}

async fn sqlite() -> Fixture {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::connect_sqlite(&directory.path().join("identity.db"))
        .await
        .expect("sqlite");
    fixture(database, Some(directory)).await
}

async fn postgres() -> Fixture {
    let url = format!("{}/{}", testing::postgres_url(), testing::unique_name("t_"));
    let database = Database::connect_postgres(&url, 8).await.expect("postgres");
    fixture(database, None).await
}

/// Runs each `async fn scenario(fixture: Fixture)` as `sqlite::scenario` and
/// `postgres::scenario`.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    Box::pin(super::$scenario(super::sqlite().await)).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    Box::pin(super::$scenario(super::postgres().await)).await;
                }
            )+
        }
    };
}

on_both_backends!(
    sign_up_stores_everything_or_nothing,
    concurrent_sign_ups_create_one_account,
    account_lists_contacts_primary_first_with_two_factor_state,
    contacts_are_added_within_limits_and_removed_unless_primary,
    concurrent_contact_additions_respect_the_limit,
    an_account_keeps_one_primary_contact_under_concurrent_changes,
    contacts_are_not_added_to_a_deleted_account,
    refresh_tokens_rotate_once_and_reuse_is_detected,
    concurrent_rotations_of_one_token_rotate_once,
    revoking_sessions_follows_the_scope,
    password_changes_spend_the_token_and_revoke_other_sessions,
    challenges_complete_once_while_pending,
    totp_steps_and_recovery_codes_are_accepted_once,
    deleting_an_account_removes_only_that_account,
    tokens_events_profile_and_authentication_times,
    concurrent_authentications_keep_every_method,
);

// ---------------------------------------------------------------------------------------------
// Building blocks.

fn contact(raw: &str) -> ContactValue {
    ContactValue::parse(raw).expect("contact")
}

fn mi_id(raw: u64) -> MiId {
    MiId::parse(raw).expect("mi id")
}

/// A fresh verification token proving `value`.
fn token(value: &ContactValue) -> VerifiedContact {
    VerifiedContact {
        contact: value.clone(),
        token_id: uuid::Uuid::new_v4().to_string(),
        expires_at: clock::now_millis() + 10 * 60 * 1000,
    }
}

fn password(label: &str) -> StoredHash {
    StoredHash(format!(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${label}"
    ))
}

fn random_hash() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn new_account(raw_id: u64, primary: &str, now: i64) -> Account {
    Account {
        mi_id: mi_id(raw_id),
        display_name: format!("User {raw_id}"),
        region: "CN".into(),
        locale: "zh-CN".into(),
        created_at: now,
        contacts: vec![Contact {
            value: contact(primary),
            primary: true,
            verified_at: now,
        }],
        two_factor: TwoFactor::default(),
        consent: Consent {
            terms_version: "2025-01".into(),
            privacy_policy_version: "2025-02".into(),
            accepted_at: now,
        },
    }
}

fn device(device_id: &str) -> DeviceInfo {
    DeviceInfo {
        device_id: device_id.into(),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: "Phone".into(),
    }
}

/// A session started at `created_at` whose refresh token lives for 30 days.
fn new_session(mi_id: MiId, device_id: &str, created_at: i64) -> NewSession {
    NewSession {
        session: Session {
            session_id: uuid::Uuid::now_v7().to_string(),
            mi_id,
            device: device(device_id),
            client_address: "203.0.113.7".into(),
            methods: vec!["pwd".into()],
            created_at,
            last_used_at: created_at,
            auth_time: created_at,
        },
        refresh_hash: random_hash(),
        refresh_expires_at: created_at + 30 * DAY,
    }
}

fn sign_up_events(account: &Account, session: &NewSession) -> Vec<IdentityEvent> {
    vec![
        events::account_created(account, &account.contacts[0].value),
        events::signed_in(account, &session.session, true),
    ]
}

/// An account created through the store, with what created it.
struct SignedUp {
    account: Account,
    session: NewSession,
    token: VerifiedContact,
}

impl SignedUp {
    fn mi_id(&self) -> MiId {
        self.account.mi_id
    }
}

async fn sign_up(store: &SqlIdentityStore, raw_id: u64, primary: &str) -> SignedUp {
    let now = clock::now_millis();
    let account = new_account(raw_id, primary, now);
    let token = token(&account.contacts[0].value);
    let session = new_session(account.mi_id, "device-1", now);
    let created = store
        .create_account(
            &account,
            &password("initial"),
            &token,
            &session,
            &sign_up_events(&account, &session),
        )
        .await
        .expect("create account");
    assert_eq!(created, CreateAccountOutcome::Created);
    SignedUp {
        account,
        session,
        token,
    }
}

/// Tries to create an account with a fresh token and session.
async fn sign_up_outcome(
    store: &SqlIdentityStore,
    raw_id: u64,
    primary: &str,
) -> CreateAccountOutcome {
    let now = clock::now_millis();
    let account = new_account(raw_id, primary, now);
    let session = new_session(account.mi_id, "device-1", now);
    store
        .create_account(
            &account,
            &password("initial"),
            &token(&account.contacts[0].value),
            &session,
            &sign_up_events(&account, &session),
        )
        .await
        .expect("create account")
}

/// Starts another session of the account, created at `created_at`.
async fn start(
    store: &SqlIdentityStore,
    mi_id: MiId,
    device_id: &str,
    created_at: i64,
) -> NewSession {
    let session = new_session(mi_id, device_id, created_at);
    store.start_session(&session, &[]).await.expect("start");
    session
}

fn new_challenge(mi_id: MiId, expires_at: i64) -> Challenge {
    Challenge {
        challenge_id: uuid::Uuid::new_v4().to_string(),
        mi_id,
        device: device("device-2"),
        client_address: "203.0.113.8".into(),
        reason: ChallengeReason::TwoFactor,
        methods: vec![SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode],
        new_device: true,
        attempts: 0,
        expires_at,
        completed: false,
    }
}

/// Runs `racers` futures at once: every task is spawned before any is awaited, and all start
/// together behind a barrier. The results come back in racer order.
async fn race<T, F, Fut>(racers: usize, racer: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|index| {
            let (barrier, racer) = (Arc::clone(&barrier), racer(index));
            tokio::spawn(async move {
                barrier.wait().await;
                racer.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(racers);
    for task in tasks {
        results.push(task.await.expect("join"));
    }
    results
}

async fn rows(database: &Database, table: &str, mi_id: MiId) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE mi_id = $1"))
        .bind(mi_id.as_i64())
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn all_rows(database: &Database, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn used_tokens_of(database: &Database, session_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM used_refresh_tokens WHERE session_id = $1")
        .bind(session_id)
        .fetch_one(database.pool())
        .await
        .expect("count")
}

/// The event types in the outbox for an account, sorted.
async fn event_types(database: &Database, mi_id: MiId) -> Vec<String> {
    let mut types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM outbox WHERE message_key = $1")
            .bind(mi_id.to_string())
            .fetch_all(database.pool())
            .await
            .expect("outbox");
    types.sort();
    types
}

/// Full event type names, sorted, for comparing with [`event_types`].
fn types(names: &[&str]) -> Vec<String> {
    let mut types: Vec<String> = names
        .iter()
        .map(|name| format!("mi.events.v1.{name}"))
        .collect();
    types.sort();
    types
}

/// The `(session_id, reason)` of each `SessionRevoked` in the outbox for an account, sorted.
async fn revoked_events(database: &Database, mi_id: MiId) -> Vec<(String, String)> {
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE message_key = $1 AND event_type = $2")
            .bind(mi_id.to_string())
            .bind(SessionRevoked::EVENT_TYPE)
            .fetch_all(database.pool())
            .await
            .expect("outbox");
    let mut revoked: Vec<(String, String)> = payloads
        .iter()
        .map(|payload| {
            let envelope = EventEnvelope::decode(payload.as_slice()).expect("envelope");
            let event: SessionRevoked = mi_platform::events::payload(&envelope)
                .expect("a SessionRevoked")
                .expect("decode");
            assert_eq!(event.mi_id, mi_id.get());
            (event.session_id, event.reason)
        })
        .collect();
    revoked.sort();
    revoked
}

fn pairs(session_ids: &[&str], reason: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = session_ids
        .iter()
        .map(|id| ((*id).to_owned(), reason.to_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn ids(sessions: &[&NewSession]) -> Vec<String> {
    sorted(
        sessions
            .iter()
            .map(|session| session.session.session_id.clone())
            .collect(),
    )
}

async fn find(store: &SqlIdentityStore, raw: &str) -> Option<MiId> {
    store
        .find_account(&Identifier::parse(raw).expect("identifier"))
        .await
        .expect("find")
}

async fn account_of(store: &SqlIdentityStore, mi_id: MiId) -> Account {
    store
        .account(mi_id)
        .await
        .expect("account")
        .expect("an account")
}

async fn session_ids(store: &SqlIdentityStore, mi_id: MiId) -> Vec<String> {
    store
        .list_sessions(mi_id)
        .await
        .expect("list")
        .into_iter()
        .map(|session| session.session_id)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

async fn sign_up_stores_everything_or_nothing(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let first = sign_up(store, 1_000_000_001, PHONE_A).await;
    let first_id = first.mi_id();
    let now = clock::now_millis();

    // Account, primary contact, password, session, device and events are all stored.
    assert_eq!(
        store.account(first_id).await.expect("account"),
        Some(first.account.clone()),
        "the account reads back as created"
    );
    assert_eq!(
        store.password_hash(first_id).await.expect("hash"),
        Some(password("initial"))
    );
    assert_eq!(
        store.list_sessions(first_id).await.expect("list"),
        vec![first.session.session.clone()]
    );
    assert_eq!(
        store
            .active_session(&first.session.session.session_id, now)
            .await
            .expect("active"),
        Some(first.session.session.clone())
    );
    assert!(
        store
            .is_known_device(first_id, "device-1")
            .await
            .expect("known")
    );
    assert!(
        !store
            .is_known_device(first_id, "device-2")
            .await
            .expect("known")
    );
    assert_eq!(
        event_types(database, first_id).await,
        types(&["AccountCreated", "SignedIn"])
    );

    // Found by Mi ID and by contact, whatever form the contact is typed in.
    assert_eq!(find(store, "1000000001").await, Some(first_id));
    assert_eq!(find(store, PHONE_A).await, Some(first_id));
    assert_eq!(find(store, "+86 138 0013 8000").await, Some(first_id));
    assert_eq!(find(store, "1000000009").await, None);
    assert_eq!(find(store, PHONE_B).await, None);
    assert_eq!(
        store.account(mi_id(1_000_000_009)).await.expect("none"),
        None
    );
    assert_eq!(
        store
            .password_hash(mi_id(1_000_000_009))
            .await
            .expect("none"),
        None
    );

    // A contact of another account: nothing written, the token not spent.
    let outbox_before = all_rows(database, "outbox").await;
    let taken = new_account(1_000_000_002, PHONE_A, now);
    let taken_token = token(&contact(PHONE_A));
    let taken_session = new_session(taken.mi_id, "device-9", now);
    let outcome = store
        .create_account(
            &taken,
            &password("second"),
            &taken_token,
            &taken_session,
            &sign_up_events(&taken, &taken_session),
        )
        .await
        .expect("create");
    assert_eq!(outcome, CreateAccountOutcome::ContactTaken);
    assert_eq!(store.account(taken.mi_id).await.expect("account"), None);
    for table in ["accounts", "contacts", "sessions", "known_devices"] {
        assert_eq!(rows(database, table, taken.mi_id).await, 0, "{table}");
    }
    assert_eq!(all_rows(database, "outbox").await, outbox_before);
    assert_eq!(
        find(store, PHONE_A).await,
        Some(first_id),
        "still the first's"
    );
    assert_eq!(account_of(store, first_id).await, first.account);
    // The unspent token still creates the account, with a free contact.
    let retried = new_account(1_000_000_002, EMAIL_B, now);
    let outcome = store
        .create_account(
            &retried,
            &password("second"),
            &taken_token,
            &taken_session,
            &sign_up_events(&retried, &taken_session),
        )
        .await
        .expect("create");
    assert_eq!(
        outcome,
        CreateAccountOutcome::Created,
        "the token of a refused sign-up stays unspent"
    );
    assert_eq!(find(store, EMAIL_B).await, Some(retried.mi_id));

    // A spent token: nothing written.
    let outbox_before = all_rows(database, "outbox").await;
    let reused = new_account(1_000_000_003, PHONE_C, now);
    let reused_session = new_session(reused.mi_id, "device-3", now);
    let outcome = store
        .create_account(
            &reused,
            &password("third"),
            &first.token,
            &reused_session,
            &sign_up_events(&reused, &reused_session),
        )
        .await
        .expect("create");
    assert_eq!(outcome, CreateAccountOutcome::TokenSpent);
    assert_eq!(store.account(reused.mi_id).await.expect("account"), None);
    assert_eq!(find(store, PHONE_C).await, None);
    for table in ["accounts", "contacts", "sessions", "known_devices"] {
        assert_eq!(rows(database, table, reused.mi_id).await, 0, "{table}");
    }
    assert_eq!(all_rows(database, "outbox").await, outbox_before);

    // A taken Mi ID: nothing written, the existing account untouched, the token not spent.
    let clash = new_account(1_000_000_001, PHONE_C, now + 1);
    let clash_token = token(&contact(PHONE_C));
    let clash_session = new_session(clash.mi_id, "device-4", now + 1);
    let outcome = store
        .create_account(
            &clash,
            &password("clash"),
            &clash_token,
            &clash_session,
            &sign_up_events(&clash, &clash_session),
        )
        .await
        .expect("create");
    assert_eq!(outcome, CreateAccountOutcome::MiIdTaken);
    assert_eq!(account_of(store, first_id).await, first.account);
    assert_eq!(
        store.password_hash(first_id).await.expect("hash"),
        Some(password("initial"))
    );
    assert_eq!(find(store, PHONE_C).await, None);
    assert_eq!(
        session_ids(store, first_id).await,
        vec![first.session.session.session_id.clone()]
    );
    assert!(
        !store
            .is_known_device(first_id, "device-4")
            .await
            .expect("known")
    );
    assert_eq!(all_rows(database, "outbox").await, outbox_before);
    assert!(
        store.spend_token(&clash_token).await.expect("spend"),
        "the token of a refused sign-up stays unspent"
    );
}

async fn concurrent_sign_ups_create_one_account(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let now = clock::now_millis();

    // The same contact, six Mi IDs, six tokens: one account gets it.
    let outcomes = race(6, |index| {
        let store = store.clone();
        async move {
            let account = new_account(1_100_000_000 + index as u64, PHONE_A, now);
            let session = new_session(account.mi_id, "device-1", now);
            let outcome = store
                .create_account(
                    &account,
                    &password("racer"),
                    &token(&contact(PHONE_A)),
                    &session,
                    &sign_up_events(&account, &session),
                )
                .await
                .expect("create");
            (account.mi_id, outcome)
        }
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
    assert_eq!(all_rows(database, "outbox").await, 2);

    // The same token, six contacts: one account is created.
    let shared = token(&contact(PHONE_B));
    let outcomes = race(6, |index| {
        let (store, shared) = (store.clone(), shared.clone());
        async move {
            let account = new_account(
                1_200_000_000 + index as u64,
                &format!("racer{index}@example.com"),
                now,
            );
            let session = new_session(account.mi_id, "device-1", now);
            store
                .create_account(
                    &account,
                    &password("racer"),
                    &shared,
                    &session,
                    &sign_up_events(&account, &session),
                )
                .await
                .expect("create")
        }
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

async fn account_lists_contacts_primary_first_with_two_factor_state(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    let primary_at = signed_up.account.contacts[0].verified_at;

    // Recovery contacts verified before and after the primary one.
    let earlier = Contact {
        value: contact(EMAIL_A),
        primary: false,
        verified_at: primary_at - 60_000,
    };
    let later = Contact {
        value: contact(PHONE_B),
        primary: false,
        verified_at: primary_at + 60_000,
    };
    for added in [&later, &earlier] {
        let outcome = store
            .add_contact(id, added, &token(&added.value), 5, &[])
            .await
            .expect("add");
        assert_eq!(outcome, AddContactOutcome::Added);
    }
    let account = account_of(store, id).await;
    assert_eq!(
        account.contacts,
        vec![
            signed_up.account.contacts[0].clone(),
            earlier.clone(),
            later.clone()
        ],
        "the primary contact first, then by verification time"
    );
    assert_eq!(account.two_factor, TwoFactor::default());

    // Second factors show in the account.
    assert!(
        store
            .set_code_second_factor(id, true, &[])
            .await
            .expect("codes on")
    );
    store
        .set_pending_totp(id, b"sealed-secret")
        .await
        .expect("pending");
    assert_eq!(
        account_of(store, id).await.two_factor,
        TwoFactor {
            totp: false,
            codes: true,
            recovery_codes_left: 0
        },
        "a pending secret is not on"
    );
    let codes: Vec<String> = (0..4).map(|index| format!("code-{index}")).collect();
    assert!(
        store
            .confirm_totp(id, b"sealed-secret", 100, &codes, &[])
            .await
            .expect("confirm")
    );
    assert_eq!(
        account_of(store, id).await.two_factor,
        TwoFactor {
            totp: true,
            codes: true,
            recovery_codes_left: 4
        }
    );

    // Another contact becomes primary: exactly one primary, listed first.
    assert!(
        store
            .set_primary_contact(id, &later.value)
            .await
            .expect("primary")
    );
    let account = account_of(store, id).await;
    let primaries: Vec<(String, bool)> = account
        .contacts
        .iter()
        .map(|listed| (listed.value.as_str().to_owned(), listed.primary))
        .collect();
    assert_eq!(
        primaries,
        vec![
            (PHONE_B.to_owned(), true),
            (EMAIL_A.to_owned(), false),
            (PHONE_A.to_owned(), false)
        ],
        "the new primary first, the others by verification time"
    );
    // Not a contact of this account: nothing changes.
    let other = sign_up(store, 1_000_000_002, PHONE_C).await;
    assert!(
        !store
            .set_primary_contact(id, &contact(PHONE_C))
            .await
            .expect("primary")
    );
    assert!(
        !store
            .set_primary_contact(id, &contact(EMAIL_C))
            .await
            .expect("primary")
    );
    assert_eq!(account_of(store, id).await, account);
    assert_eq!(account_of(store, other.mi_id()).await, other.account);
    assert_eq!(rows(database, "contacts", other.mi_id()).await, 1);
}

async fn contacts_are_added_within_limits_and_removed_unless_primary(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let other = sign_up(store, 1_000_000_002, PHONE_B).await;
    let id = signed_up.mi_id();
    let now = clock::now_millis();
    let recovery = |raw: &str| Contact {
        value: contact(raw),
        primary: false,
        verified_at: now,
    };
    const MAX: usize = 3;

    // Added, with its event.
    let email = recovery(EMAIL_A);
    let added_event = |account: &Account, value: &ContactValue| {
        vec![events::recovery_contact_added(account, value)]
    };
    let outcome = store
        .add_contact(
            id,
            &email,
            &token(&email.value),
            MAX,
            &added_event(&signed_up.account, &email.value),
        )
        .await
        .expect("add");
    assert_eq!(outcome, AddContactOutcome::Added);
    assert_eq!(find(store, EMAIL_A).await, Some(id));
    assert_eq!(
        event_types(database, id).await,
        types(&["AccountCreated", "SignedIn", "RecoveryContactAdded"])
    );

    // In use by this account or another: nothing written, the token not spent.
    let outbox_before = all_rows(database, "outbox").await;
    for (raw, owner) in [(PHONE_A, id), (EMAIL_A, id), (PHONE_B, other.mi_id())] {
        let in_use = recovery(raw);
        let in_use_token = token(&in_use.value);
        let outcome = store
            .add_contact(id, &in_use, &in_use_token, MAX, &[])
            .await
            .expect("add");
        assert_eq!(outcome, AddContactOutcome::InUse, "{raw}");
        assert_eq!(find(store, raw).await, Some(owner), "{raw}");
        assert!(
            store.spend_token(&in_use_token).await.expect("spend"),
            "the token of a refused addition stays unspent"
        );
    }
    assert_eq!(account_of(store, other.mi_id()).await, other.account);
    assert_eq!(rows(database, "contacts", id).await, 2);
    assert_eq!(all_rows(database, "outbox").await, outbox_before);

    // A spent token: nothing written.
    let phone = recovery(PHONE_C);
    let outcome = store
        .add_contact(id, &phone, &signed_up.token, MAX, &[])
        .await
        .expect("add");
    assert_eq!(outcome, AddContactOutcome::TokenSpent);
    assert_eq!(find(store, PHONE_C).await, None);

    // Up to the limit, then no more.
    let outcome = store
        .add_contact(id, &phone, &token(&phone.value), MAX, &[])
        .await
        .expect("add");
    assert_eq!(outcome, AddContactOutcome::Added);
    assert_eq!(rows(database, "contacts", id).await, 3);
    let one_too_many = recovery(EMAIL_B);
    let too_many_token = token(&one_too_many.value);
    let outcome = store
        .add_contact(id, &one_too_many, &too_many_token, MAX, &[])
        .await
        .expect("add");
    assert_eq!(outcome, AddContactOutcome::TooMany);
    assert_eq!(find(store, EMAIL_B).await, None);
    assert_eq!(rows(database, "contacts", id).await, 3);
    assert!(
        store.spend_token(&too_many_token).await.expect("spend"),
        "the token of a refused addition stays unspent"
    );

    // The primary contact stays; recovery contacts go, with their event.
    let account = account_of(store, id).await;
    let removed_event =
        |value: &ContactValue| vec![events::recovery_contact_removed(&account, value)];
    let outbox_before = all_rows(database, "outbox").await;
    assert!(
        !store
            .remove_contact(id, &contact(PHONE_A), &removed_event(&contact(PHONE_A)))
            .await
            .expect("remove"),
        "the primary contact is not removed"
    );
    assert_eq!(find(store, PHONE_A).await, Some(id));
    assert!(
        !store
            .remove_contact(id, &contact(PHONE_B), &removed_event(&contact(PHONE_B)))
            .await
            .expect("remove"),
        "another account's contact is not removed"
    );
    assert_eq!(find(store, PHONE_B).await, Some(other.mi_id()));
    assert!(
        !store
            .remove_contact(id, &contact(EMAIL_C), &removed_event(&contact(EMAIL_C)))
            .await
            .expect("remove")
    );
    assert_eq!(all_rows(database, "outbox").await, outbox_before);
    assert!(
        store
            .remove_contact(id, &contact(EMAIL_A), &removed_event(&contact(EMAIL_A)))
            .await
            .expect("remove")
    );
    assert_eq!(find(store, EMAIL_A).await, None);
    assert_eq!(all_rows(database, "outbox").await, outbox_before + 1);
    assert!(
        !store
            .remove_contact(id, &contact(EMAIL_A), &[])
            .await
            .expect("remove"),
        "removed once"
    );
    // The freed contact may be added again, to any account.
    let outcome = store
        .add_contact(
            other.mi_id(),
            &recovery(EMAIL_A),
            &token(&contact(EMAIL_A)),
            MAX,
            &[],
        )
        .await
        .expect("add");
    assert_eq!(outcome, AddContactOutcome::Added);

    // After a swap the former primary may go, the new one may not.
    assert!(
        store
            .set_primary_contact(id, &contact(PHONE_C))
            .await
            .expect("primary")
    );
    assert!(
        !store
            .remove_contact(id, &contact(PHONE_C), &[])
            .await
            .expect("remove")
    );
    assert!(
        store
            .remove_contact(id, &contact(PHONE_A), &[])
            .await
            .expect("remove")
    );
    let left = account_of(store, id).await.contacts;
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].value.as_str(), left[0].primary), (PHONE_C, true));
}

async fn concurrent_contact_additions_respect_the_limit(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    const MAX: usize = 2;
    for round in 0..5u64 {
        let signed_up = sign_up(
            store,
            1_000_000_001 + round,
            &format!("+86138001300{round:02}"),
        )
        .await;
        let id = signed_up.mi_id();
        let outcomes: Vec<Result<AddContactOutcome, String>> = race(6, |index| {
            let store = store.clone();
            async move {
                let added = Contact {
                    value: contact(&format!("round{round}.racer{index}@example.com")),
                    primary: false,
                    verified_at: clock::now_millis(),
                };
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

async fn refresh_tokens_rotate_once_and_reuse_is_detected(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let other = sign_up(store, 1_000_000_002, PHONE_B).await;
    let id = signed_up.mi_id();
    let session_id = signed_up.session.session.session_id.clone();
    let first_hash = signed_up.session.refresh_hash.clone();
    let now = clock::now_millis() + 1_000;

    // The current token rotates: the session comes back, used now.
    let second_hash = random_hash();
    let rotated = store
        .rotate_refresh(&session_id, &first_hash, &second_hash, now, now + 30 * DAY)
        .await
        .expect("rotate");
    let expected = Session {
        last_used_at: now,
        ..signed_up.session.session.clone()
    };
    assert_eq!(rotated, RotateOutcome::Rotated(expected.clone()));
    assert_eq!(
        store
            .active_session(&session_id, now)
            .await
            .expect("active"),
        Some(expected)
    );

    // The traded-in token again: reuse, naming the account.
    let outcome = store
        .rotate_refresh(
            &session_id,
            &first_hash,
            &random_hash(),
            now + 1,
            now + 30 * DAY,
        )
        .await
        .expect("rotate");
    assert_eq!(outcome, RotateOutcome::Reused(id));
    // Unknown tokens, tokens of another session, unknown sessions: invalid.
    for (session, hash) in [
        (session_id.as_str(), random_hash()),
        (session_id.as_str(), other.session.refresh_hash.clone()),
        (
            other.session.session.session_id.as_str(),
            second_hash.clone(),
        ),
        (
            other.session.session.session_id.as_str(),
            first_hash.clone(),
        ),
        ("0190aaaa-0000-7000-8000-000000000000", first_hash.clone()),
    ] {
        let outcome = store
            .rotate_refresh(session, &hash, &random_hash(), now + 2, now + 30 * DAY)
            .await
            .expect("rotate");
        assert_eq!(outcome, RotateOutcome::Invalid, "{session} {hash}");
    }
    // None of that touched the current token.
    let third_hash = random_hash();
    let outcome = store
        .rotate_refresh(
            &session_id,
            &second_hash,
            &third_hash,
            now + 3,
            now + 30 * DAY,
        )
        .await
        .expect("rotate");
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    let outcome = store
        .rotate_refresh(
            &session_id,
            &second_hash,
            &random_hash(),
            now + 4,
            now + 30 * DAY,
        )
        .await
        .expect("rotate");
    assert_eq!(outcome, RotateOutcome::Reused(id));
    let outcome = store
        .rotate_refresh(
            &other.session.session.session_id,
            &other.session.refresh_hash,
            &random_hash(),
            now,
            now + 30 * DAY,
        )
        .await
        .expect("rotate");
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");

    // An expired refresh token: invalid, and the session is not active.
    let mut expired = new_session(id, "device-2", now - 2 * DAY);
    expired.refresh_expires_at = now - 1;
    store.start_session(&expired, &[]).await.expect("start");
    let outcome = store
        .rotate_refresh(
            &expired.session.session_id,
            &expired.refresh_hash,
            &random_hash(),
            now,
            now + 30 * DAY,
        )
        .await
        .expect("rotate");
    assert_eq!(outcome, RotateOutcome::Invalid);
    assert_eq!(
        store
            .active_session(&expired.session.session_id, now)
            .await
            .expect("active"),
        None
    );
    // Expiry is exclusive: at the very millisecond the token is gone.
    let mut edge = new_session(id, "device-3", now - DAY);
    edge.refresh_expires_at = now;
    store.start_session(&edge, &[]).await.expect("start");
    let outcome = store
        .rotate_refresh(
            &edge.session.session_id,
            &edge.refresh_hash,
            &random_hash(),
            now,
            now + 30 * DAY,
        )
        .await
        .expect("rotate");
    assert_eq!(outcome, RotateOutcome::Invalid);

    // Rotating extends the refresh token's life.
    let mut short = new_session(id, "device-4", now);
    short.refresh_expires_at = now + 1_000;
    store.start_session(&short, &[]).await.expect("start");
    let extended_hash = random_hash();
    let outcome = store
        .rotate_refresh(
            &short.session.session_id,
            &short.refresh_hash,
            &extended_hash,
            now + 500,
            now + 10_000,
        )
        .await
        .expect("rotate");
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    assert!(
        store
            .active_session(&short.session.session_id, now + 5_000)
            .await
            .expect("active")
            .is_some()
    );
    let outcome = store
        .rotate_refresh(
            &short.session.session_id,
            &extended_hash,
            &random_hash(),
            now + 10_000,
            now + 20_000,
        )
        .await
        .expect("rotate");
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "expired after the new expiry"
    );

    // A revoked session's tokens, current or traded in, are invalid; its history is gone.
    let revoked = store
        .revoke_sessions(id, RevokeScope::One(&session_id), "refresh_token_reused")
        .await
        .expect("revoke");
    assert_eq!(revoked, vec![session_id.clone()]);
    assert_eq!(used_tokens_of(database, &session_id).await, 0);
    for hash in [&first_hash, &second_hash, &third_hash] {
        let outcome = store
            .rotate_refresh(&session_id, hash, &random_hash(), now + 5, now + 30 * DAY)
            .await
            .expect("rotate");
        assert_eq!(outcome, RotateOutcome::Invalid);
    }
    assert_eq!(
        store
            .active_session(&session_id, now)
            .await
            .expect("active"),
        None
    );
}

async fn concurrent_rotations_of_one_token_rotate_once(fixture: Fixture) {
    let store = &fixture.store;
    for round in 0..5u64 {
        let signed_up = sign_up(
            store,
            1_000_000_001 + round,
            &format!("+86138001300{round:02}"),
        )
        .await;
        let id = signed_up.mi_id();
        let session_id = signed_up.session.session.session_id.clone();
        let old_hash = signed_up.session.refresh_hash.clone();
        let now = clock::now_millis();
        let results = race(8, |_| {
            let (store, session_id, old_hash) =
                (store.clone(), session_id.clone(), old_hash.clone());
            async move {
                let new_hash = random_hash();
                let outcome = store
                    .rotate_refresh(&session_id, &old_hash, &new_hash, now, now + 30 * DAY)
                    .await
                    .expect("rotate");
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
        let outcome = store
            .rotate_refresh(&session_id, &winners[0], &random_hash(), now + 1, now + DAY)
            .await
            .expect("rotate");
        assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    }
}

async fn revoking_sessions_follows_the_scope(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let other = sign_up(store, 1_000_000_002, PHONE_B).await;
    let id = signed_up.mi_id();
    let base = signed_up.session.session.created_at;
    let first = &signed_up.session;
    let second = start(store, id, "device-2", base + 1_000).await;
    let third = start(store, id, "device-3", base + 2_000).await;
    let fourth = start(store, id, "device-4", base + 3_000).await;
    assert_eq!(
        session_ids(store, id).await,
        vec![
            fourth.session.session_id.clone(),
            third.session.session_id.clone(),
            second.session.session_id.clone(),
            first.session.session_id.clone()
        ],
        "newest first"
    );

    // One.
    let revoked = store
        .revoke_sessions(id, RevokeScope::One(&second.session.session_id), "revoked")
        .await
        .expect("revoke");
    assert_eq!(revoked, ids(&[&second]));
    let again = store
        .revoke_sessions(id, RevokeScope::One(&second.session.session_id), "revoked")
        .await
        .expect("revoke");
    assert!(again.is_empty(), "revoked once");
    let foreign = store
        .revoke_sessions(
            id,
            RevokeScope::One(&other.session.session.session_id),
            "revoked",
        )
        .await
        .expect("revoke");
    assert!(
        foreign.is_empty(),
        "another account's session is not revoked"
    );
    let unknown = store
        .revoke_sessions(id, RevokeScope::One("no-such-session"), "revoked")
        .await
        .expect("revoke");
    assert!(unknown.is_empty());
    assert_eq!(
        revoked_events(database, id).await,
        pairs(&[&second.session.session_id], "revoked")
    );

    // All except one.
    let revoked = store
        .revoke_sessions(
            id,
            RevokeScope::AllExcept(&first.session.session_id),
            "others_revoked",
        )
        .await
        .expect("revoke");
    assert_eq!(sorted(revoked), ids(&[&third, &fourth]));
    assert_eq!(
        session_ids(store, id).await,
        vec![first.session.session_id.clone()]
    );
    // Keeping a session of another account revokes all of this one's, none of the other's.
    let fifth = start(store, id, "device-5", base + 4_000).await;
    let revoked = store
        .revoke_sessions(
            id,
            RevokeScope::AllExcept(&other.session.session.session_id),
            "others_revoked",
        )
        .await
        .expect("revoke");
    assert_eq!(sorted(revoked), ids(&[first, &fifth]));

    // All.
    let sixth = start(store, id, "device-6", base + 5_000).await;
    let seventh = start(store, id, "device-7", base + 6_000).await;
    let revoked = store
        .revoke_sessions(id, RevokeScope::All, "all_revoked")
        .await
        .expect("revoke");
    assert_eq!(sorted(revoked), ids(&[&sixth, &seventh]));
    assert!(session_ids(store, id).await.is_empty());
    assert!(
        store
            .revoke_sessions(id, RevokeScope::All, "all_revoked")
            .await
            .expect("revoke")
            .is_empty()
    );
    for gone in [first, &second, &third, &fourth, &fifth, &sixth, &seventh] {
        assert_eq!(
            store
                .active_session(&gone.session.session_id, base)
                .await
                .expect("active"),
            None
        );
    }

    // One SessionRevoked per revoked session, with its reason; the other account untouched.
    let mut expected = pairs(&[&second.session.session_id], "revoked");
    expected.extend(pairs(
        &[
            &third.session.session_id,
            &fourth.session.session_id,
            &first.session.session_id,
            &fifth.session.session_id,
        ],
        "others_revoked",
    ));
    expected.extend(pairs(
        &[&sixth.session.session_id, &seventh.session.session_id],
        "all_revoked",
    ));
    expected.sort();
    assert_eq!(revoked_events(database, id).await, expected);
    assert!(revoked_events(database, other.mi_id()).await.is_empty());
    assert_eq!(
        store.list_sessions(other.mi_id()).await.expect("list"),
        vec![other.session.session.clone()]
    );
}

async fn password_changes_spend_the_token_and_revoke_other_sessions(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let other = sign_up(store, 1_000_000_002, PHONE_B).await;
    let id = signed_up.mi_id();
    let base = signed_up.session.session.created_at;
    let current = &signed_up.session;
    let second = start(store, id, "device-2", base + 1_000).await;
    let third = start(store, id, "device-3", base + 2_000).await;
    let changed = |reset: bool| vec![events::password_changed(&signed_up.account, reset)];

    // Changed, keeping the current session.
    let outcome = store
        .set_password(
            id,
            &password("changed"),
            None,
            Some(&current.session.session_id),
            "password_changed",
            &changed(false),
        )
        .await
        .expect("set");
    assert_eq!(
        outcome,
        SetPasswordOutcome::Changed {
            sessions_revoked: 2
        }
    );
    assert_eq!(
        store.password_hash(id).await.expect("hash"),
        Some(password("changed"))
    );
    assert_eq!(
        session_ids(store, id).await,
        vec![current.session.session_id.clone()]
    );
    assert_eq!(
        revoked_events(database, id).await,
        pairs(
            &[&second.session.session_id, &third.session.session_id],
            "password_changed"
        )
    );
    assert_eq!(
        event_types(database, id).await,
        types(&[
            "AccountCreated",
            "SignedIn",
            "PasswordChanged",
            "SessionRevoked",
            "SessionRevoked"
        ])
    );

    // Reset with a token, keeping nothing.
    let reset_token = token(&contact(PHONE_A));
    let fourth = start(store, id, "device-4", base + 3_000).await;
    let outcome = store
        .set_password(
            id,
            &password("reset"),
            Some(&reset_token),
            None,
            "password_reset",
            &changed(true),
        )
        .await
        .expect("set");
    assert_eq!(
        outcome,
        SetPasswordOutcome::Changed {
            sessions_revoked: 2
        }
    );
    assert!(session_ids(store, id).await.is_empty());
    assert_eq!(
        store.password_hash(id).await.expect("hash"),
        Some(password("reset"))
    );

    // The same token again: nothing changes, nothing is revoked, no events.
    let fifth = start(store, id, "device-5", base + 4_000).await;
    let outbox_before = all_rows(database, "outbox").await;
    let outcome = store
        .set_password(
            id,
            &password("replayed"),
            Some(&reset_token),
            None,
            "password_reset",
            &changed(true),
        )
        .await
        .expect("set");
    assert_eq!(outcome, SetPasswordOutcome::TokenSpent);
    assert_eq!(
        store.password_hash(id).await.expect("hash"),
        Some(password("reset")),
        "the password is unchanged"
    );
    assert_eq!(
        session_ids(store, id).await,
        vec![fifth.session.session_id.clone()]
    );
    assert_eq!(all_rows(database, "outbox").await, outbox_before);

    // No such account: nothing changes, the token stays unspent.
    let orphan_token = token(&contact(PHONE_C));
    let outcome = store
        .set_password(
            mi_id(1_000_000_009),
            &password("nobody"),
            Some(&orphan_token),
            None,
            "password_reset",
            &changed(true),
        )
        .await
        .expect("set");
    assert_eq!(outcome, SetPasswordOutcome::NoAccount);
    assert_eq!(all_rows(database, "outbox").await, outbox_before);
    assert!(store.spend_token(&orphan_token).await.expect("spend"));

    // The other account is untouched throughout.
    assert_eq!(
        store.password_hash(other.mi_id()).await.expect("hash"),
        Some(password("initial"))
    );
    assert_eq!(
        store.list_sessions(other.mi_id()).await.expect("list"),
        vec![other.session.session.clone()]
    );
    assert!(revoked_events(database, other.mi_id()).await.is_empty());
    let mut expected = pairs(
        &[&second.session.session_id, &third.session.session_id],
        "password_changed",
    );
    expected.extend(pairs(
        &[&current.session.session_id, &fourth.session.session_id],
        "password_reset",
    ));
    expected.sort();
    assert_eq!(revoked_events(database, id).await, expected);

    // A rehash replaces only the hash it was made from.
    store
        .upgrade_password_hash(id, &password("stale"), &password("rehashed"))
        .await
        .expect("upgrade");
    assert_eq!(
        store.password_hash(id).await.expect("hash"),
        Some(password("reset")),
        "a rehash of a replaced hash is dropped"
    );
    store
        .upgrade_password_hash(id, &password("reset"), &password("rehashed"))
        .await
        .expect("upgrade");
    assert_eq!(
        store.password_hash(id).await.expect("hash"),
        Some(password("rehashed"))
    );
}

async fn challenges_complete_once_while_pending(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    let now = clock::now_millis();
    const MAX: u32 = 3;
    let signed_in = |session: &NewSession| {
        vec![events::signed_in(
            &signed_up.account,
            &session.session,
            true,
        )]
    };

    // Stored and read back.
    let pending = new_challenge(id, now + 60_000);
    store.create_challenge(&pending).await.expect("create");
    assert_eq!(
        store
            .challenge(&pending.challenge_id)
            .await
            .expect("challenge"),
        Some(pending.clone())
    );
    assert_eq!(
        store
            .challenge(&uuid::Uuid::new_v4().to_string())
            .await
            .expect("challenge"),
        None
    );

    // Wrong answers count.
    for expected in 1..=2 {
        assert_eq!(
            store
                .count_challenge_attempt(&pending.challenge_id, now)
                .await
                .expect("count"),
            Some(expected)
        );
    }
    assert_eq!(
        store
            .challenge(&pending.challenge_id)
            .await
            .expect("challenge")
            .expect("stored")
            .attempts,
        2
    );

    // Completed once: the session starts, with its event.
    let session = new_session(id, "device-2", now);
    let outcome = store
        .complete_challenge(
            &pending.challenge_id,
            MAX,
            None,
            &session,
            &signed_in(&session),
        )
        .await
        .expect("complete");
    assert_eq!(outcome, CompleteOutcome::Completed);
    assert_eq!(
        store
            .active_session(&session.session.session_id, now)
            .await
            .expect("active"),
        Some(session.session.clone())
    );
    assert!(store.is_known_device(id, "device-2").await.expect("known"));
    assert!(
        store
            .challenge(&pending.challenge_id)
            .await
            .expect("challenge")
            .expect("stored")
            .completed
    );
    assert_eq!(
        event_types(database, id).await,
        types(&["AccountCreated", "SignedIn", "SignedIn"])
    );
    let outbox_before = all_rows(database, "outbox").await;
    let replay = new_session(id, "device-3", now);
    let outcome = store
        .complete_challenge(
            &pending.challenge_id,
            MAX,
            None,
            &replay,
            &signed_in(&replay),
        )
        .await
        .expect("complete");
    assert_eq!(outcome, CompleteOutcome::NotPending, "completed once");
    assert_eq!(
        store
            .count_challenge_attempt(&pending.challenge_id, now)
            .await
            .expect("count"),
        None,
        "a completed challenge takes no attempts"
    );

    // Expired: no attempts, no completion (expiry is exclusive).
    let expired = new_challenge(id, now);
    store.create_challenge(&expired).await.expect("create");
    assert_eq!(
        store
            .count_challenge_attempt(&expired.challenge_id, now)
            .await
            .expect("count"),
        None
    );
    let outcome = store
        .complete_challenge(
            &expired.challenge_id,
            MAX,
            None,
            &replay,
            &signed_in(&replay),
        )
        .await
        .expect("complete");
    assert_eq!(outcome, CompleteOutcome::NotPending);

    // Locked: no completion once the attempts reach the maximum.
    let locked = new_challenge(id, now + 60_000);
    store.create_challenge(&locked).await.expect("create");
    for _ in 0..MAX {
        store
            .count_challenge_attempt(&locked.challenge_id, now)
            .await
            .expect("count");
    }
    let outcome = store
        .complete_challenge(
            &locked.challenge_id,
            MAX,
            None,
            &replay,
            &signed_in(&replay),
        )
        .await
        .expect("complete");
    assert_eq!(outcome, CompleteOutcome::NotPending, "locked");
    // Nothing of the refused completions was written.
    assert_eq!(
        store
            .active_session(&replay.session.session_id, now)
            .await
            .expect("active"),
        None
    );
    assert!(!store.is_known_device(id, "device-3").await.expect("known"));
    assert_eq!(all_rows(database, "outbox").await, outbox_before);

    // A spent token: the challenge stays pending and a fresh token completes it.
    let with_token = new_challenge(id, now + 60_000);
    store.create_challenge(&with_token).await.expect("create");
    let outcome = store
        .complete_challenge(
            &with_token.challenge_id,
            MAX,
            Some(&signed_up.token),
            &replay,
            &signed_in(&replay),
        )
        .await
        .expect("complete");
    assert_eq!(outcome, CompleteOutcome::TokenSpent);
    assert_eq!(
        store
            .challenge(&with_token.challenge_id)
            .await
            .expect("challenge"),
        Some(with_token.clone()),
        "still pending"
    );
    assert_eq!(
        store
            .active_session(&replay.session.session_id, now)
            .await
            .expect("active"),
        None
    );
    let fresh = token(&contact(PHONE_A));
    let outcome = store
        .complete_challenge(
            &with_token.challenge_id,
            MAX,
            Some(&fresh),
            &replay,
            &signed_in(&replay),
        )
        .await
        .expect("complete");
    assert_eq!(outcome, CompleteOutcome::Completed);
    assert!(!store.spend_token(&fresh).await.expect("spend"), "spent");

    // Answered concurrently: one completion, one session.
    for round in 0..5 {
        let raced = new_challenge(id, now + 60_000);
        store.create_challenge(&raced).await.expect("create");
        let sessions_before = rows(database, "sessions", id).await;
        let outcomes = race(6, |index| {
            let (store, challenge_id) = (store.clone(), raced.challenge_id.clone());
            let session = new_session(id, &format!("racer-{round}-{index}"), now);
            let events = signed_in(&session);
            async move {
                store
                    .complete_challenge(&challenge_id, MAX, None, &session, &events)
                    .await
                    .expect("complete")
            }
        })
        .await;
        assert_eq!(
            outcomes
                .iter()
                .filter(|outcome| **outcome == CompleteOutcome::Completed)
                .count(),
            1,
            "round {round}: {outcomes:?}"
        );
        assert_eq!(rows(database, "sessions", id).await, sessions_before + 1);
    }
}

async fn totp_steps_and_recovery_codes_are_accepted_once(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let other = sign_up(store, 1_000_000_002, PHONE_B).await;
    let id = signed_up.mi_id();
    let enabled = vec![events::two_factor_changed(&signed_up.account, "totp", true)];
    let disabled = vec![events::two_factor_changed(
        &signed_up.account,
        "totp",
        false,
    )];
    let codes: Vec<String> = (0..3).map(|index| format!("a-code-{index}")).collect();

    // Pending secrets replace each other; only the current one confirms.
    assert_eq!(
        store.totp_state(id).await.expect("state"),
        TotpState::default()
    );
    store.set_pending_totp(id, b"first").await.expect("pending");
    store
        .set_pending_totp(id, b"second")
        .await
        .expect("pending");
    assert_eq!(
        store.totp_state(id).await.expect("state"),
        TotpState {
            secret: None,
            pending: Some(b"second".to_vec())
        }
    );
    assert!(
        !store
            .confirm_totp(id, b"first", 100, &codes, &enabled)
            .await
            .expect("confirm"),
        "a replaced pending secret does not confirm"
    );
    assert!(
        !store
            .confirm_totp(other.mi_id(), b"second", 100, &codes, &enabled)
            .await
            .expect("confirm"),
        "nor does another account's"
    );
    assert_eq!(account_of(store, id).await.two_factor, TwoFactor::default());
    assert_eq!(rows(database, "recovery_codes", id).await, 0);
    assert_eq!(
        event_types(database, id).await,
        types(&["AccountCreated", "SignedIn"])
    );
    assert!(
        store
            .confirm_totp(id, b"second", 100, &codes, &enabled)
            .await
            .expect("confirm")
    );
    assert_eq!(
        store.totp_state(id).await.expect("state"),
        TotpState {
            secret: Some(b"second".to_vec()),
            pending: None
        }
    );
    assert_eq!(
        account_of(store, id).await.two_factor,
        TwoFactor {
            totp: true,
            codes: false,
            recovery_codes_left: 3
        }
    );
    assert_eq!(
        event_types(database, id).await,
        types(&["AccountCreated", "SignedIn", "TwoFactorEnabled"])
    );
    assert!(
        !store
            .confirm_totp(id, b"second", 101, &codes, &enabled)
            .await
            .expect("confirm"),
        "confirmed once"
    );

    // Steps are accepted only going forward; the confirming step is used.
    for (step, accepted) in [
        (100, false),
        (99, false),
        (101, true),
        (101, false),
        (105, true),
        (104, false),
    ] {
        assert_eq!(
            store.accept_totp_step(id, step).await.expect("step"),
            accepted,
            "step {step}"
        );
    }
    assert!(
        store
            .accept_totp_step(other.mi_id(), 101)
            .await
            .expect("step"),
        "steps are per account"
    );
    for step in 200..205u64 {
        let accepted = race(6, |_| {
            let store = store.clone();
            async move { store.accept_totp_step(id, step).await.expect("step") }
        })
        .await;
        assert_eq!(
            accepted.iter().filter(|accepted| **accepted).count(),
            1,
            "step {step} is accepted once"
        );
    }

    // Recovery codes are used up, and only by their account.
    store
        .replace_recovery_codes(other.mi_id(), &["b-code".to_owned()])
        .await
        .expect("codes");
    assert!(
        !store.use_recovery_code(id, "b-code").await.expect("use"),
        "another account's code"
    );
    assert!(!store.use_recovery_code(id, "no-code").await.expect("use"));
    assert!(store.use_recovery_code(id, "a-code-0").await.expect("use"));
    assert!(
        !store.use_recovery_code(id, "a-code-0").await.expect("use"),
        "used once"
    );
    let used = race(6, |_| {
        let store = store.clone();
        async move { store.use_recovery_code(id, "a-code-1").await.expect("use") }
    })
    .await;
    assert_eq!(
        used.iter().filter(|used| **used).count(),
        1,
        "a code is used once, even concurrently"
    );
    assert_eq!(
        account_of(store, id).await.two_factor.recovery_codes_left,
        1
    );
    assert_eq!(rows(database, "recovery_codes", other.mi_id()).await, 1);
    // Replacing drops the old codes.
    store
        .replace_recovery_codes(id, &["c-code-0".to_owned(), "c-code-1".to_owned()])
        .await
        .expect("codes");
    assert!(!store.use_recovery_code(id, "a-code-2").await.expect("use"));
    assert_eq!(
        account_of(store, id).await.two_factor.recovery_codes_left,
        2
    );

    // The code second factor toggles once each way.
    assert!(
        store
            .set_code_second_factor(id, true, &[])
            .await
            .expect("codes")
    );
    assert!(
        !store
            .set_code_second_factor(id, true, &[])
            .await
            .expect("codes"),
        "on already"
    );
    assert!(
        !store
            .set_code_second_factor(mi_id(1_000_000_009), true, &[])
            .await
            .expect("codes"),
        "no such account"
    );

    // Turning TOTP off with codes still on keeps the recovery codes, and drops a pending secret.
    store.set_pending_totp(id, b"third").await.expect("pending");
    let outbox_before = all_rows(database, "outbox").await;
    assert!(store.disable_totp(id, &disabled).await.expect("disable"));
    assert_eq!(
        store.totp_state(id).await.expect("state"),
        TotpState::default()
    );
    assert_eq!(
        account_of(store, id).await.two_factor,
        TwoFactor {
            totp: false,
            codes: true,
            recovery_codes_left: 2
        }
    );
    assert_eq!(all_rows(database, "outbox").await, outbox_before + 1);
    assert!(
        !store.disable_totp(id, &disabled).await.expect("disable"),
        "off already"
    );
    assert_eq!(all_rows(database, "outbox").await, outbox_before + 1);

    // With no second factor left, the recovery codes go too.
    store
        .set_pending_totp(id, b"fourth")
        .await
        .expect("pending");
    assert!(
        store
            .confirm_totp(id, b"fourth", 300, &codes, &enabled)
            .await
            .expect("confirm")
    );
    assert!(
        store
            .set_code_second_factor(id, false, &[])
            .await
            .expect("codes")
    );
    assert!(
        !store
            .set_code_second_factor(id, false, &[])
            .await
            .expect("codes"),
        "off already"
    );
    assert_eq!(
        account_of(store, id).await.two_factor.recovery_codes_left,
        3
    );
    assert!(store.disable_totp(id, &disabled).await.expect("disable"));
    assert_eq!(account_of(store, id).await.two_factor, TwoFactor::default());
    assert_eq!(rows(database, "recovery_codes", id).await, 0);
    assert_eq!(
        rows(database, "recovery_codes", other.mi_id()).await,
        1,
        "only this account's codes go"
    );
}

async fn deleting_an_account_removes_only_that_account(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let now = clock::now_millis();

    // Two accounts with everything an account can have.
    let mut accounts = Vec::new();
    for (raw_id, primary, recovery) in [
        (1_000_000_001, PHONE_A, EMAIL_A),
        (1_000_000_002, PHONE_B, EMAIL_B),
    ] {
        let signed_up = sign_up(store, raw_id, primary).await;
        let id = signed_up.mi_id();
        let added = Contact {
            value: contact(recovery),
            primary: false,
            verified_at: now,
        };
        let outcome = store
            .add_contact(id, &added, &token(&added.value), 5, &[])
            .await
            .expect("add");
        assert_eq!(outcome, AddContactOutcome::Added);
        let second = start(store, id, "device-2", now + 1_000).await;
        let rotated = store
            .rotate_refresh(
                &second.session.session_id,
                &second.refresh_hash,
                &random_hash(),
                now + 2_000,
                now + DAY,
            )
            .await
            .expect("rotate");
        assert!(matches!(rotated, RotateOutcome::Rotated(_)));
        store
            .create_challenge(&new_challenge(id, now + 60_000))
            .await
            .expect("challenge");
        store
            .set_pending_totp(id, b"secret")
            .await
            .expect("pending");
        assert!(
            store
                .confirm_totp(id, b"secret", 10, &["code".to_owned()], &[])
                .await
                .expect("confirm")
        );
        accounts.push((signed_up, second));
    }
    let [(doomed, doomed_second), (kept, kept_second)] = &accounts[..] else {
        panic!("two accounts");
    };
    let (doomed_id, kept_id) = (doomed.mi_id(), kept.mi_id());
    let kept_account = account_of(store, kept_id).await;
    let kept_sessions = store.list_sessions(kept_id).await.expect("list");
    let tables = [
        "accounts",
        "contacts",
        "sessions",
        "known_devices",
        "sign_in_challenges",
        "recovery_codes",
    ];
    let mut kept_counts = Vec::new();
    for table in tables {
        kept_counts.push(rows(database, table, kept_id).await);
    }

    // Deleted, with a SessionRevoked per session and the AccountDeleted event.
    assert!(
        store
            .delete_account(doomed_id, &[events::account_deleted(doomed_id)])
            .await
            .expect("delete")
    );
    assert_eq!(store.account(doomed_id).await.expect("account"), None);
    assert_eq!(store.password_hash(doomed_id).await.expect("hash"), None);
    for table in tables {
        assert_eq!(rows(database, table, doomed_id).await, 0, "{table}");
    }
    for session in [&doomed.session, doomed_second] {
        assert_eq!(
            used_tokens_of(database, &session.session.session_id).await,
            0
        );
        assert_eq!(
            store
                .active_session(&session.session.session_id, now)
                .await
                .expect("active"),
            None
        );
    }
    assert_eq!(find(store, PHONE_A).await, None);
    assert_eq!(find(store, EMAIL_A).await, None);
    assert_eq!(find(store, "1000000001").await, None);
    assert_eq!(
        store.totp_state(doomed_id).await.expect("state"),
        TotpState::default()
    );
    assert_eq!(
        revoked_events(database, doomed_id).await,
        pairs(
            &[
                &doomed.session.session.session_id,
                &doomed_second.session.session_id
            ],
            "account_deleted"
        )
    );
    assert_eq!(
        event_types(database, doomed_id).await,
        types(&[
            "AccountCreated",
            "SignedIn",
            "SessionRevoked",
            "SessionRevoked",
            "AccountDeleted"
        ])
    );

    // The other account keeps everything.
    assert_eq!(account_of(store, kept_id).await, kept_account);
    assert_eq!(
        store.list_sessions(kept_id).await.expect("list"),
        kept_sessions
    );
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
    let outbox_before = all_rows(database, "outbox").await;
    assert!(
        !store
            .delete_account(doomed_id, &[events::account_deleted(doomed_id)])
            .await
            .expect("delete")
    );
    assert_eq!(all_rows(database, "outbox").await, outbox_before);
    let again = sign_up(store, 1_000_000_003, PHONE_A).await;
    assert_eq!(find(store, PHONE_A).await, Some(again.mi_id()));
}

async fn tokens_events_profile_and_authentication_times(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    let session_id = signed_up.session.session.session_id.clone();
    let now = clock::now_millis();

    // A token is spent once, even concurrently.
    let spent = token(&contact(PHONE_B));
    assert!(store.spend_token(&spent).await.expect("spend"));
    assert!(!store.spend_token(&spent).await.expect("spend"));
    let raced = token(&contact(PHONE_B));
    let spent = race(6, |_| {
        let (store, raced) = (store.clone(), raced.clone());
        async move { store.spend_token(&raced).await.expect("spend") }
    })
    .await;
    assert_eq!(spent.iter().filter(|spent| **spent).count(), 1);

    // Events without a state change.
    store
        .record_events(
            id,
            &[events::account_locked(&signed_up.account, 5, now + 60_000)],
        )
        .await
        .expect("record");
    assert_eq!(
        event_types(database, id).await,
        types(&["AccountCreated", "SignedIn", "AccountLocked"])
    );

    // The profile changes, with its event; a gone account is reported.
    let updated = Account {
        display_name: "Jane".into(),
        region: "SG".into(),
        locale: "en".into(),
        ..signed_up.account.clone()
    };
    assert!(
        store
            .update_profile(
                &updated,
                &[events::profile_updated(
                    &updated,
                    vec!["display_name".into()]
                )]
            )
            .await
            .expect("profile")
    );
    assert_eq!(account_of(store, id).await, updated);
    assert_eq!(
        event_types(database, id).await,
        types(&[
            "AccountCreated",
            "SignedIn",
            "AccountLocked",
            "ProfileUpdated"
        ])
    );
    let gone = new_account(1_000_000_009, PHONE_C, now);
    assert!(
        !store
            .update_profile(&gone, &[events::profile_updated(&gone, Vec::new())])
            .await
            .expect("profile")
    );
    assert_eq!(store.account(gone.mi_id).await.expect("account"), None);
    assert!(event_types(database, gone.mi_id).await.is_empty());

    // Authentication adds its method once and moves the authentication time.
    store
        .mark_authenticated(&session_id, now + 1_000, "otp")
        .await
        .expect("mark");
    store
        .mark_authenticated(&session_id, now + 2_000, "otp")
        .await
        .expect("mark");
    let session = store
        .active_session(&session_id, now)
        .await
        .expect("active")
        .expect("session");
    assert_eq!(session.methods, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(session.auth_time, now + 2_000);
    assert_eq!(session.created_at, signed_up.session.session.created_at);
    store
        .mark_authenticated("no-such-session", now, "otp")
        .await
        .expect("mark an unknown session");
}

async fn an_account_keeps_one_primary_contact_under_concurrent_changes(fixture: Fixture) {
    let (store, database) = (&fixture.store, &fixture.database);
    for round in 0..10u64 {
        let signed_up = sign_up(
            store,
            1_000_000_001 + round,
            &format!("+86138001300{round:02}"),
        )
        .await;
        let id = signed_up.mi_id();
        let recovery = contact(&format!("round{round}@example.com"));
        let added = Contact {
            value: recovery.clone(),
            primary: false,
            verified_at: clock::now_millis(),
        };
        let outcome = store
            .add_contact(id, &added, &token(&recovery), 4, &[])
            .await
            .expect("add");
        assert_eq!(outcome, AddContactOutcome::Added);

        // Promoting a recovery contact while it is being removed.
        let outcomes = race(2, |index| {
            let (store, recovery) = (store.clone(), recovery.clone());
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

async fn contacts_are_not_added_to_a_deleted_account(fixture: Fixture) {
    let store = &fixture.store;
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let id = signed_up.mi_id();
    assert!(store.delete_account(id, &[]).await.expect("delete"));

    // E.g. an AddRecoveryContact that read the account just before it was deleted.
    let late = Contact {
        value: contact(PHONE_B),
        primary: false,
        verified_at: clock::now_millis(),
    };
    let outcome = store
        .add_contact(id, &late, &token(&late.value), 4, &[])
        .await
        .expect("add");
    assert_eq!(
        find(store, PHONE_B).await,
        None,
        "a deleted account holds no contact (add_contact said {outcome:?})"
    );
    assert_ne!(outcome, AddContactOutcome::Added);
    let again = sign_up_outcome(store, 1_000_000_002, PHONE_B).await;
    assert_eq!(
        again,
        CreateAccountOutcome::Created,
        "the contact stays free for a new account"
    );
}

async fn concurrent_authentications_keep_every_method(fixture: Fixture) {
    let store = &fixture.store;
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let now = clock::now_millis();
    for round in 0..10i64 {
        let session = start(store, signed_up.mi_id(), "device-2", now + round).await;
        let session_id = session.session.session_id.clone();
        let outcomes = race(2, |index| {
            let (store, session_id) = (store.clone(), session_id.clone());
            async move {
                let method = if index == 0 { "otp" } else { "sms" };
                store
                    .mark_authenticated(&session_id, now + 1_000, method)
                    .await
                    .map_err(|error| format!("{error:#}"))
            }
        })
        .await;
        let methods = store
            .active_session(&session_id, now)
            .await
            .expect("active")
            .expect("session")
            .methods;
        assert!(
            outcomes.iter().all(Result::is_ok),
            "round {round}: {outcomes:?}"
        );
        let mut sorted_methods = methods.clone();
        sorted_methods.sort();
        assert_eq!(
            sorted_methods,
            vec!["otp".to_owned(), "pwd".to_owned(), "sms".to_owned()],
            "round {round}: both methods are recorded, got {methods:?}"
        );
    }
}
