//! Where verifications live. One SQL implementation serves PostgreSQL and SQLite; both pass
//! the contract suite in `tests/store_contract.rs`.

mod sql;

use async_trait::async_trait;
use mi_proto::events::v1::{CodeIssued, VerificationApproved, VerificationLocked};

pub use sql::SqlVerificationStore;

use crate::domain::Verification;

/// Stores verifications; every state change writes its event to the outbox atomically.
#[async_trait]
pub trait VerificationStore: Send + Sync + std::fmt::Debug {
    /// Stores a new pending verification together with its `CodeIssued` event.
    async fn insert(&self, verification: &Verification, event: &CodeIssued) -> anyhow::Result<()>;

    /// Replaces the code of a pending verification that has sent fewer than `max_sends` codes
    /// (new hash, channel, locale, expiry; attempts reset; one more send) with its `CodeIssued`
    /// event; false if it was no longer pending or had reached the limit.
    async fn reissue(
        &self,
        verification: &Verification,
        max_sends: u32,
        now: i64,
        event: &CodeIssued,
    ) -> anyhow::Result<bool>;

    /// Reads a verification.
    async fn get(&self, verification_id: &str) -> anyhow::Result<Option<Verification>>;

    /// Counts one check attempt of a pending, unexpired verification and returns it with the
    /// new count; `None` when it is missing, expired, approved or locked.
    async fn count_attempt(
        &self,
        verification_id: &str,
        now: i64,
    ) -> anyhow::Result<Option<Verification>>;

    /// Approves a pending verification with its event; false if it was no longer pending.
    async fn approve(
        &self,
        verification_id: &str,
        now: i64,
        event: &VerificationApproved,
    ) -> anyhow::Result<bool>;

    /// Locks a pending verification with its event; false if it was no longer pending.
    async fn lock(
        &self,
        verification_id: &str,
        now: i64,
        event: &VerificationLocked,
    ) -> anyhow::Result<bool>;
}
