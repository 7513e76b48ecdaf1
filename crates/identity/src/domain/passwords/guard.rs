//! [`PasswordGuard`]: checking a password under brute-force protection, and hashing a new one
//! under the policy. SignIn, Reauthenticate, ChangePassword, ResetPassword and SignUp share it.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::MiId;
use secrecy::SecretString;

use super::lockout::Blocked;
use super::{
    Lockout, PasswordCheck, PasswordHasher, PasswordPolicy, PasswordProblem, PasswordStore,
};
use crate::domain::events;
use crate::domain::{Account, StoredHash};

/// Why the current password of a signed-in account was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CurrentPasswordRefusal {
    /// Password sign-in is locked after too many wrong passwords.
    #[error("account locked")]
    Locked {
        /// When to try again.
        retry_after: Duration,
    },
    /// The password is wrong (and counted).
    #[error("wrong password")]
    Wrong,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Hashes and checks passwords, counting wrong ones.
#[derive(Debug)]
pub struct PasswordGuard {
    store: Arc<dyn PasswordStore>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    lockout: Lockout,
}

impl PasswordGuard {
    /// A guard over the stored hashes, hashing with `hasher` under `policy`.
    pub fn new(
        store: Arc<dyn PasswordStore>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        lockout: Lockout,
    ) -> Self {
        Self {
            store,
            hasher,
            policy,
            lockout,
        }
    }

    /// Whether a sign-in must be refused now without checking the password.
    pub async fn blocked(
        &self,
        mi_id: Option<MiId>,
        client: &str,
    ) -> anyhow::Result<Option<Blocked>> {
        self.lockout.blocked(mi_id, client).await
    }

    /// Checks a password against a stored hash (`None`: an unknown account, always wrong,
    /// in the same time).
    pub async fn check(
        &self,
        password: &SecretString,
        stored: Option<&StoredHash>,
    ) -> anyhow::Result<PasswordCheck> {
        self.hasher.check(&self.policy, password, stored).await
    }

    /// Counts a wrong password for an identifier that named no account.
    pub async fn unknown_account_failed(&self, client: &str) -> anyhow::Result<()> {
        self.lockout.record_failure(None, client).await.map(|_| ())
    }

    /// Counts a wrong password of `account` and, if that locked it, announces it.
    pub async fn failed(&self, account: &Account, client: &str) -> anyhow::Result<()> {
        let Some(lock) = self
            .lockout
            .record_failure(Some(account.mi_id), client)
            .await?
        else {
            return Ok(());
        };
        tracing::warn!(mi_id = %account.mi_id, failures = lock.failures, "account locked");
        let locked = events::account_locked(account, lock.failures, lock.locked_until);
        // The lock holds whether or not its alert is written: log rather than fail the caller.
        if let Err(error) = self.store.record_events(account.mi_id, &[locked]).await {
            tracing::error!(mi_id = %account.mi_id, error = format!("{error:#}"), "cannot record event");
        }
        Ok(())
    }

    /// Forgets the failures and any lock (after a right password or a reset).
    pub async fn clear(&self, mi_id: MiId) -> anyhow::Result<()> {
        self.lockout.clear(mi_id).await
    }

    /// Checks the password of a signed-in account: refused while locked, and a wrong one
    /// counts towards the lock.
    pub async fn check_current(
        &self,
        account: &Account,
        password: &SecretString,
        client_address: &str,
    ) -> Result<(), CurrentPasswordRefusal> {
        if let Some(Blocked::Account(retry_after) | Blocked::Client(retry_after)) =
            self.blocked(Some(account.mi_id), client_address).await?
        {
            return Err(CurrentPasswordRefusal::Locked { retry_after });
        }
        let stored = self.store.password_hash(account.mi_id).await?;
        if self.check(password, stored.as_ref()).await?.is_right() {
            self.clear(account.mi_id).await?;
            return Ok(());
        }
        self.failed(account, client_address).await?;
        Err(CurrentPasswordRefusal::Wrong)
    }

    /// Checks a new password against the policy and hashes it; `personal` holds the contacts
    /// and name it must not contain.
    pub async fn hash_new(
        &self,
        password: &SecretString,
        personal: Vec<String>,
    ) -> anyhow::Result<Result<StoredHash, PasswordProblem>> {
        self.hasher.hash_new(&self.policy, password, personal).await
    }
}
