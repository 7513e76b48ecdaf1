//! What the verifier needs from storage. `storage/sql.rs` implements it on PostgreSQL and
//! SQLite; both pass the contract suite in `tests/store_contract.rs`.

use async_trait::async_trait;
use mi_contracts::UnixMillis;

use super::{CodeIssued, Verification, VerificationApproved, VerificationLocked};

/// Stores verifications; every state change publishes its event in the same transaction.
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
        now: UnixMillis,
        event: &CodeIssued,
    ) -> anyhow::Result<bool>;

    /// Reads a verification.
    async fn get(&self, verification_id: &str) -> anyhow::Result<Option<Verification>>;

    /// Counts a wrong code against a pending, unexpired verification; returns the attempts
    /// counted so far, or `None` when it is missing, expired, approved or locked.
    async fn count_wrong_attempt(
        &self,
        verification_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<u32>>;

    /// Approves with its event, counting the attempt, only if the verification is still pending,
    /// unexpired, still has the code `code_hash` and has counted fewer than `max_attempts`
    /// attempts: one conditional update, so concurrent checks, resends and lockouts cannot race
    /// it. False if any condition failed.
    async fn approve(
        &self,
        verification_id: &str,
        code_hash: &[u8],
        max_attempts: u32,
        now: UnixMillis,
        event: &VerificationApproved,
    ) -> anyhow::Result<bool>;

    /// Locks a pending verification with its event; false if it was no longer pending.
    async fn lock(
        &self,
        verification_id: &str,
        now: UnixMillis,
        event: &VerificationLocked,
    ) -> anyhow::Result<bool>;
}
