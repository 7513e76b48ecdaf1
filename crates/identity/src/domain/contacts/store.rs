//! What the contacts family needs stored: an account's recovery contacts and which one is
//! primary.

use async_trait::async_trait;
use mi_contracts::MiId;

use crate::domain::events::IdentityEvent;
use crate::domain::{Contact, ContactValue, VerifiedContact};

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

/// Contacts of accounts.
#[async_trait]
pub trait ContactStore: Send + Sync + std::fmt::Debug {
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
}
