//! Reauthenticate: a signed-in caller proves the password or a second factor again, so the
//! sensitive changes of the other families are allowed for a while.

use std::time::Duration;

use mi_contracts::UnixMillis;
use mi_platform::client::limit_key;
use secrecy::SecretString;

use super::SignIn;
use crate::domain::{Caller, CurrentPasswordRefusal, FactorRefusal, SecondFactorProof};

/// How a caller proves themselves again.
#[derive(Debug, Clone)]
pub enum Reauthentication {
    /// The account password.
    Password(SecretString),
    /// A second factor.
    SecondFactor(SecondFactorProof),
}

/// Why Reauthenticate was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReauthenticateError {
    /// The caller's account no longer exists.
    #[error("account gone")]
    AccountGone,
    /// The password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// Too many wrong passwords: nothing is checked until the wait is over.
    #[error("password delayed")]
    PasswordDelayed {
        /// When to try again.
        retry_after: Duration,
    },
    /// The second factor is wrong.
    #[error("wrong second factor")]
    WrongSecondFactor,
    /// Too many wrong second-factor proofs: none is checked until the wait is over.
    #[error("second factor delayed")]
    SecondFactorDelayed {
        /// When to try again.
        retry_after: Duration,
    },
    /// The verification token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// The verification token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl SignIn {
    /// Proves the password or a second factor again; returns until when changes are allowed.
    pub async fn reauthenticate(
        &self,
        caller: &Caller,
        proof: Reauthentication,
        client_address: &str,
    ) -> Result<UnixMillis, ReauthenticateError> {
        let account = self
            .accounts
            .account(caller.mi_id)
            .await?
            .ok_or(ReauthenticateError::AccountGone)?;
        let method = match proof {
            Reauthentication::Password(password) => {
                self.passwords
                    .check_current(&account, &password, &limit_key(client_address))
                    .await
                    .map_err(|refusal| match refusal {
                        CurrentPasswordRefusal::Delayed { retry_after } => {
                            ReauthenticateError::PasswordDelayed { retry_after }
                        }
                        CurrentPasswordRefusal::Wrong => ReauthenticateError::WrongPassword,
                        CurrentPasswordRefusal::Unexpected(error) => error.into(),
                    })?;
                "pwd"
            }
            Reauthentication::SecondFactor(proof) => {
                let proven = self
                    .proofs
                    .check(&account, &proof)
                    .await
                    .map_err(|refusal| match refusal {
                        FactorRefusal::Wrong => ReauthenticateError::WrongSecondFactor,
                        FactorRefusal::TokenInvalid => ReauthenticateError::TokenInvalid,
                        FactorRefusal::Delayed { retry_after } => {
                            ReauthenticateError::SecondFactorDelayed { retry_after }
                        }
                        FactorRefusal::Unexpected(error) => error.into(),
                    })?;
                if let Some(token) = &proven.token
                    && !self.store.spend_token(token).await?
                {
                    return Err(ReauthenticateError::TokenUsed);
                }
                proven.method
            }
        };
        let now = UnixMillis::now();
        self.sessions
            .mark_authenticated(&caller.session_id, now, method)
            .await?;
        Ok(now.saturating_add(self.recent_auth_window))
    }
}
