//! How each operation's errors reach the client.

use mi_contracts::Reason;
use mi_platform::{ErrorCode, ServiceError};
use tonic::Status;

use mi_platform::send_token::SendTokenRefusal;

use crate::domain::{
    CheckCodeError, CreateCaptchaError, PassCaptchaError, ResendCodeError, SendCodeError,
    SendRefusal, SendTokenProblem,
};

fn refusal(refusal: SendRefusal) -> ServiceError {
    match refusal {
        SendRefusal::CountryNotAllowed(country) => ServiceError::failed_precondition(
            Reason::CountryNotSupported,
            "destination",
            format!("codes are not sent to phone numbers in {country}"),
        ),
        SendRefusal::CaptchaRequired { answered } => {
            if answered {
                wrong_captcha()
            } else {
                ServiceError::failed_precondition(
                    Reason::CaptchaRequired,
                    "captcha",
                    "a solved CAPTCHA is required",
                )
            }
        }
        SendRefusal::RateLimited { limit, retry_after } => ServiceError::rate_limited(
            limit,
            format!("too many codes ({limit}); try again later"),
            retry_after,
        ),
        SendRefusal::Unavailable(error) => unavailable(&error, "cannot send codes right now"),
    }
}

/// A wrong, expired or spent CAPTCHA answer.
fn wrong_captcha() -> ServiceError {
    ServiceError::failed_precondition(
        Reason::CaptchaRequired,
        "captcha",
        "the CAPTCHA answer is wrong or expired; solve a new CAPTCHA",
    )
}

/// The rate limiter, CAPTCHA store or CAPTCHA provider cannot be reached.
fn unavailable(error: &anyhow::Error, what: &str) -> ServiceError {
    tracing::error!(
        error = format!("{error:#}"),
        "rate limiter or captcha store unavailable"
    );
    ServiceError::new(ErrorCode::Unavailable, format!("{what}; try again shortly"))
}

/// PassCaptcha's errors.
pub(super) fn pass_captcha(error: PassCaptchaError) -> Status {
    let service_error = match error {
        PassCaptchaError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        PassCaptchaError::WrongAnswer => wrong_captcha(),
        PassCaptchaError::Unavailable(error) => {
            unavailable(&error, "cannot check CAPTCHAs right now")
        }
        PassCaptchaError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// CreateCaptcha's errors.
pub(super) fn create_captcha(error: CreateCaptchaError) -> Status {
    let service_error = match error {
        CreateCaptchaError::RateLimited { retry_after } => ServiceError::rate_limited(
            "client captchas per hour",
            "too many CAPTCHAs from this client; try again later",
            retry_after,
        ),
        CreateCaptchaError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// SendCode's errors.
pub(super) fn send_code(error: SendCodeError) -> Status {
    let service_error = match error {
        SendCodeError::InvalidRequest(violations) => ServiceError::invalid_fields(violations),
        SendCodeError::SendToken(problem) => send_token(&problem),
        SendCodeError::Refused(refused) => refusal(refused),
        SendCodeError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// A challenge contact's token that does not hold: a bad token or ids are the request's fault
/// (INVALID_ARGUMENT); an expired one is the challenge's state (FAILED_PRECONDITION).
fn send_token(problem: &SendTokenProblem) -> ServiceError {
    match problem.refusal {
        SendTokenRefusal::Invalid => ServiceError::invalid_field(
            problem.field,
            "is not what the send token was issued for, or the token was forged or altered; \
             pass one contact's challenge_id, contact_id and send_token unchanged, with its purpose",
        )
        .with_reason(Reason::SendTokenInvalid),
        SendTokenRefusal::Expired => ServiceError::failed_precondition(
            Reason::SendTokenExpired,
            problem.field,
            "the challenge this contact belongs to has expired; sign in or start the reset again",
        ),
    }
}

/// ResendCode's errors.
pub(super) fn resend_code(error: ResendCodeError) -> Status {
    let service_error = match error {
        ResendCodeError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        ResendCodeError::NotFound => {
            ServiceError::new(ErrorCode::NotFound, "no verification has this id")
        }
        ResendCodeError::AlreadyApproved => already_approved(),
        ResendCodeError::Locked => locked(),
        ResendCodeError::TooManySends => ServiceError::failed_precondition(
            Reason::TooManySends,
            "verification",
            "this verification has sent all its codes; start a new verification",
        ),
        ResendCodeError::Refused(refused) => refusal(refused),
        ResendCodeError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// CheckCode's errors.
pub(super) fn check_code(error: CheckCodeError) -> Status {
    let service_error = match error {
        CheckCodeError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        CheckCodeError::NotFound => {
            ServiceError::new(ErrorCode::NotFound, "no verification has this id")
        }
        CheckCodeError::WrongCode { remaining_attempts } => ServiceError::invalid_field(
            "code",
            format!("does not match; {remaining_attempts} attempts left"),
        )
        .with_reason(Reason::CodeMismatch)
        .with_metadata("attempts_left", remaining_attempts.to_string()),
        CheckCodeError::Expired => ServiceError::failed_precondition(
            Reason::VerificationExpired,
            "verification",
            "the code has expired; request a new one",
        ),
        CheckCodeError::Locked => locked(),
        CheckCodeError::AlreadyApproved => already_approved(),
        CheckCodeError::TooManyChecks { retry_after } => ServiceError::rate_limited(
            "client checks per hour",
            "too many code checks from this client; try again later",
            retry_after,
        ),
        CheckCodeError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

fn locked() -> ServiceError {
    ServiceError::failed_precondition(
        Reason::VerificationLocked,
        "verification",
        "too many wrong codes; start a new verification",
    )
}

fn already_approved() -> ServiceError {
    ServiceError::failed_precondition(
        Reason::VerificationAlreadyApproved,
        "verification",
        "this code was already used",
    )
}
