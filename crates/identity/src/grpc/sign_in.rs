//! SignIn, CompleteSignIn and Reauthenticate on the wire, and [`SignInError`] and
//! [`ReauthenticateError`] as the client sees them.

use std::sync::Arc;

use mi_contracts::Reason;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::identity::v1 as api;
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::caller::Callers;
use super::{convert, limits, status};
use crate::domain::{
    AccountGone, ReauthenticateError, Reauthentication, SignIn, SignInError, SignInRequest,
};
use crate::wire::device_from_wire;

/// The sign-in family's RPCs.
#[derive(Debug)]
pub(super) struct SignInRpcs {
    pub(super) service: SignIn,
    pub(super) callers: Arc<Callers>,
    /// The password policy's maximum.
    pub(super) max_password_chars: usize,
}

impl SignInRpcs {
    pub(super) async fn sign_in(
        &self,
        request: Request<api::SignInRequest>,
    ) -> Result<Response<api::SignInResponse>, Status> {
        limits::sign_in(request.get_ref(), self.max_password_chars).map_err(ServiceError::from)?;
        let client_address = self.callers.client(&request);
        let request = request.into_inner();
        let outcome = self
            .service
            .sign_in(SignInRequest {
                identifier: request.identifier,
                password: SecretString::from(request.password),
                device: device_from_wire(request.device)?,
                client_address,
                captcha_pass: (!request.captcha_pass.is_empty())
                    .then(|| SecretString::from(request.captcha_pass)),
            })
            .await
            .map_err(sign_in_status)?;
        Ok(Response::new(convert::sign_in_response(outcome)))
    }

    pub(super) async fn complete_sign_in(
        &self,
        request: Request<api::CompleteSignInRequest>,
    ) -> Result<Response<api::CompleteSignInResponse>, Status> {
        let request = request.into_inner();
        limits::complete_sign_in(&request).map_err(ServiceError::from)?;
        let proof = convert::proof_from_wire(request.proof)?;
        let outcome = self
            .service
            .complete_sign_in(&request.challenge_id, proof)
            .await
            .map_err(sign_in_status)?;
        Ok(Response::new(convert::complete_sign_in_response(outcome)))
    }

    pub(super) async fn reauthenticate(
        &self,
        request: Request<api::ReauthenticateRequest>,
    ) -> Result<Response<api::ReauthenticateResponse>, Status> {
        limits::reauthenticate(request.get_ref(), self.max_password_chars)
            .map_err(ServiceError::from)?;
        let caller = self.callers.caller(&request).await?;
        let client_address = self.callers.client(&request);
        let proof = match request.into_inner().proof {
            Some(api::reauthenticate_request::Proof::Password(password)) => {
                Reauthentication::Password(SecretString::from(password))
            }
            Some(api::reauthenticate_request::Proof::SecondFactor(proof)) => {
                Reauthentication::SecondFactor(convert::proof_from_wire(Some(proof))?)
            }
            None => {
                return Err(ServiceError::invalid_field(
                    "proof",
                    "give the password or a second factor",
                )
                .into());
            }
        };
        let recent_until = self
            .service
            .reauthenticate(&caller, proof, &client_address)
            .await
            .map_err(reauthenticate_status)?;
        Ok(Response::new(api::ReauthenticateResponse {
            recent_until: Some(recent_until.to_timestamp()),
        }))
    }
}

/// SignIn's and CompleteSignIn's errors.
fn sign_in_status(error: SignInError) -> Status {
    let service_error = match error {
        SignInError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        // A sign-in that raced the account's deletion: the account is gone, as if never there.
        SignInError::Unexpected(error) if error.is::<AccountGone>() => {
            ServiceError::unauthenticated(Reason::InvalidCredentials, "wrong account or password")
        }
        SignInError::InvalidCredentials => {
            ServiceError::unauthenticated(Reason::InvalidCredentials, "wrong account or password")
        }
        SignInError::CaptchaRequired { answered } => ServiceError::failed_precondition(
            Reason::CaptchaRequired,
            "captcha_pass",
            if answered {
                "the CAPTCHA pass is invalid, expired, used or for another identifier; solve a \
                 new CAPTCHA (VerificationService/PassCaptcha)"
            } else {
                "too many failed sign-ins with this identifier: solve a CAPTCHA, get a pass for \
                 the identifier (VerificationService/PassCaptcha) and send it in captcha_pass"
            },
        ),
        SignInError::PasswordDelayed { retry_after } => status::password_delayed(retry_after),
        SignInError::ClientBlocked { retry_after } => ServiceError::rate_limited(
            "client failed sign-ins per hour",
            "too many failed sign-ins from this address; try again later",
            retry_after,
        )
        .with_reason(Reason::ClientBlocked),
        SignInError::ChallengeNotFound => {
            ServiceError::new(ErrorCode::NotFound, "no sign-in challenge has this id")
        }
        SignInError::ChallengeExpired => ServiceError::failed_precondition(
            Reason::ChallengeExpired,
            "challenge_id",
            "this sign-in challenge was answered already or has expired; sign in again",
        ),
        SignInError::ChallengeLocked => ServiceError::failed_precondition(
            Reason::ChallengeLocked,
            "challenge_id",
            "too many wrong answers; sign in again",
        ),
        SignInError::MethodNotAllowed => ServiceError::failed_precondition(
            Reason::MethodNotAllowed,
            "proof",
            "this challenge does not accept that method; use one of its methods",
        ),
        SignInError::TokenInvalid => status::token_invalid(),
        SignInError::TokenUsed => status::token_used(),
        SignInError::SecondFactorDelayed { retry_after } => status::factor_delayed(retry_after),
        SignInError::WrongSecondFactor { remaining_attempts } => ServiceError::unauthenticated(
            Reason::SecondFactorInvalid,
            format!("the code is wrong or was used already; {remaining_attempts} attempts left"),
        )
        .with_metadata("attempts_left", remaining_attempts.to_string()),
        SignInError::ReactivationLocked { owner_contact } => {
            status::reactivation_locked(&owner_contact)
        }
        SignInError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// Reauthenticate's errors.
fn reauthenticate_status(error: ReauthenticateError) -> Status {
    let service_error = match error {
        ReauthenticateError::AccountGone => status::account_gone(),
        ReauthenticateError::WrongPassword => status::wrong_password("password"),
        ReauthenticateError::PasswordDelayed { retry_after } => {
            status::password_delayed(retry_after)
        }
        ReauthenticateError::WrongSecondFactor => {
            ServiceError::invalid_field("second_factor", "is wrong or was used already")
                .with_reason(Reason::SecondFactorInvalid)
        }
        ReauthenticateError::SecondFactorDelayed { retry_after } => {
            status::factor_delayed(retry_after)
        }
        ReauthenticateError::TokenInvalid => status::token_invalid(),
        ReauthenticateError::TokenUsed => status::token_used(),
        ReauthenticateError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

#[cfg(test)]
mod tests {
    use mi_contracts::MiId;

    use super::*;

    /// Found by the gRPC fuzzer (docs/fuzzing.md, finding 5): this was INTERNAL.
    #[test]
    fn a_sign_in_that_raced_the_account_deletion_is_wrong_credentials() {
        let gone = anyhow::Error::from(AccountGone(MiId::new(1_234_567_890).unwrap()))
            .context("while storing the session");
        let status = sign_in_status(SignInError::Unexpected(gone));
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let other = sign_in_status(SignInError::Unexpected(anyhow::anyhow!("disk full")));
        assert_eq!(other.code(), tonic::Code::Internal);
    }
}
