//! Why SignIn or CompleteSignIn was refused.

use std::time::Duration;

use crate::domain::NotChecked;

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// A field is malformed.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Unknown identifier or wrong password: deliberately the same.
    #[error("wrong account or password")]
    InvalidCredentials,
    /// The identifier failed too often: a CAPTCHA pass for it is needed first (the same for
    /// an identifier that names no account).
    #[error("captcha required")]
    CaptchaRequired {
        /// Whether a pass was sent (and was invalid, expired, spent or for another identifier).
        answered: bool,
    },
    /// The identifier failed very often: no password is checked until the wait is over.
    #[error("password delayed")]
    PasswordDelayed {
        /// When to try again.
        retry_after: Duration,
    },
    /// Too many failures from this client address.
    #[error("client blocked")]
    ClientBlocked {
        /// When to try again.
        retry_after: Duration,
    },
    /// No challenge has this id.
    #[error("challenge not found")]
    ChallengeNotFound,
    /// The challenge was answered already or its time is up.
    #[error("challenge expired")]
    ChallengeExpired,
    /// Too many wrong answers.
    #[error("challenge locked")]
    ChallengeLocked,
    /// The challenge does not offer this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The verification token is invalid, expired or for another purpose.
    #[error("verification token invalid")]
    TokenInvalid,
    /// The verification token was used before.
    #[error("verification token used")]
    TokenUsed,
    /// Too many wrong second-factor proofs for the account: none is checked until the wait
    /// is over.
    #[error("second factor delayed")]
    SecondFactorDelayed {
        /// When to try again.
        retry_after: Duration,
    },
    /// The second factor is wrong.
    #[error("wrong second factor")]
    WrongSecondFactor {
        /// Answers left before the challenge locks.
        remaining_attempts: u32,
    },
    /// The device's hardware is locked to another account after an erase.
    #[error("reactivation locked")]
    ReactivationLocked {
        /// That account's masked primary contact.
        owner_contact: String,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<NotChecked> for SignInError {
    fn from(refusal: NotChecked) -> Self {
        match refusal {
            NotChecked::CaptchaRequired { answered } => Self::CaptchaRequired { answered },
            NotChecked::Delayed { retry_after } => Self::PasswordDelayed { retry_after },
            NotChecked::ClientBlocked { retry_after } => Self::ClientBlocked { retry_after },
            NotChecked::Unexpected(error) => Self::Unexpected(error),
        }
    }
}
