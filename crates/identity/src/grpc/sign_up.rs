//! SignUp on the wire, and [`SignUpError`] as the client sees it.

use std::sync::Arc;

use mi_contracts::Reason;
use mi_platform::{ErrorCode, ServiceError, localized};
use mi_proto::identity::v1 as api;
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{SignUp, SignUpError, SignUpRequest};
use crate::wire::device_from_wire;

/// The sign-up family's RPCs.
#[derive(Debug)]
pub(super) struct SignUpRpcs {
    pub(super) service: SignUp,
    pub(super) callers: Arc<Callers>,
    /// The password policy's maximum.
    pub(super) max_password_chars: usize,
}

impl SignUpRpcs {
    pub(super) async fn sign_up(
        &self,
        request: Request<api::SignUpRequest>,
    ) -> Result<Response<api::SignUpResponse>, Status> {
        limits::sign_up(request.get_ref(), self.max_password_chars).map_err(ServiceError::from)?;
        let client_address = self.callers.client(&request);
        localized::prefer_request_locale(&request, &request.get_ref().locale);
        let request = request.into_inner();
        let tokens = self
            .service
            .sign_up(SignUpRequest {
                verification_token: request.verification_token,
                password: SecretString::from(request.password),
                region: request.region,
                locale: request.locale,
                display_name: request.display_name,
                terms_version: request.accepted_terms_version,
                privacy_policy_version: request.accepted_privacy_policy_version,
                device: device_from_wire(request.device)?,
                client_address,
            })
            .await
            .map_err(sign_up_status)?;
        Ok(Response::new(api::SignUpResponse {
            tokens: Some(convert::tokens(tokens)),
        }))
    }
}

/// SignUp's errors.
fn sign_up_status(error: SignUpError) -> Status {
    let service_error = match error {
        SignUpError::InvalidRequest(problems) => ServiceError::invalid_fields(problems),
        SignUpError::WeakPassword(problem) => status::weak_password("password", &problem.0),
        SignUpError::TermsNotAccepted => status::terms_not_accepted(),
        SignUpError::ConsentOutdated(outdated) => status::consent_outdated(&outdated),
        SignUpError::TokenInvalid => status::token_invalid(),
        SignUpError::TokenUsed => status::token_used(),
        SignUpError::AccountExists => ServiceError::new(
            ErrorCode::AlreadyExists,
            "an account already uses this phone number or email; sign in, or reset its password",
        )
        .with_reason(Reason::AccountExists),
        SignUpError::ReactivationLocked { owner_contact } => {
            status::reactivation_locked(&owner_contact)
        }
        SignUpError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
