//! Where accounts, sessions and second factors live. One SQL implementation serves PostgreSQL
//! and SQLite; both pass the contract suite in `tests/store_contract.rs`. Every state change
//! writes its events to the outbox in the same transaction.

mod sql;

use async_trait::async_trait;

pub use sql::{SqlIdentityStore, expiries};

use crate::domain::{
    Account, Challenge, Contact, ContactValue, Identifier, MiId, Session, StoredHash,
    VerifiedContact,
};
use crate::events::IdentityEvent;

/// Every store identity needs, in one object.
pub trait IdentityStore: AccountStore + SessionStore + SecondFactorStore {}

impl<T: AccountStore + SessionStore + SecondFactorStore> IdentityStore for T {}

/// A session to store, with the hash of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// SHA-256 of the refresh token, hex.
    pub refresh_hash: String,
    /// When the refresh token stops working, milliseconds since the epoch.
    pub refresh_expires_at: i64,
}

/// How creating an account went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateAccountOutcome {
    /// Created, signed in, events written.
    Created,
    /// The random Mi ID is taken; try another.
    MiIdTaken,
    /// The contact belongs to an account already; nothing written.
    ContactTaken,
    /// The verification token was spent before; nothing written.
    TokenSpent,
}

/// How adding a contact went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddContactOutcome {
    /// Added, events written.
    Added,
    /// Some account (maybe this one) has it already.
    InUse,
    /// The verification token was spent before.
    TokenSpent,
    /// The account has the most contacts allowed.
    TooMany,
    /// The account is gone.
    NoAccount,
}

/// How a password change went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetPasswordOutcome {
    /// Changed; this many sessions were revoked.
    Changed {
        /// Sessions revoked.
        sessions_revoked: u32,
    },
    /// The verification token was spent before; nothing changed.
    TokenSpent,
    /// The account is gone.
    NoAccount,
}

/// Which sessions of an account to revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeScope<'a> {
    /// Every session.
    All,
    /// One session.
    One(&'a str),
    /// Every session but this one.
    AllExcept(&'a str),
}

/// How presenting a refresh token went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: it is replaced, and this is the session.
    Rotated(Session),
    /// The token was already traded in: the session (of this account) must be revoked.
    Reused(MiId),
    /// Unknown, expired or forged.
    Invalid,
}

/// How answering a challenge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// Completed; the session is stored.
    Completed,
    /// Completed, expired or locked meanwhile.
    NotPending,
    /// The verification token was spent before.
    TokenSpent,
}

/// An account as a password sign-in finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInCandidate {
    /// The account, with its contacts and second-factor state.
    pub account: Account,
    /// Its password hash.
    pub password: StoredHash,
    /// Whether the account signed in on this device before.
    pub known_device: bool,
}

/// Accounts, contacts and passwords.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Creates an account with its first contact, spends the sign-up token and starts the
    /// first session, with the events, in one transaction.
    async fn create_account(
        &self,
        account: &Account,
        password_hash: &StoredHash,
        token: &VerifiedContact,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CreateAccountOutcome>;

    /// The account with this Mi ID, with its contacts and second-factor state.
    async fn account(&self, mi_id: MiId) -> anyhow::Result<Option<Account>>;

    /// The account a Mi ID or contact names, if any.
    async fn find_account(&self, identifier: &Identifier) -> anyhow::Result<Option<MiId>>;

    /// What a password sign-in on `device_id` needs of the account a Mi ID or contact names,
    /// in one read.
    async fn sign_in_candidate(
        &self,
        identifier: &Identifier,
        device_id: &str,
    ) -> anyhow::Result<Option<SignInCandidate>>;

    /// The stored password hash.
    async fn password_hash(&self, mi_id: MiId) -> anyhow::Result<Option<StoredHash>>;

    /// Replaces a hash made with old parameters, if it is still the stored one.
    async fn upgrade_password_hash(
        &self,
        mi_id: MiId,
        old: &StoredHash,
        new: &StoredHash,
    ) -> anyhow::Result<()>;

    /// Sets a new password, spending `token` if given, and revokes every session but `keep`
    /// (each with a `SessionRevoked` for `reason`), with the events, in one transaction.
    async fn set_password(
        &self,
        mi_id: MiId,
        hash: &StoredHash,
        token: Option<&VerifiedContact>,
        keep: Option<&str>,
        reason: &str,
        events: &[IdentityEvent],
    ) -> anyhow::Result<SetPasswordOutcome>;

    /// Stores display name, region and locale; false if the account is gone.
    async fn update_profile(
        &self,
        account: &Account,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Deletes the account with its contacts, sessions and second factors; false if gone.
    async fn delete_account(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool>;

    /// Adds a recovery contact proven by `token`, if the account has fewer than
    /// `max_contacts`.
    async fn add_contact(
        &self,
        mi_id: MiId,
        contact: &Contact,
        token: &VerifiedContact,
        max_contacts: usize,
        events: &[IdentityEvent],
    ) -> anyhow::Result<AddContactOutcome>;

    /// Removes a recovery (not primary) contact of the account; false if it has none such.
    async fn remove_contact(
        &self,
        mi_id: MiId,
        value: &ContactValue,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Makes a contact of the account its primary one; false if the account has no such.
    async fn set_primary_contact(&self, mi_id: MiId, value: &ContactValue) -> anyhow::Result<bool>;

    /// Spends a verification token on its own; false if it was spent before.
    async fn spend_token(&self, token: &VerifiedContact) -> anyhow::Result<bool>;

    /// Writes events that go with no state change here (e.g. `AccountLocked`).
    async fn record_events(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()>;
}

/// Sessions, refresh tokens and sign-in challenges.
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Stores a new session and remembers its device, with the events.
    async fn start_session(
        &self,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<()>;

    /// An active (not revoked, not expired) session.
    async fn active_session(&self, session_id: &str, now: i64) -> anyhow::Result<Option<Session>>;

    /// Trades the refresh token hashed `old_hash` for `new_hash` in one step.
    async fn rotate_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        new_expires_at: i64,
    ) -> anyhow::Result<RotateOutcome>;

    /// Revokes sessions of an account, each with a `SessionRevoked` for `reason`; returns
    /// the revoked ids.
    async fn revoke_sessions(
        &self,
        mi_id: MiId,
        scope: RevokeScope<'_>,
        reason: &str,
    ) -> anyhow::Result<Vec<String>>;

    /// The account's sessions still live at `now`, newest first.
    async fn list_sessions(&self, mi_id: MiId, now: i64) -> anyhow::Result<Vec<Session>>;

    /// Records that the session proved a password or second factor (`method`) at `now`.
    async fn mark_authenticated(
        &self,
        session_id: &str,
        now: i64,
        method: &str,
    ) -> anyhow::Result<()>;

    /// Stores a new challenge.
    async fn create_challenge(&self, challenge: &Challenge) -> anyhow::Result<()>;

    /// A challenge by id.
    async fn challenge(&self, challenge_id: &str) -> anyhow::Result<Option<Challenge>>;

    /// Counts a wrong answer to a pending challenge; the attempts so far, or `None` if it is
    /// no longer pending.
    async fn count_challenge_attempt(
        &self,
        challenge_id: &str,
        now: i64,
    ) -> anyhow::Result<Option<u32>>;

    /// Completes a pending challenge with fewer than `max_attempts` attempts, spending
    /// `token` if given, and starts the session, with the events, in one transaction.
    async fn complete_challenge(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CompleteOutcome>;
}

/// The state of an account's authenticator app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotpState {
    /// The confirmed secret, sealed.
    pub secret: Option<Vec<u8>>,
    /// A secret waiting for its first code, sealed.
    pub pending: Option<Vec<u8>>,
}

/// TOTP secrets, code second factor and recovery codes.
#[async_trait]
pub trait SecondFactorStore: Send + Sync + std::fmt::Debug {
    /// The authenticator app state.
    async fn totp_state(&self, mi_id: MiId) -> anyhow::Result<TotpState>;

    /// Stores a secret waiting for confirmation (replacing an earlier one).
    async fn set_pending_totp(&self, mi_id: MiId, sealed: &[u8]) -> anyhow::Result<()>;

    /// Turns the pending secret `pending` on, accepting `step`, and replaces the recovery
    /// codes, with the events; false if the pending secret changed meanwhile.
    async fn confirm_totp(
        &self,
        mi_id: MiId,
        pending: &[u8],
        step: u64,
        recovery_hashes: &[String],
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Accepts a TOTP time step only if it is later than the last one accepted.
    async fn accept_totp_step(&self, mi_id: MiId, step: u64) -> anyhow::Result<bool>;

    /// Turns the authenticator app off and drops the recovery codes if no second factor is
    /// left; false if it was off.
    async fn disable_totp(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool>;

    /// Turns codes as a second factor on or off; false if it was so already.
    async fn set_code_second_factor(
        &self,
        mi_id: MiId,
        enabled: bool,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Replaces the recovery codes.
    async fn replace_recovery_codes(&self, mi_id: MiId, hashes: &[String]) -> anyhow::Result<()>;

    /// Uses up a recovery code; false if the account has no such unused code.
    async fn use_recovery_code(&self, mi_id: MiId, hash: &str) -> anyhow::Result<bool>;
}
