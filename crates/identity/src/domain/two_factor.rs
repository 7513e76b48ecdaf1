//! Two-factor authentication: the authenticator app, codes to contacts, recovery codes.

use mi_platform::clock;

use super::{Account, AccountError, Accounts, Caller, TotpEnrollment};
use crate::events;

impl Accounts {
    /// Starts authenticator-app enrollment: a new pending secret.
    pub async fn enroll_totp(&self, caller: &Caller) -> Result<TotpEnrollment, AccountError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        if account.two_factor.totp {
            return Err(AccountError::TotpAlreadyEnabled);
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
    ) -> Result<Vec<String>, AccountError> {
        let account = self.caller_account(caller).await?;
        if account.two_factor.totp {
            return Err(AccountError::TotpAlreadyEnabled);
        }
        let pending = self
            .store
            .totp_state(caller.mi_id)
            .await?
            .pending
            .ok_or(AccountError::TotpNotEnrolled)?;
        let now_seconds = u64::try_from(clock::now_millis() / 1000).unwrap_or_default();
        let step = self
            .totp
            .matching_step(caller.mi_id, &pending, code, now_seconds)?
            .ok_or(AccountError::WrongCode)?;
        let (codes, hashes) = self.recovery_codes.generate();
        let enabled = Account {
            two_factor: super::TwoFactor {
                totp: true,
                ..account.two_factor
            },
            ..account
        };
        let event = events::two_factor_changed(&enabled, "totp", true);
        if !self
            .store
            .confirm_totp(caller.mi_id, &pending, step, &hashes, &[event])
            .await?
        {
            return Err(AccountError::TotpNotEnrolled);
        }
        tracing::info!(mi_id = %caller.mi_id, "authenticator app enabled");
        Ok(codes)
    }

    /// Turns the authenticator app off.
    pub async fn disable_totp(&self, caller: &Caller) -> Result<(), AccountError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        let event = events::two_factor_changed(&account, "totp", false);
        if !self.store.disable_totp(caller.mi_id, &[event]).await? {
            return Err(AccountError::TotpNotEnabled);
        }
        tracing::info!(mi_id = %caller.mi_id, "authenticator app disabled");
        Ok(())
    }

    /// Turns codes to verified contacts on or off as a second factor.
    pub async fn set_code_second_factor(
        &self,
        caller: &Caller,
        enabled: bool,
    ) -> Result<Account, AccountError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        let event = events::two_factor_changed(&account, "code", enabled);
        self.store
            .set_code_second_factor(caller.mi_id, enabled, &[event])
            .await?;
        self.caller_account(caller).await
    }

    /// Replaces the recovery codes with a fresh set.
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Caller,
    ) -> Result<Vec<String>, AccountError> {
        self.require_recent(caller)?;
        let account = self.caller_account(caller).await?;
        if !account.two_factor.enabled() {
            return Err(AccountError::TwoFactorNotEnabled);
        }
        let (codes, hashes) = self.recovery_codes.generate();
        self.store
            .replace_recovery_codes(caller.mi_id, &hashes)
            .await?;
        Ok(codes)
    }
}
