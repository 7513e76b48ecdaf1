//! Calls made with an access token: who the caller is, whether they authenticated recently,
//! and the error enum shared by the account-management operations.

use std::time::Duration;

use mi_platform::auth::AccessClaims;
use mi_platform::clock;
use secrecy::SecretString;

use super::lockout::Blocked;
use super::second_factor::FactorRefusal;
use super::{Account, Accounts, MiId, PasswordProblem, SecondFactorProof};

/// The signed-in caller of an authenticated RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Whose account.
    pub mi_id: MiId,
    /// The session of the access token.
    pub session_id: String,
    /// When the session last proved a password or second factor, milliseconds since the epoch.
    pub auth_time: i64,
}

/// Why an account-management operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is malformed.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The access token's session was revoked or has expired.
    #[error("session revoked")]
    SessionRevoked,
    /// The account no longer exists.
    #[error("account gone")]
    AccountGone,
    /// The operation needs a password or second factor proven in the last few minutes.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The password given is wrong.
    #[error("wrong password")]
    WrongPassword {
        /// The request field that held it.
        field: &'static str,
    },
    /// Password sign-in is locked after too many wrong passwords.
    #[error("account locked")]
    AccountLocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// The second factor is wrong.
    #[error("wrong second factor")]
    WrongSecondFactor,
    /// A new password breaks the policy.
    #[error("weak password: {problem}")]
    WeakPassword {
        /// The request field.
        field: &'static str,
        /// Why.
        problem: PasswordProblem,
    },
    /// The verification token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// The verification token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// Some account has this contact already.
    #[error("contact in use")]
    ContactInUse,
    /// The account has the most contacts allowed.
    #[error("too many contacts")]
    TooManyContacts,
    /// The account has no such contact.
    #[error("contact not found")]
    ContactNotFound,
    /// The primary contact cannot be removed.
    #[error("primary contact")]
    PrimaryContact,
    /// No account has the proven contact.
    #[error("no account for contact")]
    NoAccountForContact,
    /// No session of the account has this id.
    #[error("session not found")]
    SessionNotFound,
    /// The authenticator app is on already.
    #[error("totp already enabled")]
    TotpAlreadyEnabled,
    /// ConfirmTotp without EnrollTotp.
    #[error("totp not enrolled")]
    TotpNotEnrolled,
    /// The authenticator app is off.
    #[error("totp not enabled")]
    TotpNotEnabled,
    /// No second factor is on.
    #[error("two-factor authentication not enabled")]
    TwoFactorNotEnabled,
    /// The TOTP code does not match.
    #[error("wrong code")]
    WrongCode,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// How a caller proves themselves again.
#[derive(Debug, Clone)]
pub enum Reauthentication {
    /// The account password.
    Password(SecretString),
    /// A second factor.
    SecondFactor(SecondFactorProof),
}

impl Accounts {
    /// The caller of a verified access token, if its session is still active.
    pub async fn caller(&self, claims: &AccessClaims) -> Result<Caller, AccountError> {
        let mi_id = claims
            .mi_id()
            .and_then(|raw| MiId::parse(raw).ok())
            .ok_or(AccountError::SessionRevoked)?;
        let session = self
            .store
            .active_session(&claims.sid, clock::now_millis())
            .await?
            .filter(|session| session.mi_id == mi_id)
            .ok_or(AccountError::SessionRevoked)?;
        Ok(Caller {
            mi_id,
            session_id: session.session_id,
            auth_time: session.auth_time,
        })
    }

    /// The access token verifier, for the gRPC layer.
    pub fn access_tokens(&self) -> &mi_platform::auth::AccessTokenVerifier {
        &self.access_tokens
    }

    /// Refuses unless the caller proved a password or second factor within the window.
    pub(super) fn require_recent(&self, caller: &Caller) -> Result<(), AccountError> {
        let recent_until = clock::add_millis(caller.auth_time, self.settings.recent_auth_window);
        if recent_until <= clock::now_millis() {
            return Err(AccountError::ReauthenticationRequired);
        }
        Ok(())
    }

    /// The caller's account.
    pub(super) async fn caller_account(&self, caller: &Caller) -> Result<Account, AccountError> {
        self.store
            .account(caller.mi_id)
            .await?
            .ok_or(AccountError::AccountGone)
    }

    /// Proves the password or a second factor again; returns until when changes are allowed.
    pub async fn reauthenticate(
        &self,
        caller: &Caller,
        proof: Reauthentication,
        client_address: &str,
    ) -> Result<i64, AccountError> {
        let account = self.caller_account(caller).await?;
        let method = match proof {
            Reauthentication::Password(password) => {
                self.check_current_password(&account, &password, "password", client_address)
                    .await?;
                "pwd"
            }
            Reauthentication::SecondFactor(proof) => {
                let proven =
                    self.check_second_factor(&account, &proof)
                        .await
                        .map_err(|refusal| match refusal {
                            FactorRefusal::Wrong => AccountError::WrongSecondFactor,
                            FactorRefusal::TokenInvalid => AccountError::TokenInvalid,
                            FactorRefusal::Unexpected(error) => AccountError::Unexpected(error),
                        })?;
                if let Some(token) = &proven.token
                    && !self.store.spend_token(token).await?
                {
                    return Err(AccountError::TokenUsed);
                }
                proven.method
            }
        };
        let now = clock::now_millis();
        self.store
            .mark_authenticated(&caller.session_id, now, method)
            .await?;
        Ok(clock::add_millis(now, self.settings.recent_auth_window))
    }

    /// Checks the account's password as brute-force protection counts it: refused while
    /// locked, and a wrong one counts towards the lock.
    pub(super) async fn check_current_password(
        &self,
        account: &Account,
        password: &SecretString,
        field: &'static str,
        client_address: &str,
    ) -> Result<(), AccountError> {
        if let Some(Blocked::Account(retry_after) | Blocked::Client(retry_after)) = self
            .lockout
            .blocked(Some(account.mi_id), client_address)
            .await?
        {
            return Err(AccountError::AccountLocked { retry_after });
        }
        let stored = self.store.password_hash(account.mi_id).await?;
        if self
            .hasher
            .check(password, stored.as_ref())
            .await?
            .is_right()
        {
            self.lockout.clear(account.mi_id).await?;
            return Ok(());
        }
        match self.password_failed(account, client_address).await {
            super::SignInError::Unexpected(error) => Err(AccountError::Unexpected(error)),
            _ => Err(AccountError::WrongPassword { field }),
        }
    }
}
