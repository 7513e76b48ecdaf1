//! What the passwords family needs stored: the hash, password changes, and the events of a
//! lock (which changes nothing stored).

use async_trait::async_trait;
use mi_contracts::MiId;

use crate::domain::events::IdentityEvent;
use crate::domain::{StoredHash, VerifiedContact};

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

/// Password hashes.
#[async_trait]
pub trait PasswordStore: Send + Sync + std::fmt::Debug {
    /// The stored password hash.
    async fn password_hash(&self, mi_id: MiId) -> anyhow::Result<Option<StoredHash>>;

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

    /// Writes events that go with no state change here (`PasswordFailures`).
    async fn record_events(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<()>;
}
