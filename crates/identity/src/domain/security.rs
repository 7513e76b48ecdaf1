//! Recovery contacts and passwords: add, remove and promote contacts; reset and change the
//! password.

use mi_platform::clock;
use secrecy::SecretString;

use super::{
    Account, AccountError, Accounts, Caller, Contact, ContactValue, Identifier, MiId,
    VerificationPurpose,
};
use crate::events;
use crate::storage::{AddContactOutcome, SetPasswordOutcome};

/// The most contacts (primary included) an account may have.
const MAX_CONTACTS: usize = 4;

impl Accounts {
    /// Adds a recovery contact proven by a token of purpose add-recovery-contact.
    pub async fn add_recovery_contact(
        &self,
        caller: &Caller,
        verification_token: &str,
    ) -> Result<Account, AccountError> {
        self.require_recent(caller)?;
        let verified = self
            .verification_tokens
            .verify(verification_token, VerificationPurpose::AddRecoveryContact)
            .map_err(|_| AccountError::TokenInvalid)?;
        let mut account = self.caller_account(caller).await?;
        let contact = Contact {
            value: verified.contact.clone(),
            primary: false,
            verified_at: clock::now_millis(),
        };
        account.contacts.push(contact.clone());
        let event = events::recovery_contact_added(&account, &contact.value);
        match self
            .store
            .add_contact(caller.mi_id, &contact, &verified, MAX_CONTACTS, &[event])
            .await?
        {
            AddContactOutcome::Added => Ok(account),
            AddContactOutcome::InUse => Err(AccountError::ContactInUse),
            AddContactOutcome::TokenSpent => Err(AccountError::TokenUsed),
            AddContactOutcome::TooMany => Err(AccountError::TooManyContacts),
            AddContactOutcome::NoAccount => Err(AccountError::AccountGone),
        }
    }

    /// Removes a recovery contact; the primary one stays.
    pub async fn remove_recovery_contact(
        &self,
        caller: &Caller,
        value: &str,
    ) -> Result<Account, AccountError> {
        self.require_recent(caller)?;
        let value = parse_contact(value)?;
        let mut account = self.caller_account(caller).await?;
        let contact = account
            .contacts
            .iter()
            .find(|contact| contact.value == value)
            .ok_or(AccountError::ContactNotFound)?;
        if contact.primary {
            return Err(AccountError::PrimaryContact);
        }
        // The removed contact hears of it too: it may be the owner's, removed by someone else.
        let event = events::recovery_contact_removed(&account, &value);
        if !self
            .store
            .remove_contact(caller.mi_id, &value, &[event])
            .await?
        {
            return Err(AccountError::ContactNotFound);
        }
        account.contacts.retain(|contact| contact.value != value);
        Ok(account)
    }

    /// Makes one of the account's contacts the primary one.
    pub async fn set_primary_contact(
        &self,
        caller: &Caller,
        value: &str,
    ) -> Result<Account, AccountError> {
        self.require_recent(caller)?;
        let value = parse_contact(value)?;
        if !self.store.set_primary_contact(caller.mi_id, &value).await? {
            return Err(AccountError::ContactNotFound);
        }
        self.caller_account(caller).await
    }

    /// Resets a forgotten password with a token for one of the account's contacts: every
    /// session ends and the lockout is cleared.
    pub async fn reset_password(
        &self,
        verification_token: &str,
        new_password: &SecretString,
    ) -> Result<MiId, AccountError> {
        let verified = self
            .verification_tokens
            .verify(verification_token, VerificationPurpose::PasswordReset)
            .map_err(|_| AccountError::TokenInvalid)?;
        let mi_id = self
            .store
            .find_account(&Identifier::Contact(verified.contact.clone()))
            .await?
            .ok_or(AccountError::NoAccountForContact)?;
        let account = self
            .store
            .account(mi_id)
            .await?
            .ok_or(AccountError::NoAccountForContact)?;
        let hash = self.new_password_hash(&account, new_password).await?;
        let event = events::password_changed(&account, true);
        match self
            .store
            .set_password(
                mi_id,
                &hash,
                Some(&verified),
                None,
                "password_reset",
                &[event],
            )
            .await?
        {
            SetPasswordOutcome::Changed { .. } => {}
            SetPasswordOutcome::TokenSpent => return Err(AccountError::TokenUsed),
            SetPasswordOutcome::NoAccount => return Err(AccountError::NoAccountForContact),
        }
        self.lockout.clear(mi_id).await?;
        tracing::info!(%mi_id, "password reset");
        Ok(mi_id)
    }

    /// Changes the password given the current one; every other session ends.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current_password: &SecretString,
        new_password: &SecretString,
        client_address: &str,
    ) -> Result<u32, AccountError> {
        let account = self.caller_account(caller).await?;
        self.check_current_password(
            &account,
            current_password,
            "current_password",
            client_address,
        )
        .await?;
        let hash = self.new_password_hash(&account, new_password).await?;
        let event = events::password_changed(&account, false);
        match self
            .store
            .set_password(
                caller.mi_id,
                &hash,
                None,
                Some(&caller.session_id),
                "password_changed",
                &[event],
            )
            .await?
        {
            SetPasswordOutcome::Changed { sessions_revoked } => {
                tracing::info!(mi_id = %caller.mi_id, sessions_revoked, "password changed");
                Ok(sessions_revoked)
            }
            SetPasswordOutcome::TokenSpent | SetPasswordOutcome::NoAccount => {
                Err(AccountError::AccountGone)
            }
        }
    }

    async fn new_password_hash(
        &self,
        account: &Account,
        new_password: &SecretString,
    ) -> Result<super::StoredHash, AccountError> {
        let mut personal = account.contact_values();
        personal.push(account.display_name.clone());
        self.hasher
            .hash_new(&self.policy, new_password, personal)
            .await?
            .map_err(|problem| AccountError::WeakPassword {
                field: "new_password",
                problem,
            })
    }
}

fn parse_contact(value: &str) -> Result<ContactValue, AccountError> {
    ContactValue::parse(value).map_err(|problem| AccountError::InvalidRequest {
        field: "value",
        problem,
    })
}
