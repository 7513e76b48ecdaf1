//! Two-factor authentication: EnrollTotp, ConfirmTotp, DisableTotp, SetCodeSecondFactor and
//! RegenerateRecoveryCodes; the authenticator app's codes (`totp.rs`), recovery codes
//! (`recovery_codes.rs`), and checking a second-factor proof (`proof.rs`).

mod failures;
mod proof;
mod recovery_codes;
mod store;
#[cfg(test)]
mod tests;
mod totp;

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::UnixMillis;

pub use self::failures::{FactorDelaySettings, FactorFailures, FailureCounted};
pub use self::proof::{
    FactorRefusal, ProofChecker, ProvenFactor, SecondFactorMethod, SecondFactorProof,
};
pub use self::recovery_codes::RecoveryCodes;
pub use self::store::{TotpState, TwoFactorStore};
pub use self::totp::{TotpEnrollment, TotpSecrets};
use super::events::{self, TwoFactorKind};
use super::{Account, AccountLookup, Caller, TwoFactorStatus};

/// Why a two-factor RPC was refused.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    /// All but ConfirmTotp: the caller must prove a password or second factor first.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The caller's account no longer exists.
    #[error("account gone")]
    AccountGone,
    /// EnrollTotp, ConfirmTotp: the authenticator app is on already.
    #[error("totp already enabled")]
    TotpAlreadyEnabled,
    /// ConfirmTotp without EnrollTotp (or after another EnrollTotp meanwhile).
    #[error("totp not enrolled")]
    TotpNotEnrolled,
    /// ConfirmTotp: the code does not match the pending secret.
    #[error("wrong code")]
    WrongCode,
    /// DisableTotp: the authenticator app is off.
    #[error("totp not enabled")]
    TotpNotEnabled,
    /// RegenerateRecoveryCodes: no second factor is on.
    #[error("two-factor authentication not enabled")]
    TwoFactorNotEnabled,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Turns second factors on and off.
#[derive(Debug, Clone)]
pub struct TwoFactor {
    store: Arc<dyn TwoFactorStore>,
    accounts: Arc<dyn AccountLookup>,
    totp: TotpSecrets,
    recovery_codes: RecoveryCodes,
    recent_auth_window: Duration,
}

impl TwoFactor {
    /// Second factors in `store`; changes need a password or second factor proven within
    /// `recent_auth_window`.
    pub fn new(
        store: Arc<dyn TwoFactorStore>,
        accounts: Arc<dyn AccountLookup>,
        totp: TotpSecrets,
        recovery_codes: RecoveryCodes,
        recent_auth_window: Duration,
    ) -> Self {
        Self {
            store,
            accounts,
            totp,
            recovery_codes,
            recent_auth_window,
        }
    }

    /// Starts authenticator-app enrollment: a new pending secret.
    pub async fn enroll_totp(&self, caller: &Caller) -> Result<TotpEnrollment, TwoFactorError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        if account.two_factor.totp {
            return Err(TwoFactorError::TotpAlreadyEnabled);
        }
        let enrollment = self.totp.enroll(caller.mi_id)?;
        self.store
            .set_pending_totp(caller.mi_id, &enrollment.sealed_secret)
            .await?;
        Ok(enrollment)
    }

    /// Confirms enrollment with a first code: the app is on; returns fresh recovery codes.
    pub async fn confirm_totp(
        &self,
        caller: &Caller,
        code: &str,
    ) -> Result<Vec<String>, TwoFactorError> {
        let account = self.caller_account(caller).await?;
        if account.two_factor.totp {
            return Err(TwoFactorError::TotpAlreadyEnabled);
        }
        let pending = self
            .store
            .totp_state(caller.mi_id)
            .await?
            .pending
            .ok_or(TwoFactorError::TotpNotEnrolled)?;
        let now_seconds = u64::try_from(UnixMillis::now().as_i64() / 1000).unwrap_or_default();
        let step = self
            .totp
            .matching_step(caller.mi_id, &pending, code, now_seconds)?
            .ok_or(TwoFactorError::WrongCode)?;
        let (codes, hashes) = self.recovery_codes.generate();
        let enabled = Account {
            two_factor: TwoFactorStatus {
                totp: true,
                ..account.two_factor
            },
            ..account
        };
        let event = events::two_factor_changed(&enabled, TwoFactorKind::Totp, true);
        if !self
            .store
            .confirm_totp(caller.mi_id, &pending, step, &hashes, &[event])
            .await?
        {
            return Err(TwoFactorError::TotpNotEnrolled);
        }
        tracing::info!(mi_id = %caller.mi_id, "authenticator app enabled");
        Ok(codes)
    }

    /// Turns the authenticator app off.
    pub async fn disable_totp(&self, caller: &Caller) -> Result<(), TwoFactorError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        let event = events::two_factor_changed(&account, TwoFactorKind::Totp, false);
        if !self.store.disable_totp(caller.mi_id, &[event]).await? {
            return Err(TwoFactorError::TotpNotEnabled);
        }
        tracing::info!(mi_id = %caller.mi_id, "authenticator app disabled");
        Ok(())
    }

    /// Turns codes to verified contacts on or off as a second factor.
    pub async fn set_code_second_factor(
        &self,
        caller: &Caller,
        enabled: bool,
    ) -> Result<Account, TwoFactorError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        let event = events::two_factor_changed(&account, TwoFactorKind::Code, enabled);
        self.store
            .set_code_second_factor(caller.mi_id, enabled, &[event])
            .await?;
        self.caller_account(caller).await
    }

    /// Replaces the recovery codes with a fresh set.
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Caller,
    ) -> Result<Vec<String>, TwoFactorError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        if !account.two_factor.enabled() {
            return Err(TwoFactorError::TwoFactorNotEnabled);
        }
        let (codes, hashes) = self.recovery_codes.generate();
        self.store
            .replace_recovery_codes(caller.mi_id, &hashes)
            .await?;
        Ok(codes)
    }

    fn require_recent(&self, caller: &Caller) -> Result<(), TwoFactorError> {
        if !caller.authenticated_within(self.recent_auth_window) {
            return Err(TwoFactorError::ReauthenticationRequired);
        }
        Ok(())
    }

    async fn caller_account(&self, caller: &Caller) -> Result<Account, TwoFactorError> {
        self.accounts
            .account(caller.mi_id)
            .await?
            .ok_or(TwoFactorError::AccountGone)
    }
}
