//! The gRPC face of the verification service: maps the wire onto the domain and back.

use mi_platform::{ServiceError, clock};
use mi_proto::verification::v1 as api;
use mi_proto::verification::v1::verification_service_server::VerificationService;
use tonic::{Request, Response, Status};

use crate::domain::{Channel, CheckCodeError, Purpose, SendCodeError, SendCodeRequest, Verifier};
use crate::events;

/// Serves `mi.verification.v1.VerificationService`.
#[derive(Debug)]
pub struct VerificationHandler {
    verifier: Verifier,
}

impl VerificationHandler {
    /// A handler over a verifier.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

#[tonic::async_trait]
impl VerificationService for VerificationHandler {
    async fn send_code(
        &self,
        request: Request<api::SendCodeRequest>,
    ) -> Result<Response<api::SendCodeResponse>, Status> {
        let request = request.into_inner();
        let sent = self
            .verifier
            .send_code(SendCodeRequest {
                destination: request.destination,
                channel: channel_from_wire(request.channel),
                purpose: purpose_from_wire(request.purpose),
                locale: request.locale,
            })
            .await
            .map_err(send_code_status)?;
        Ok(Response::new(api::SendCodeResponse {
            verification_id: sent.verification_id,
            expire_time: Some(clock::millis_to_timestamp(sent.expires_at)),
            resend_time: Some(clock::millis_to_timestamp(sent.resend_at)),
        }))
    }

    async fn check_code(
        &self,
        request: Request<api::CheckCodeRequest>,
    ) -> Result<Response<api::CheckCodeResponse>, Status> {
        let request = request.into_inner();
        let checked = self
            .verifier
            .check_code(&request.verification_id, &request.code)
            .await
            .map_err(check_code_status)?;
        let verification = checked.verification;
        Ok(Response::new(api::CheckCodeResponse {
            verification_id: verification.verification_id,
            destination: verification.destination.as_str().to_owned(),
            channel: events::channel(verification.channel).into(),
            purpose: events::purpose(verification.purpose).into(),
            approve_time: Some(clock::millis_to_timestamp(checked.approved_at)),
        }))
    }
}

fn channel_from_wire(value: i32) -> Option<Channel> {
    match api::Channel::try_from(value).ok()? {
        api::Channel::Sms => Some(Channel::Sms),
        api::Channel::Email => Some(Channel::Email),
        api::Channel::Unspecified => None,
    }
}

fn purpose_from_wire(value: i32) -> Option<Purpose> {
    match api::Purpose::try_from(value).ok()? {
        api::Purpose::SignUp => Some(Purpose::SignUp),
        api::Purpose::SignInSecondFactor => Some(Purpose::SignInSecondFactor),
        api::Purpose::PasswordReset => Some(Purpose::PasswordReset),
        api::Purpose::AddRecoveryContact => Some(Purpose::AddRecoveryContact),
        api::Purpose::DeviceAction => Some(Purpose::DeviceAction),
        api::Purpose::Unspecified => None,
    }
}

fn send_code_status(error: SendCodeError) -> Status {
    let service_error = match error {
        SendCodeError::InvalidRequest(violations) => violations.into_iter().fold(
            ServiceError::new(
                mi_platform::ErrorCode::InvalidArgument,
                "invalid SendCode request",
            ),
            |error, (field, problem)| error.with_field_violation(field, problem),
        ),
        SendCodeError::TooSoon { retry_after } => ServiceError::rate_limited(
            "destination",
            "a code was sent to this destination recently; wait before asking for another",
            retry_after,
        ),
        SendCodeError::LimiterUnavailable(error) => {
            tracing::error!(error = format!("{error:#}"), "rate limiter unavailable");
            ServiceError::new(
                mi_platform::ErrorCode::Unavailable,
                "cannot send codes right now; try again shortly",
            )
        }
        SendCodeError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

fn check_code_status(error: CheckCodeError) -> Status {
    let service_error = match error {
        CheckCodeError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        CheckCodeError::NotFound => ServiceError::new(
            mi_platform::ErrorCode::NotFound,
            "no verification has this id",
        ),
        CheckCodeError::WrongCode { remaining_attempts } => ServiceError::invalid_field(
            "code",
            format!("does not match; {remaining_attempts} attempts left"),
        )
        .with_reason("CODE_MISMATCH"),
        CheckCodeError::Expired => ServiceError::failed_precondition(
            "VERIFICATION_EXPIRED",
            "verification",
            "the code has expired; request a new one",
        ),
        CheckCodeError::Locked => ServiceError::failed_precondition(
            "VERIFICATION_LOCKED",
            "verification",
            "too many wrong codes; request a new one",
        ),
        CheckCodeError::AlreadyApproved => ServiceError::failed_precondition(
            "VERIFICATION_ALREADY_APPROVED",
            "verification",
            "this code was already used",
        ),
        CheckCodeError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
