//! [`PasswordGuard`]: checking a password under brute-force protection, and hashing a new one
//! under the policy. SignIn, Reauthenticate, ChangePassword, ResetPassword and SignUp share it.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{
    BruteForce, PasswordCheck, PasswordHasher, PasswordPolicy, PasswordProblem, PasswordStore,
    Standing,
};
use crate::domain::events;
use crate::domain::{Account, Identifier, StoredHash, VerificationTokens};

/// Why a password was not even checked (the same for an identifier that names no account).
#[derive(Debug, thiserror::Error)]
pub enum NotChecked {
    /// The identifier failed too often: a CAPTCHA pass for it is needed; `answered` tells an
    /// invalid, expired, spent or foreign pass from a missing one.
    #[error("a CAPTCHA is required")]
    CaptchaRequired {
        /// Whether a pass was sent (and refused).
        answered: bool,
    },
    /// The identifier failed very often: nothing is checked until the wait is over.
    #[error("password delayed")]
    Delayed {
        /// When to try again.
        retry_after: Duration,
    },
    /// This client address failed too often.
    #[error("client blocked")]
    ClientBlocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why the current password of a signed-in account was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CurrentPasswordRefusal {
    /// Too many wrong passwords for the account's Mi ID, or from this client address: nothing
    /// is checked until the wait is over.
    #[error("password delayed")]
    Delayed {
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
    brute_force: BruteForce,
    captcha_passes: VerificationTokens,
}

impl PasswordGuard {
    /// A guard over the stored hashes, hashing with `hasher` under `policy`, counting
    /// failures in `brute_force` and checking CAPTCHA passes with `captcha_passes`.
    pub fn new(
        store: Arc<dyn PasswordStore>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        brute_force: BruteForce,
        captcha_passes: VerificationTokens,
    ) -> Self {
        Self {
            store,
            hasher,
            policy,
            brute_force,
            captcha_passes,
        }
    }

    /// Whether a password may be checked now for `identifier` (canonical) from `client`: a
    /// CAPTCHA pass for it is spent here when its failures ask for one.
    pub async fn admit(
        &self,
        identifier: &str,
        captcha_pass: Option<&SecretString>,
        client: &str,
    ) -> Result<(), NotChecked> {
        match self.brute_force.standing(identifier, client).await? {
            Standing::Open => Ok(()),
            Standing::Delayed(retry_after) => Err(NotChecked::Delayed { retry_after }),
            Standing::ClientBlocked(retry_after) => Err(NotChecked::ClientBlocked { retry_after }),
            Standing::CaptchaRequired => {
                let Some(pass) = captcha_pass else {
                    return Err(NotChecked::CaptchaRequired { answered: false });
                };
                let Ok(pass) = self
                    .captcha_passes
                    .verify_captcha_pass(pass.expose_secret(), identifier)
                else {
                    return Err(NotChecked::CaptchaRequired { answered: true });
                };
                if !self
                    .brute_force
                    .spend_captcha_pass(&pass.pass_id, pass.expires_at)
                    .await?
                {
                    return Err(NotChecked::CaptchaRequired { answered: true });
                }
                Ok(())
            }
        }
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

    /// Counts a wrong password for `identifier` (canonical), which names `account` or none;
    /// the owner hears of it when it makes a CAPTCHA necessary, at most once per alert period.
    pub async fn failed(
        &self,
        identifier: &str,
        account: Option<&Account>,
        client: &str,
    ) -> anyhow::Result<()> {
        let counted = self.brute_force.record_failure(identifier, client).await?;
        let Some(account) = account.filter(|_| counted.captcha_required) else {
            return Ok(());
        };
        if !self
            .brute_force
            .first_alert_in_period(account.mi_id)
            .await?
        {
            return Ok(());
        }
        tracing::warn!(mi_id = %account.mi_id, failures = counted.failures, "wrong passwords: captcha required");
        let alert = events::password_failures(account, counted.failures);
        // The CAPTCHA is required whether or not its alert is written: log rather than fail.
        if let Err(error) = self.store.record_events(account.mi_id, &[alert]).await {
            tracing::error!(mi_id = %account.mi_id, error = format!("{error:#}"), "cannot record event");
        }
        Ok(())
    }

    /// Forgets the failures of every identifier of the account (after a right password or a
    /// reset), as NIST SP 800-63B §5.2.2 and Keycloak do after a success.
    pub async fn clear(&self, account: &Account) -> anyhow::Result<()> {
        let identifiers: Vec<String> = std::iter::once(Identifier::MiId(account.mi_id))
            .chain(
                account
                    .contacts
                    .iter()
                    .map(|contact| Identifier::Contact(contact.value.clone())),
            )
            .map(|identifier| identifier.canonical())
            .collect();
        self.brute_force.clear(&identifiers).await
    }

    /// Checks the password of a signed-in account, counted under its Mi ID: refused during a
    /// wait, and a wrong one counts. No CAPTCHA is asked: the session stands for the person.
    pub async fn check_current(
        &self,
        account: &Account,
        password: &SecretString,
        client_address: &str,
    ) -> Result<(), CurrentPasswordRefusal> {
        let identifier = Identifier::MiId(account.mi_id).canonical();
        match self
            .brute_force
            .standing(&identifier, client_address)
            .await?
        {
            Standing::Delayed(retry_after) | Standing::ClientBlocked(retry_after) => {
                return Err(CurrentPasswordRefusal::Delayed { retry_after });
            }
            Standing::Open | Standing::CaptchaRequired => {}
        }
        let stored = self.store.password_hash(account.mi_id).await?;
        if self.check(password, stored.as_ref()).await?.is_right() {
            self.clear(account).await?;
            return Ok(());
        }
        self.failed(&identifier, Some(account), client_address)
            .await?;
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
