//! What the profile family needs stored: the profile fields, and deleting the account.

use async_trait::async_trait;
use mi_contracts::MiId;

use crate::domain::Account;
use crate::domain::events::IdentityEvent;

/// Profiles and account deletion.
#[async_trait]
pub trait ProfileStore: Send + Sync + std::fmt::Debug {
    /// Stores display name, region and locale; false if the account is gone.
    async fn update_profile(
        &self,
        account: &Account,
        events: &[IdentityEvent],
    ) -> anyhow::Result<bool>;

    /// Deletes the account with its contacts, sessions and second factors; false if gone.
    async fn delete_account(&self, mi_id: MiId, events: &[IdentityEvent]) -> anyhow::Result<bool>;
}
