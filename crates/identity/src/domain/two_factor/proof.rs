//! Second-factor proofs: the methods, and [`ProofChecker`], which CompleteSignIn and
//! Reauthenticate check a proof with, under the account's failure count (`failures.rs`).

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{Purpose, UnixMillis};

use super::{FactorFailures, RecoveryCodes, TotpSecrets, TwoFactorStore};
use crate::domain::events;
use crate::domain::{Account, ContactKind, VerificationTokens, VerifiedContact};

/// A way to prove a second factor, stored by its snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum SecondFactorMethod {
    /// A code from the authenticator app.
    Totp,
    /// A one-time recovery code.
    RecoveryCode,
    /// A verification token for one of the account's contacts.
    VerificationCode,
}

impl SecondFactorMethod {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One answer to a challenge (or to Reauthenticate).
#[derive(Clone)]
pub enum SecondFactorProof {
    /// An authenticator-app code.
    Totp(String),
    /// A recovery code.
    RecoveryCode(String),
    /// A verification token of purpose sign-in second factor.
    VerificationToken(String),
}

impl std::fmt::Debug for SecondFactorProof {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.method().as_str())
    }
}

impl SecondFactorProof {
    /// The method this proof uses.
    pub fn method(&self) -> SecondFactorMethod {
        match self {
            Self::Totp(_) => SecondFactorMethod::Totp,
            Self::RecoveryCode(_) => SecondFactorMethod::RecoveryCode,
            Self::VerificationToken(_) => SecondFactorMethod::VerificationCode,
        }
    }
}

/// Why a second-factor proof was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FactorRefusal {
    /// Wrong code, used code, or a contact not on the account.
    #[error("wrong second factor")]
    Wrong,
    /// The verification token is invalid.
    #[error("verification token invalid")]
    TokenInvalid,
    /// Too many wrong proofs: none is checked until the wait is over.
    #[error("second factor delayed")]
    Delayed {
        /// When to try again.
        retry_after: Duration,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A second factor that checked out.
#[derive(Debug, Clone)]
pub struct ProvenFactor {
    /// The `amr` value: `otp`, `rec` (recovery code), `sms` or `email`.
    pub method: &'static str,
    /// The verification token to spend with the change, for a code.
    pub token: Option<VerifiedContact>,
}

/// Checks second-factor proofs against an account.
#[derive(Debug)]
pub struct ProofChecker {
    store: Arc<dyn TwoFactorStore>,
    totp: TotpSecrets,
    recovery_codes: RecoveryCodes,
    verification_tokens: VerificationTokens,
    failures: FactorFailures,
}

impl ProofChecker {
    /// A checker over the stored second factors, counting wrong proofs in `failures`.
    pub fn new(
        store: Arc<dyn TwoFactorStore>,
        totp: TotpSecrets,
        recovery_codes: RecoveryCodes,
        verification_tokens: VerificationTokens,
        failures: FactorFailures,
    ) -> Self {
        Self {
            store,
            totp,
            recovery_codes,
            verification_tokens,
            failures,
        }
    }

    /// Checks a proof unless the account must wait after too many wrong ones; a wrong proof
    /// counts (and alerts the owner when the free failures run out), a right one clears the
    /// count.
    pub async fn check(
        &self,
        account: &Account,
        proof: &SecondFactorProof,
    ) -> Result<ProvenFactor, FactorRefusal> {
        let mi_id = account.mi_id;
        if let Some(retry_after) = self.failures.wait(mi_id).await? {
            return Err(FactorRefusal::Delayed { retry_after });
        }
        match self.check_now(account, proof).await {
            Ok(proven) => {
                self.failures.clear(mi_id).await?;
                Ok(proven)
            }
            Err(FactorRefusal::Wrong) => {
                let counted = self.failures.record(mi_id).await?;
                if counted.alert {
                    tracing::warn!(%mi_id, failures = counted.failures, "second factor delayed");
                    let event = events::second_factor_failures(account, counted.failures);
                    // The delay holds whether or not its alert is written: log, do not fail.
                    if let Err(error) = self.store.record_alerts(mi_id, &[event]).await {
                        tracing::error!(%mi_id, error = format!("{error:#}"), "cannot record event");
                    }
                }
                Err(FactorRefusal::Wrong)
            }
            Err(other) => Err(other),
        }
    }

    /// Checks a proof: a TOTP code (accepted once per time step), a recovery code (used up),
    /// or a verification token for one of the account's contacts (returned, to be spent with
    /// the change it allows).
    async fn check_now(
        &self,
        account: &Account,
        proof: &SecondFactorProof,
    ) -> Result<ProvenFactor, FactorRefusal> {
        match proof {
            SecondFactorProof::Totp(code) => {
                let state = self.store.totp_state(account.mi_id).await?;
                let Some(secret) = state.secret else {
                    return Err(FactorRefusal::Wrong);
                };
                let now_seconds =
                    u64::try_from(UnixMillis::now().as_i64() / 1000).unwrap_or_default();
                let step = self
                    .totp
                    .matching_step(account.mi_id, &secret, code, now_seconds)?
                    .ok_or(FactorRefusal::Wrong)?;
                if !self.store.accept_totp_step(account.mi_id, step).await? {
                    return Err(FactorRefusal::Wrong);
                }
                Ok(ProvenFactor {
                    method: "otp",
                    token: None,
                })
            }
            SecondFactorProof::RecoveryCode(code) => {
                // Codes made before the derived key match only their pepper-keyed form.
                let [current, before] = self.recovery_codes.hashes(code);
                let used = self
                    .store
                    .use_recovery_code(account.mi_id, &current)
                    .await?
                    || self.store.use_recovery_code(account.mi_id, &before).await?;
                if !used {
                    return Err(FactorRefusal::Wrong);
                }
                tracing::info!(mi_id = %account.mi_id, "recovery code used");
                Ok(ProvenFactor {
                    method: "rec",
                    token: None,
                })
            }
            SecondFactorProof::VerificationToken(token) => {
                let verified = self
                    .verification_tokens
                    .verify(token, Purpose::SignInSecondFactor)
                    .map_err(|_| FactorRefusal::TokenInvalid)?;
                if !account
                    .contacts
                    .iter()
                    .any(|contact| contact.value == verified.contact)
                {
                    return Err(FactorRefusal::Wrong);
                }
                let method = match verified.contact.kind() {
                    ContactKind::Phone => "sms",
                    ContactKind::Email => "email",
                };
                Ok(ProvenFactor {
                    method,
                    token: Some(verified),
                })
            }
        }
    }
}
