//! How each operation family's errors reach the client: mapped once, here.

use std::time::Duration;

use mi_platform::{ErrorCode, ServiceError};
use tonic::Status;

use crate::domain::{AccountError, RefreshError, SignInError, SignUpError};

fn token_invalid() -> ServiceError {
    ServiceError::failed_precondition(
        "VERIFICATION_TOKEN_INVALID",
        "verification_token",
        "the verification token is invalid, expired or for another purpose; verify the contact again",
    )
}

fn token_used() -> ServiceError {
    ServiceError::failed_precondition(
        "VERIFICATION_TOKEN_USED",
        "verification_token",
        "this verification token was already used; verify the contact again",
    )
}

fn locked(retry_after: Duration) -> ServiceError {
    ServiceError::rate_limited(
        "account password sign-in",
        format!(
            "too many wrong passwords; try again in {} s or reset the password",
            retry_after.as_secs().max(1)
        ),
        retry_after,
    )
    .with_reason("ACCOUNT_LOCKED")
}

fn weak_password(field: &str, problem: &str) -> ServiceError {
    ServiceError::invalid_field(field, problem).with_reason("PASSWORD_POLICY")
}

/// SignUp's errors.
pub fn sign_up(error: SignUpError) -> Status {
    let service_error = match error {
        SignUpError::InvalidRequest(problems) => problems.into_iter().fold(
            ServiceError::new(ErrorCode::InvalidArgument, "invalid SignUp request"),
            |error, (field, problem)| error.with_field_violation(field, problem),
        ),
        SignUpError::WeakPassword(problem) => weak_password("password", &problem.0),
        SignUpError::TermsNotAccepted => ServiceError::failed_precondition(
            "TERMS_NOT_ACCEPTED",
            "accepted_terms_version",
            "accept the terms of service and the privacy policy to create an account",
        ),
        SignUpError::TokenInvalid => token_invalid(),
        SignUpError::TokenUsed => token_used(),
        SignUpError::AccountExists => ServiceError::new(
            ErrorCode::AlreadyExists,
            "an account already uses this phone number or email; sign in, or reset the password (ResetPassword) if you forgot it",
        )
        .with_reason("ACCOUNT_EXISTS"),
        SignUpError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// SignIn's and CompleteSignIn's errors.
pub fn sign_in(error: SignInError) -> Status {
    let service_error = match error {
        SignInError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        SignInError::InvalidCredentials => {
            ServiceError::unauthenticated("INVALID_CREDENTIALS", "wrong account or password")
        }
        SignInError::AccountLocked { retry_after } => locked(retry_after),
        SignInError::ClientBlocked { retry_after } => ServiceError::rate_limited(
            "client failed sign-ins per hour",
            "too many failed sign-ins from this address; try again later",
            retry_after,
        )
        .with_reason("CLIENT_BLOCKED"),
        SignInError::ChallengeNotFound => {
            ServiceError::new(ErrorCode::NotFound, "no sign-in challenge has this id")
        }
        SignInError::ChallengeExpired => ServiceError::failed_precondition(
            "CHALLENGE_EXPIRED",
            "challenge_id",
            "this sign-in challenge was answered already or has expired; sign in again",
        ),
        SignInError::ChallengeLocked => ServiceError::failed_precondition(
            "CHALLENGE_LOCKED",
            "challenge_id",
            "too many wrong answers; sign in again",
        ),
        SignInError::MethodNotAllowed => ServiceError::failed_precondition(
            "METHOD_NOT_ALLOWED",
            "proof",
            "this challenge does not accept that method; use one of its methods",
        ),
        SignInError::TokenInvalid => token_invalid(),
        SignInError::TokenUsed => token_used(),
        SignInError::WrongSecondFactor { remaining_attempts } => ServiceError::unauthenticated(
            "SECOND_FACTOR_INVALID",
            format!("the code is wrong or was used already; {remaining_attempts} attempts left"),
        ),
        SignInError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// RefreshSession's errors.
pub fn refresh(error: RefreshError) -> Status {
    let service_error = match error {
        RefreshError::Invalid => ServiceError::unauthenticated(
            "REFRESH_TOKEN_INVALID",
            "the refresh token is invalid or expired; sign in again",
        ),
        RefreshError::Reused => ServiceError::unauthenticated(
            "REFRESH_TOKEN_REUSED",
            "this refresh token was already used, so the session was ended; sign in again",
        ),
        RefreshError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}

/// The errors of every authenticated account operation.
pub fn account(error: AccountError) -> Status {
    let precondition = ServiceError::failed_precondition;
    let service_error = match error {
        AccountError::InvalidRequest { field, problem } => {
            ServiceError::invalid_field(field, problem)
        }
        AccountError::SessionRevoked => ServiceError::unauthenticated(
            "SESSION_REVOKED",
            "the session of this access token has ended; sign in again",
        ),
        AccountError::AccountGone => {
            ServiceError::new(ErrorCode::NotFound, "the account no longer exists")
        }
        AccountError::ReauthenticationRequired => precondition(
            "REAUTHENTICATION_REQUIRED",
            "session",
            "confirm your password or second factor first (Reauthenticate)",
        ),
        AccountError::WrongPassword { field } => {
            ServiceError::invalid_field(field, "is wrong").with_reason("WRONG_PASSWORD")
        }
        AccountError::AccountLocked { retry_after } => locked(retry_after),
        AccountError::WrongSecondFactor => {
            ServiceError::invalid_field("second_factor", "is wrong or was used already")
                .with_reason("SECOND_FACTOR_INVALID")
        }
        AccountError::WeakPassword { field, problem } => weak_password(field, &problem.0),
        AccountError::TokenInvalid => token_invalid(),
        AccountError::TokenUsed => token_used(),
        AccountError::ContactInUse => ServiceError::new(
            ErrorCode::AlreadyExists,
            "this phone number or email already belongs to an account",
        )
        .with_reason("CONTACT_IN_USE"),
        AccountError::TooManyContacts => precondition(
            "TOO_MANY_CONTACTS",
            "contacts",
            "the account has the most contacts allowed; remove one first",
        ),
        AccountError::ContactNotFound => {
            ServiceError::new(ErrorCode::NotFound, "the account has no such contact")
        }
        AccountError::PrimaryContact => precondition(
            "PRIMARY_CONTACT",
            "value",
            "the primary contact cannot be removed; make another contact primary first",
        ),
        AccountError::NoAccountForContact => ServiceError::new(
            ErrorCode::NotFound,
            "no account uses this phone number or email",
        ),
        AccountError::SessionNotFound => ServiceError::new(
            ErrorCode::NotFound,
            "the account has no session with this id",
        ),
        AccountError::TotpAlreadyEnabled => precondition(
            "TOTP_ALREADY_ENABLED",
            "totp",
            "an authenticator app is already on; disable it first",
        ),
        AccountError::TotpNotEnrolled => {
            precondition("TOTP_NOT_ENROLLED", "totp", "start with EnrollTotp")
        }
        AccountError::TotpNotEnabled => {
            precondition("TOTP_NOT_ENABLED", "totp", "no authenticator app is on")
        }
        AccountError::TwoFactorNotEnabled => precondition(
            "TWO_FACTOR_NOT_ENABLED",
            "two_factor",
            "turn on two-factor authentication first",
        ),
        AccountError::WrongCode => {
            ServiceError::invalid_field("code", "does not match the authenticator app")
                .with_reason("WRONG_CODE")
        }
        AccountError::Unexpected(error) => ServiceError::internal(&error),
    };
    service_error.into()
}
