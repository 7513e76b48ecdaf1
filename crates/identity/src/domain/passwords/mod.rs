//! Passwords: StartPasswordReset (`reset_start.rs`: the contacts a reset code may go to,
//! masked), ResetPassword (forgotten, with a verification token) and ChangePassword (with
//! the current one); the policy a new one must meet (`policy.rs`), Argon2id hashing
//! (`hasher.rs`, `argon2id.rs`), brute-force protection (`brute_force.rs`), and the guard the
//! other families check passwords through (`guard.rs`).

mod argon2id;
mod breached;
mod brute_force;
mod guard;
mod hasher;
mod pepper;
mod policy;
mod reset_start;
mod settings;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use mi_contracts::{MiId, Purpose};
use secrecy::SecretString;

pub use self::argon2id::ARGON2_WORKER;
pub use self::brute_force::{BruteForce, BruteForceSettings, FailureCounted, Standing};
pub use self::guard::{CurrentPasswordRefusal, NotChecked, PasswordGuard};
pub use self::hasher::{PasswordCheck, PasswordHasher, PasswordProblem, StoredHash};
pub use self::pepper::recovery_code_key;
pub use self::policy::PasswordPolicy;
pub use self::reset_start::{PasswordResetSettings, ResetStarts, StartResetError, StartedReset};
pub use self::settings::{Argon2Settings, OWASP_ARGON2_MINIMUMS, PasswordSettings};
pub use self::store::{PasswordStore, SetPasswordOutcome};
use super::events;
use super::{Account, AccountLookup, Caller, Identifier, VerificationTokens};

/// Why ResetPassword or ChangePassword was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// ResetPassword: the token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// ResetPassword: the token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// ResetPassword: no account has the proven contact.
    #[error("no account for contact")]
    NoAccountForContact,
    /// ChangePassword: the caller's account no longer exists.
    #[error("account gone")]
    AccountGone,
    /// ChangePassword: too many wrong passwords; nothing is checked until the wait is over.
    #[error("password delayed")]
    PasswordDelayed {
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// ChangePassword: the current password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// Both: the new password breaks the policy.
    #[error("weak password: {0}")]
    WeakPassword(PasswordProblem),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<CurrentPasswordRefusal> for PasswordError {
    fn from(refusal: CurrentPasswordRefusal) -> Self {
        match refusal {
            CurrentPasswordRefusal::Delayed { retry_after } => {
                Self::PasswordDelayed { retry_after }
            }
            CurrentPasswordRefusal::Wrong => Self::WrongPassword,
            CurrentPasswordRefusal::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

/// Resets and changes passwords.
#[derive(Debug, Clone)]
pub struct Passwords {
    store: Arc<dyn PasswordStore>,
    accounts: Arc<dyn AccountLookup>,
    guard: Arc<PasswordGuard>,
    verification_tokens: VerificationTokens,
    resets: ResetStarts,
}

impl Passwords {
    /// Passwords in `store`, checked and hashed by `guard`; resets started by `resets`.
    pub fn new(
        store: Arc<dyn PasswordStore>,
        accounts: Arc<dyn AccountLookup>,
        guard: Arc<PasswordGuard>,
        verification_tokens: VerificationTokens,
        resets: ResetStarts,
    ) -> Self {
        Self {
            store,
            accounts,
            guard,
            verification_tokens,
            resets,
        }
    }

    /// Resets a forgotten password with a token for one of the account's contacts: every
    /// session ends and the failures of the account's identifiers are forgotten.
    pub async fn reset_password(
        &self,
        verification_token: &str,
        new_password: &SecretString,
    ) -> Result<MiId, PasswordError> {
        let verified = self
            .verification_tokens
            .verify(verification_token, Purpose::PasswordReset)
            .map_err(|_| PasswordError::TokenInvalid)?;
        let mi_id = self
            .accounts
            .find_account(&Identifier::Contact(verified.contact.clone()))
            .await?
            .ok_or(PasswordError::NoAccountForContact)?;
        let account = self
            .accounts
            .account(mi_id)
            .await?
            .ok_or(PasswordError::NoAccountForContact)?;
        let hash = self.new_password_hash(&account, new_password).await?;
        let event = events::password_changed(&account, true);
        let outcome = self
            .store
            .set_password(
                mi_id,
                &hash,
                Some(&verified),
                None,
                "password_reset",
                &[event],
            )
            .await?;
        match outcome {
            SetPasswordOutcome::Changed { .. } => {}
            SetPasswordOutcome::TokenSpent => return Err(PasswordError::TokenUsed),
            SetPasswordOutcome::NoAccount => return Err(PasswordError::NoAccountForContact),
        }
        self.guard.clear(&account).await?;
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
    ) -> Result<u32, PasswordError> {
        let account = self
            .accounts
            .account(caller.mi_id)
            .await?
            .ok_or(PasswordError::AccountGone)?;
        self.guard
            .check_current(&account, current_password, client_address)
            .await?;
        let hash = self.new_password_hash(&account, new_password).await?;
        let event = events::password_changed(&account, false);
        let keep = Some(caller.session_id.as_str());
        let outcome = self
            .store
            .set_password(
                caller.mi_id,
                &hash,
                None,
                keep,
                "password_changed",
                &[event],
            )
            .await?;
        match outcome {
            SetPasswordOutcome::Changed { sessions_revoked } => {
                tracing::info!(mi_id = %caller.mi_id, sessions_revoked, "password changed");
                Ok(sessions_revoked)
            }
            SetPasswordOutcome::TokenSpent | SetPasswordOutcome::NoAccount => {
                Err(PasswordError::AccountGone)
            }
        }
    }

    async fn new_password_hash(
        &self,
        account: &Account,
        new_password: &SecretString,
    ) -> Result<StoredHash, PasswordError> {
        let mut personal = account.contact_values();
        personal.push(account.display_name.clone());
        self.guard
            .hash_new(new_password, personal)
            .await?
            .map_err(PasswordError::WeakPassword)
    }
}
