//! Store calls that must succeed, unwrapped, for the scenarios to read as the contract.

use mi_contracts::{MiId, UnixMillis};
use mi_identity::domain::events::IdentityEvent;
use mi_identity::domain::{
    Account, Challenge, ConsentChallenge, Contact, Identifier, Session, StoredHash,
    TwoFactorStatus, VerifiedContact,
};
use mi_identity::domain::{
    AccountLookup, ActiveSession, AddContactOutcome, ConsentStore, ContactStore, NewSession,
    PasswordStore, ProfileStore, RevokeScope, RotateOutcome, SessionStore, SignInCandidate,
    SignInStore, TwoFactorStore,
};
use mi_identity::storage::SqlIdentityStore;

use super::{new_session, token};

// ---------------------------------------------------------------------------------------------
// Changes.

/// Starts another session of the account, created at `created_at`.
pub(crate) async fn start(
    store: &SqlIdentityStore,
    mi_id: MiId,
    device_id: &str,
    created_at: UnixMillis,
) -> NewSession {
    start_session(store, new_session(mi_id, device_id, created_at)).await
}

pub(crate) async fn start_session(store: &SqlIdentityStore, session: NewSession) -> NewSession {
    store.start_session(&session, &[]).await.expect("start");
    session
}

/// Adds `added` with a fresh token for it and no events, the account holding at most `max`.
pub(crate) async fn add_contact(
    store: &SqlIdentityStore,
    mi_id: MiId,
    added: &Contact,
    max: usize,
) -> AddContactOutcome {
    add_contact_with(store, mi_id, added, &token(&added.value), max).await
}

/// Adds `added` with `token` and no events, the account holding at most `max`.
pub(crate) async fn add_contact_with(
    store: &SqlIdentityStore,
    mi_id: MiId,
    added: &Contact,
    token: &VerifiedContact,
    max: usize,
) -> AddContactOutcome {
    store
        .add_contact(mi_id, added, token, max, &[])
        .await
        .expect("add")
}

/// Turns the code second factor on or off, without events.
pub(crate) async fn set_codes(store: &SqlIdentityStore, mi_id: MiId, on: bool) -> bool {
    store
        .set_code_second_factor(mi_id, on, &[])
        .await
        .expect("codes")
}

pub(crate) async fn delete(
    store: &SqlIdentityStore,
    mi_id: MiId,
    events: &[IdentityEvent],
) -> bool {
    store.delete_account(mi_id, events).await.expect("delete")
}

/// Trades refresh token `from` of a session in for `to` at `at`, `to` living until `until`.
pub(crate) async fn rotate(
    store: &SqlIdentityStore,
    session_id: &str,
    from: &str,
    to: &str,
    at: UnixMillis,
    until: UnixMillis,
) -> RotateOutcome {
    store
        .rotate_refresh(session_id, from, to, at, until)
        .await
        .expect("rotate")
}

/// Trades the session's first refresh token in for `to` at `at`, `to` living until `until`.
pub(crate) async fn rotate_first(
    store: &SqlIdentityStore,
    session: &NewSession,
    to: &str,
    at: UnixMillis,
    until: UnixMillis,
) -> RotateOutcome {
    let session_id = &session.session.session_id;
    rotate(store, session_id, &session.refresh_hash, to, at, until).await
}

/// Revokes the account's sessions in `scope`, giving the revoked session IDs.
pub(crate) async fn revoke(
    store: &SqlIdentityStore,
    mi_id: MiId,
    scope: RevokeScope<'_>,
    reason: &str,
) -> Vec<String> {
    store
        .revoke_sessions(mi_id, scope, reason)
        .await
        .expect("revoke")
}

/// Creates a consent step as it is given.
pub(crate) async fn create_consent_challenge(
    store: &SqlIdentityStore,
    challenge: &ConsentChallenge,
) {
    store
        .create_consent_challenge(challenge)
        .await
        .expect("create");
}

/// Creates a challenge as it is given.
pub(crate) async fn create_challenge(store: &SqlIdentityStore, challenge: &Challenge) {
    store.create_challenge(challenge).await.expect("create");
}

/// Sets a sealed TOTP secret waiting for its first code.
pub(crate) async fn pend_totp(store: &SqlIdentityStore, mi_id: MiId, sealed: &[u8]) {
    store
        .set_pending_totp(mi_id, sealed)
        .await
        .expect("pending");
}

/// Confirms the pending secret `sealed` at `step`, with new recovery codes and `events`.
pub(crate) async fn confirm_totp(
    store: &SqlIdentityStore,
    mi_id: MiId,
    sealed: &[u8],
    step: u64,
    codes: &[String],
    events: &[IdentityEvent],
) -> bool {
    store
        .confirm_totp(mi_id, sealed, step, codes, events)
        .await
        .expect("confirm")
}

pub(crate) async fn spend(store: &SqlIdentityStore, token: &VerifiedContact) -> bool {
    store.spend_token(token).await.expect("spend")
}

// ---------------------------------------------------------------------------------------------
// Readers.

pub(crate) async fn find(store: &SqlIdentityStore, raw: &str) -> Option<MiId> {
    let identifier = Identifier::parse(raw).expect("identifier");
    store.find_account(&identifier).await.expect("find")
}

/// The account an identifier names, read in one go.
pub(crate) async fn named(store: &SqlIdentityStore, raw: &str) -> Option<Account> {
    let identifier = Identifier::parse(raw).expect("identifier");
    store
        .account_named(&identifier)
        .await
        .expect("account named")
}

pub(crate) async fn account(store: &SqlIdentityStore, mi_id: MiId) -> Option<Account> {
    store.account(mi_id).await.expect("account")
}

pub(crate) async fn account_of(store: &SqlIdentityStore, mi_id: MiId) -> Account {
    account(store, mi_id).await.expect("an account")
}

pub(crate) async fn two_factor_of(store: &SqlIdentityStore, mi_id: MiId) -> TwoFactorStatus {
    account_of(store, mi_id).await.two_factor
}

pub(crate) async fn password_of(store: &SqlIdentityStore, mi_id: MiId) -> Option<StoredHash> {
    store.password_hash(mi_id).await.expect("hash")
}

pub(crate) async fn sessions(store: &SqlIdentityStore, mi_id: MiId) -> Vec<Session> {
    store
        .list_sessions(mi_id, UnixMillis::now(), None, i64::MAX)
        .await
        .expect("list")
}

pub(crate) async fn session_ids(store: &SqlIdentityStore, mi_id: MiId) -> Vec<String> {
    let sessions = sessions(store, mi_id).await;
    sessions
        .into_iter()
        .map(|session| session.session_id)
        .collect()
}

pub(crate) async fn active(
    store: &SqlIdentityStore,
    session_id: &str,
    now: UnixMillis,
) -> Option<Session> {
    active_with_locale(store, session_id, now)
        .await
        .map(|active| active.session)
}

/// An active session with its account's locale, as the caller of its tokens is found.
pub(crate) async fn active_with_locale(
    store: &SqlIdentityStore,
    session_id: &str,
    now: UnixMillis,
) -> Option<ActiveSession> {
    store.active_session(session_id, now).await.expect("active")
}

/// What a sign-in with `raw` (a Mi ID or contact) on `device_id` reads.
pub(crate) async fn candidate(
    store: &SqlIdentityStore,
    raw: &str,
    device_id: &str,
) -> Option<SignInCandidate> {
    let identifier = Identifier::parse(raw).expect("identifier");
    store
        .sign_in_candidate(&identifier, device_id)
        .await
        .expect("candidate")
}

/// Whether the account signed in on this device before.
pub(crate) async fn is_known(store: &SqlIdentityStore, mi_id: MiId, device_id: &str) -> bool {
    candidate(store, &mi_id.to_string(), device_id)
        .await
        .expect("the account exists")
        .known_device
}
