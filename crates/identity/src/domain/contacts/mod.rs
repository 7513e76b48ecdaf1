//! Recovery contacts: AddRecoveryContact, RemoveRecoveryContact and SetPrimaryContact.

mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{Purpose, UnixMillis};

pub use self::store::{AddContactOutcome, ContactStore};
use super::events;
use super::{Account, AccountLookup, Caller, Contact, ContactValue, VerificationTokens};

/// The most contacts (primary included) an account may have.
const MAX_CONTACTS: usize = 4;

/// Why a contacts RPC was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
    /// Remove, SetPrimary: the contact is malformed.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The caller must prove a password or second factor first.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The caller's account no longer exists.
    #[error("account gone")]
    AccountGone,
    /// Add: the verification token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// Add: the verification token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// Add: some account has this contact already.
    #[error("contact in use")]
    ContactInUse,
    /// Add: the account has the most contacts allowed.
    #[error("too many contacts")]
    TooManyContacts,
    /// Remove, SetPrimary: the account has no such contact.
    #[error("contact not found")]
    ContactNotFound,
    /// Remove: the primary contact cannot be removed.
    #[error("primary contact")]
    PrimaryContact,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Adds, removes and promotes an account's contacts.
#[derive(Debug, Clone)]
pub struct Contacts {
    store: Arc<dyn ContactStore>,
    accounts: Arc<dyn AccountLookup>,
    verification_tokens: VerificationTokens,
    recent_auth_window: Duration,
}

impl Contacts {
    /// Contacts in `store`; changes need a password or second factor proven within
    /// `recent_auth_window`.
    pub fn new(
        store: Arc<dyn ContactStore>,
        accounts: Arc<dyn AccountLookup>,
        verification_tokens: VerificationTokens,
        recent_auth_window: Duration,
    ) -> Self {
        Self {
            store,
            accounts,
            verification_tokens,
            recent_auth_window,
        }
    }

    /// Adds a recovery contact proven by a token of purpose add-recovery-contact.
    pub async fn add_recovery_contact(
        &self,
        caller: &Caller,
        verification_token: &str,
    ) -> Result<Account, ContactsError> {
        self.require_recent(caller)?;
        let verified = self
            .verification_tokens
            .verify(verification_token, Purpose::AddRecoveryContact)
            .map_err(|_| ContactsError::TokenInvalid)?;
        let mut account = self.caller_account(caller).await?;
        let contact = Contact {
            value: verified.contact.clone(),
            primary: false,
            verified_at: UnixMillis::now(),
        };
        account.contacts.push(contact.clone());
        let event = events::recovery_contact_added(&account, &contact.value);
        match self
            .store
            .add_contact(caller.mi_id, &contact, &verified, MAX_CONTACTS, &[event])
            .await?
        {
            AddContactOutcome::Added => Ok(account),
            AddContactOutcome::InUse => Err(ContactsError::ContactInUse),
            AddContactOutcome::TokenSpent => Err(ContactsError::TokenUsed),
            AddContactOutcome::TooMany => Err(ContactsError::TooManyContacts),
            AddContactOutcome::NoAccount => Err(ContactsError::AccountGone),
        }
    }

    /// Removes a recovery contact; the primary one stays.
    pub async fn remove_recovery_contact(
        &self,
        caller: &Caller,
        value: &str,
    ) -> Result<Account, ContactsError> {
        self.require_recent(caller)?;
        let value = ContactValue::parse(value).map_err(ContactsError::InvalidValue)?;
        let mut account = self.caller_account(caller).await?;
        let contact = account
            .contacts
            .iter()
            .find(|contact| contact.value == value)
            .ok_or(ContactsError::ContactNotFound)?;
        if contact.primary {
            return Err(ContactsError::PrimaryContact);
        }
        // The removed contact hears of it too: it may be the owner's, removed by someone else.
        let event = events::recovery_contact_removed(&account, &value);
        if !self
            .store
            .remove_contact(caller.mi_id, &value, &[event])
            .await?
        {
            return Err(ContactsError::ContactNotFound);
        }
        account.contacts.retain(|contact| contact.value != value);
        Ok(account)
    }

    /// Makes one of the account's contacts the primary one.
    pub async fn set_primary_contact(
        &self,
        caller: &Caller,
        value: &str,
    ) -> Result<Account, ContactsError> {
        self.require_recent(caller)?;
        let value = ContactValue::parse(value).map_err(ContactsError::InvalidValue)?;
        if !self.store.set_primary_contact(caller.mi_id, &value).await? {
            return Err(ContactsError::ContactNotFound);
        }
        self.caller_account(caller).await
    }

    fn require_recent(&self, caller: &Caller) -> Result<(), ContactsError> {
        if !caller.authenticated_within(self.recent_auth_window) {
            return Err(ContactsError::ReauthenticationRequired);
        }
        Ok(())
    }

    async fn caller_account(&self, caller: &Caller) -> Result<Account, ContactsError> {
        self.accounts
            .account(caller.mi_id)
            .await?
            .ok_or(ContactsError::AccountGone)
    }
}
