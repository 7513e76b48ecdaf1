//! EnrollTotp, ConfirmTotp, DisableTotp, SetCodeSecondFactor and RegenerateRecoveryCodes on the
//! wire, and [`TwoFactorError`] as the client sees it.

use std::sync::Arc;

use mi_contracts::Reason;
use mi_platform::ServiceError;
use mi_proto::identity::v1 as api;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{TwoFactor, TwoFactorError};

/// The two-factor family's RPCs.
#[derive(Debug)]
pub(super) struct TwoFactorRpcs {
    pub(super) service: TwoFactor,
    pub(super) callers: Arc<Callers>,
}

impl TwoFactorRpcs {
    pub(super) async fn enroll_totp(
        &self,
        request: Request<api::EnrollTotpRequest>,
    ) -> Result<Response<api::EnrollTotpResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        let enrollment = self
            .service
            .enroll_totp(&caller)
            .await
            .map_err(two_factor_status)?;
        Ok(Response::new(api::EnrollTotpResponse {
            secret: enrollment.secret_base32,
            otpauth_uri: enrollment.otpauth_uri,
            qr_code_png: enrollment.qr_png,
        }))
    }

    pub(super) async fn confirm_totp(
        &self,
        request: Request<api::ConfirmTotpRequest>,
    ) -> Result<Response<api::ConfirmTotpResponse>, Status> {
        limits::confirm_totp(request.get_ref()).map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        let recovery_codes = self
            .service
            .confirm_totp(&caller, &request.into_inner().code)
            .await
            .map_err(two_factor_status)?;
        Ok(Response::new(api::ConfirmTotpResponse { recovery_codes }))
    }

    pub(super) async fn disable_totp(
        &self,
        request: Request<api::DisableTotpRequest>,
    ) -> Result<Response<api::DisableTotpResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        self.service
            .disable_totp(&caller)
            .await
            .map_err(two_factor_status)?;
        Ok(Response::new(api::DisableTotpResponse {}))
    }

    pub(super) async fn set_code_second_factor(
        &self,
        request: Request<api::SetCodeSecondFactorRequest>,
    ) -> Result<Response<api::SetCodeSecondFactorResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        let account = self
            .service
            .set_code_second_factor(&caller, request.into_inner().enabled)
            .await
            .map_err(two_factor_status)?;
        Ok(Response::new(api::SetCodeSecondFactorResponse {
            account: Some(convert::account(account)),
        }))
    }

    pub(super) async fn regenerate_recovery_codes(
        &self,
        request: Request<api::RegenerateRecoveryCodesRequest>,
    ) -> Result<Response<api::RegenerateRecoveryCodesResponse>, Status> {
        let caller = self.callers.caller(&request).await?;
        let recovery_codes = self
            .service
            .regenerate_recovery_codes(&caller)
            .await
            .map_err(two_factor_status)?;
        Ok(Response::new(api::RegenerateRecoveryCodesResponse {
            recovery_codes,
        }))
    }
}

/// The two-factor family's errors.
fn two_factor_status(error: TwoFactorError) -> Status {
    let precondition = ServiceError::failed_precondition;
    let service_error = match error {
        TwoFactorError::ReauthenticationRequired => status::reauthentication_required(),
        TwoFactorError::AccountGone => status::account_gone(),
        TwoFactorError::TotpAlreadyEnabled => precondition(
            Reason::TotpAlreadyEnabled,
            "totp",
            "an authenticator app is already on; disable it first",
        ),
        TwoFactorError::TotpNotEnrolled => precondition(
            Reason::TotpNotEnrolled,
            "totp",
            "TOTP enrollment was not started",
        ),
        TwoFactorError::WrongCode => {
            ServiceError::invalid_field("code", "does not match the authenticator app")
                .with_reason(Reason::WrongCode)
        }
        TwoFactorError::TotpNotEnabled => {
            precondition(Reason::TotpNotEnabled, "totp", "no authenticator app is on")
        }
        TwoFactorError::TwoFactorNotEnabled => precondition(
            Reason::TwoFactorNotEnabled,
            "two_factor",
            "turn on two-factor authentication first",
        ),
        TwoFactorError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
