//! The profile and deletion: GetAccount, UpdateProfile and DeleteAccount.

mod fields;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use self::fields::{MAX_DISPLAY_NAME_CHARS, ProfileUpdate, parse_display_name, parse_region};
pub use self::store::ProfileStore;
use super::events;
use super::{Account, AccountLookup, Caller};

/// Why a profile RPC was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// DeleteAccount: the caller must prove a password or second factor first.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The caller's account no longer exists.
    #[error("account gone")]
    AccountGone,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Reads, changes and deletes accounts.
#[derive(Debug, Clone)]
pub struct Profile {
    store: Arc<dyn ProfileStore>,
    accounts: Arc<dyn AccountLookup>,
    recent_auth_window: Duration,
}

impl Profile {
    /// Profiles in `store`; deletion needs a password or second factor proven within
    /// `recent_auth_window`.
    pub fn new(
        store: Arc<dyn ProfileStore>,
        accounts: Arc<dyn AccountLookup>,
        recent_auth_window: Duration,
    ) -> Self {
        Self {
            store,
            accounts,
            recent_auth_window,
        }
    }

    /// The caller's account.
    pub async fn get_account(&self, caller: &Caller) -> Result<Account, ProfileError> {
        self.accounts
            .account(caller.mi_id)
            .await?
            .ok_or(ProfileError::AccountGone)
    }

    /// Changes the named profile fields.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        update: ProfileUpdate,
    ) -> Result<Account, ProfileError> {
        let mut account = self.get_account(caller).await?;
        let mut changed = Vec::new();
        if let Some(display_name) = update.display_name {
            account.display_name = display_name;
            changed.push("display_name".to_owned());
        }
        if let Some(region) = update.region {
            account.region = region;
            changed.push("region".to_owned());
        }
        if let Some(locale) = update.locale {
            account.locale = locale;
            changed.push("locale".to_owned());
        }
        let event = events::profile_updated(&account, changed);
        if !self.store.update_profile(&account, &[event]).await? {
            return Err(ProfileError::AccountGone);
        }
        Ok(account)
    }

    /// Deletes the account, its contacts and sessions.
    pub async fn delete_account(&self, caller: &Caller) -> Result<(), ProfileError> {
        if !caller.authenticated_within(self.recent_auth_window) {
            return Err(ProfileError::ReauthenticationRequired);
        }
        let deleted = self
            .store
            .delete_account(caller.mi_id, &[events::account_deleted(caller.mi_id)])
            .await?;
        if !deleted {
            return Err(ProfileError::AccountGone);
        }
        tracing::info!(mi_id = %caller.mi_id, "account deleted");
        Ok(())
    }
}
