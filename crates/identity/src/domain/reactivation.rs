//! The reactivation lock, identity's side: once a device acknowledged an erase, its hardware
//! id stays bound to its account (the device registry's `DeviceErased`) until the owner
//! removes the device (`DeviceRemoved`). Signing in to, or signing up for, another account on
//! that hardware is refused, naming the owner's masked contact, so whoever holds the phone
//! knows whom to ask.

use std::sync::Arc;

use async_trait::async_trait;
use mi_contracts::MiId;

use super::AccountLookup;

/// Where the locks are kept; each event is applied once.
#[async_trait]
pub trait ReactivationLockStore: Send + Sync + std::fmt::Debug {
    /// Binds `hardware_id` to account `mi_id` for event `event_id`; false if it was applied.
    async fn lock_hardware(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool>;

    /// Releases account `mi_id`'s lock on `hardware_id` for event `event_id`; false if it
    /// was applied.
    async fn release_hardware(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<bool>;

    /// The accounts `hardware_id` is locked to.
    async fn hardware_holders(&self, hardware_id: &str) -> anyhow::Result<Vec<MiId>>;
}

/// The hardware holds another account's lock: the masked primary contact of that account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reactivation locked to {owner_contact}")]
pub struct ReactivationLocked {
    /// E.g. `+86 138****0000`.
    pub owner_contact: String,
}

/// Keeps and checks reactivation locks.
#[derive(Debug, Clone)]
pub struct ReactivationLocks {
    store: Arc<dyn ReactivationLockStore>,
    accounts: Arc<dyn AccountLookup>,
}

impl ReactivationLocks {
    /// Locks in `store`, their owners' contacts from `accounts`.
    pub fn new(store: Arc<dyn ReactivationLockStore>, accounts: Arc<dyn AccountLookup>) -> Self {
        Self { store, accounts }
    }

    /// `DeviceErased` (event `event_id`): `hardware_id` stays with `mi_id`. No hardware id, no
    /// lock.
    pub async fn lock(&self, event_id: &str, hardware_id: &str, mi_id: MiId) -> anyhow::Result<()> {
        if hardware_id.is_empty() {
            return Ok(());
        }
        if self
            .store
            .lock_hardware(event_id, hardware_id, mi_id)
            .await?
        {
            tracing::info!(%mi_id, "hardware reactivation-locked to its account");
        }
        Ok(())
    }

    /// `DeviceRemoved` (event `event_id`): the owner let the hardware go.
    pub async fn release(
        &self,
        event_id: &str,
        hardware_id: &str,
        mi_id: MiId,
    ) -> anyhow::Result<()> {
        if hardware_id.is_empty() {
            return Ok(());
        }
        if self
            .store
            .release_hardware(event_id, hardware_id, mi_id)
            .await?
        {
            tracing::info!(%mi_id, "hardware reactivation lock released");
        }
        Ok(())
    }

    /// Refuses `hardware_id` to `mi_id` (`None`: an account not created yet) when another
    /// account that still exists holds its lock.
    pub async fn check(
        &self,
        hardware_id: &str,
        mi_id: Option<MiId>,
    ) -> anyhow::Result<Result<(), ReactivationLocked>> {
        if hardware_id.is_empty() {
            return Ok(Ok(()));
        }
        for holder in self.store.hardware_holders(hardware_id).await? {
            if Some(holder) == mi_id {
                continue;
            }
            // A deleted account holds nothing any more.
            let Some(owner) = self.accounts.account(holder).await? else {
                continue;
            };
            let contact = owner
                .contacts
                .iter()
                .find(|contact| contact.primary)
                .or(owner.contacts.first());
            let owner_contact = contact.map(|contact| contact.value.masked());
            return Ok(Err(ReactivationLocked {
                owner_contact: owner_contact.unwrap_or_default(),
            }));
        }
        Ok(Ok(()))
    }
}
