//! What the sessions family needs stored: sessions and their rotating refresh tokens.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use crate::domain::events::IdentityEvent;
use crate::domain::{Session, SessionPosition};

/// A session to store, with the hash of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// SHA-256 of the refresh token, hex.
    pub refresh_hash: String,
    /// When the refresh token stops working.
    pub refresh_expires_at: UnixMillis,
}

/// An active session, with what its caller's requests need from the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// The session.
    pub session: Session,
    /// The account's locale, in which the caller's errors are written (empty if the account
    /// was deleted meanwhile).
    pub account_locale: String,
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
    /// Every session on a device that started at or before a time: the device was removed
    /// then, and a later sign-in on it is a new link.
    Device {
        /// The device's id.
        device_id: &'a str,
        /// When it was removed.
        started_until: UnixMillis,
    },
}

/// How presenting a refresh token went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: it is replaced, and this is the session.
    Rotated(Box<Session>),
    /// The token was already traded in: the session (of this account) must be revoked.
    Reused(MiId),
    /// Unknown, expired or forged.
    Invalid,
}

/// Sessions and refresh tokens.
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Stores a new session and remembers its device, with the events.
    async fn start_session(
        &self,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<()>;

    /// An active (not revoked, not expired) session.
    async fn active_session(
        &self,
        session_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<ActiveSession>>;

    /// Trades the refresh token hashed `old_hash` for `new_hash` in one step.
    async fn rotate_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
        now: UnixMillis,
        new_expires_at: UnixMillis,
    ) -> anyhow::Result<RotateOutcome>;

    /// The live session whose refresh token hashed `old_hash` was traded in after `since` for `successor_hash`, which is still its current token: a refresh repeating
    /// one that just won the race. `None` otherwise.
    async fn repeated_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        successor_hash: &str,
        since: UnixMillis,
        now: UnixMillis,
    ) -> anyhow::Result<Option<Session>>;

    /// Revokes sessions of an account, each with a `SessionRevoked` for `reason`; returns
    /// the revoked ids.
    async fn revoke_sessions(
        &self,
        mi_id: MiId,
        scope: RevokeScope<'_>,
        reason: &str,
    ) -> anyhow::Result<Vec<String>>;

    /// The account's sessions still live at `now`, newest first (then by session id,
    /// descending): at most `limit` of them, those after `after` in that order.
    async fn list_sessions(
        &self,
        mi_id: MiId,
        now: UnixMillis,
        after: Option<&SessionPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Session>>;

    /// Records that the session proved a password or second factor (`method`) at `now`.
    async fn mark_authenticated(
        &self,
        session_id: &str,
        now: UnixMillis,
        method: &str,
    ) -> anyhow::Result<()>;
}
