//! StartPasswordReset, ResetPassword and ChangePassword on the wire, and [`StartResetError`]
//! and [`PasswordError`] as the client sees them.

use std::sync::Arc;

use mi_platform::client::limit_key;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::identity::v1 as api;
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{PasswordError, Passwords, StartResetError};

/// The passwords family's RPCs.
#[derive(Debug)]
pub(super) struct PasswordRpcs {
    pub(super) service: Passwords,
    pub(super) callers: Arc<Callers>,
    /// The password policy's maximum.
    pub(super) max_password_chars: usize,
}

impl PasswordRpcs {
    pub(super) async fn start_password_reset(
        &self,
        request: Request<api::StartPasswordResetRequest>,
    ) -> Result<Response<api::StartPasswordResetResponse>, Status> {
        limits::start_password_reset(request.get_ref()).map_err(ServiceError::from)?;
        let client_address = self.callers.client(&request);
        let request = request.into_inner();
        let started = self
            .service
            .start_reset(&request.identifier, &client_address)
            .await
            .map_err(start_reset_status)?;
        Ok(Response::new(api::StartPasswordResetResponse {
            challenge_id: started.challenge_id,
            expire_time: Some(started.expires_at.to_timestamp()),
            contacts: convert::masked_contacts(started.contacts),
        }))
    }

    pub(super) async fn reset_password(
        &self,
        request: Request<api::ResetPasswordRequest>,
    ) -> Result<Response<api::ResetPasswordResponse>, Status> {
        let request = request.into_inner();
        limits::reset_password(&request, self.max_password_chars).map_err(ServiceError::from)?;
        let mi_id = self
            .service
            .reset_password(
                &request.verification_token,
                &SecretString::from(request.new_password),
            )
            .await
            .map_err(password_status)?;
        Ok(Response::new(api::ResetPasswordResponse {
            mi_id: mi_id.get(),
        }))
    }

    pub(super) async fn change_password(
        &self,
        request: Request<api::ChangePasswordRequest>,
    ) -> Result<Response<api::ChangePasswordResponse>, Status> {
        limits::change_password(request.get_ref(), self.max_password_chars)
            .map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        // The address only counts failures here, so it goes in as the key they are counted by.
        let client_key = limit_key(&self.callers.client(&request));
        let request = request.into_inner();
        let sessions_revoked = self
            .service
            .change_password(
                &caller,
                &SecretString::from(request.current_password),
                &SecretString::from(request.new_password),
                &client_key,
            )
            .await
            .map_err(password_status)?;
        Ok(Response::new(api::ChangePasswordResponse {
            sessions_revoked,
        }))
    }
}

/// StartPasswordReset's errors.
fn start_reset_status(error: StartResetError) -> Status {
    let service_error = match error {
        StartResetError::InvalidIdentifier(problem) => {
            ServiceError::invalid_field("identifier", problem)
        }
        StartResetError::RateLimited { retry_after } => ServiceError::rate_limited(
            "client password resets started per hour",
            "too many password resets started from this address; try again later",
            retry_after,
        ),
        StartResetError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// The passwords family's errors.
fn password_status(error: PasswordError) -> Status {
    let service_error = match error {
        PasswordError::TokenInvalid => status::token_invalid(),
        PasswordError::TokenUsed => status::token_used(),
        PasswordError::NoAccountForContact => ServiceError::new(
            ErrorCode::NotFound,
            "no account uses this phone number or email",
        ),
        PasswordError::AccountGone => status::account_gone(),
        PasswordError::PasswordDelayed { retry_after } => status::password_delayed(retry_after),
        PasswordError::WrongPassword => status::wrong_password("current_password"),
        PasswordError::WeakPassword(problem) => status::weak_password("new_password", &problem.0),
        PasswordError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
