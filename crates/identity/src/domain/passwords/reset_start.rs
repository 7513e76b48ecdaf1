//! StartPasswordReset: recovery that starts from a Mi ID (or a contact) instead of a full
//! phone number: the account's contacts, masked, each with a send token for a PASSWORD_RESET
//! code. ResetPassword then takes the verification token as for any reset.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{Purpose, UnixMillis};
use mi_platform::client::limit_key;
use mi_platform::limiter::{Limit, RateLimiter};
use serde::Deserialize;

use super::Passwords;
use crate::domain::{Identifier, MaskedContact, SendTokens};

const HOUR: Duration = Duration::from_secs(3600);

/// Password resets started from an identifier (`identity.password_reset`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PasswordResetSettings {
    /// How long the send tokens of a started reset stay valid.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Resets one client address may start per hour: the pace at which anyone can learn
    /// whether identifiers belong to accounts.
    pub starts_per_client_per_hour: u32,
}

impl Default for PasswordResetSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            starts_per_client_per_hour: 10,
        }
    }
}

/// A reset started: its id, its end and the account's contacts (none for an identifier no
/// account has).
#[derive(Debug, Clone)]
pub struct StartedReset {
    /// Names the reset in SendCode's challenge contact.
    pub challenge_id: String,
    /// When the send tokens stop working.
    pub expires_at: UnixMillis,
    /// The contacts, masked, with their send tokens.
    pub contacts: Vec<MaskedContact>,
}

/// Why no reset was started.
#[derive(Debug, thiserror::Error)]
pub enum StartResetError {
    /// The identifier is malformed.
    #[error("invalid identifier: {0}")]
    InvalidIdentifier(String),
    /// This client started too many resets.
    #[error("too many password resets started")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What starting a reset needs beside the accounts.
#[derive(Debug, Clone)]
pub struct ResetStarts {
    send_tokens: SendTokens,
    limiter: Arc<dyn RateLimiter>,
    settings: PasswordResetSettings,
}

impl ResetStarts {
    /// Starts sealed by `send_tokens`, counted per client by `limiter`.
    pub fn new(
        send_tokens: SendTokens,
        limiter: Arc<dyn RateLimiter>,
        settings: PasswordResetSettings,
    ) -> Self {
        Self {
            send_tokens,
            limiter,
            settings,
        }
    }
}

impl Passwords {
    /// Starts a reset for whoever `identifier` names. An identifier no account has gets the
    /// same reply, with no contacts, after the same one read and the work of offering one
    /// contact (as for an account with one contact, the usual case); the per-client limit
    /// bounds how fast anyone can tell the two apart.
    pub async fn start_reset(
        &self,
        identifier: &str,
        client_address: &str,
    ) -> Result<StartedReset, StartResetError> {
        let identifier =
            Identifier::parse(identifier).map_err(StartResetError::InvalidIdentifier)?;
        let starts = &self.resets;
        let limit = Limit::new(
            format!("reset-start:client-hour:{}", limit_key(client_address)),
            starts.settings.starts_per_client_per_hour,
            HOUR,
        );
        let decision = starts.limiter.acquire(&[limit]).await?;
        if !decision.allowed {
            return Err(StartResetError::RateLimited {
                retry_after: decision.retry_after,
            });
        }
        let challenge_id = uuid::Uuid::new_v4().to_string();
        let expires_at = UnixMillis::now().saturating_add(starts.settings.ttl);
        let contacts = match self.accounts.account_named(&identifier).await? {
            Some(account) => {
                tracing::info!(mi_id = %account.mi_id, challenge_id, "password reset started");
                starts.send_tokens.offer(
                    &account,
                    &challenge_id,
                    Purpose::PasswordReset,
                    expires_at,
                )?
            }
            None => {
                starts.send_tokens.offer_none_as_slowly(
                    &challenge_id,
                    Purpose::PasswordReset,
                    expires_at,
                )?;
                Vec::new()
            }
        };
        Ok(StartedReset {
            challenge_id,
            expires_at,
            contacts,
        })
    }
}
