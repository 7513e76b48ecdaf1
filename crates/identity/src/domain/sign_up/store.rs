//! What the sign-up family needs stored: a new account with its first session, all at once.

use async_trait::async_trait;

use crate::domain::events::IdentityEvent;
use crate::domain::{Account, NewSession, StoredHash, VerifiedContact};

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

/// New accounts.
#[async_trait]
pub trait SignUpStore: Send + Sync + std::fmt::Debug {
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
}
