//! The rules of verification, free of gRPC and SQL: the bottom layer.
//!
//! One module per operation (`send_code`, `resend_code`, `check_code`), each with its error
//! enum; `guard` holds the checks every send passes; `store` is what the operations need from
//! storage and `events` what they tell others.

mod captcha;
mod check_code;
mod code;
mod destination;
mod events;
mod guard;
mod policy;
mod resend_code;
mod send_code;
mod store;
#[cfg(test)]
mod testing;
mod token;
mod verifier;

pub use captcha::{CaptchaAnswer, Captchas, NewCaptcha};
pub use check_code::{CheckCodeError, CheckedVerification};
pub use code::{CodeHasher, VerificationCode};
pub use destination::Destination;
pub use events::{CodeIssued, VerificationApproved, VerificationLocked};
pub use guard::{ClientAddress, SendRefusal};
pub use policy::{CountrySettings, LimitSettings, Policy};
pub use resend_code::{ResendCodeError, ResendCodeRequest};
pub use send_code::{SendCodeError, SendCodeRequest, SentCode};
pub use store::VerificationStore;
pub use token::VerificationTokens;
pub use verifier::{Verifier, VerifierParts};

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A text message to a mobile number.
    Sms,
    /// An email message.
    Email,
    /// A phone call that reads the code out.
    Voice,
}

impl Channel {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Voice => "voice",
        }
    }

    /// Reads a stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        [Self::Sms, Self::Email, Self::Voice]
            .into_iter()
            .find(|channel| channel.as_str() == stored)
    }

    /// Whether a code sent one way may be resent the other way (SMS and voice reach phones).
    pub fn same_family(self, other: Self) -> bool {
        self.is_phone() == other.is_phone()
    }

    /// Whether the destination is a phone number.
    pub fn is_phone(self) -> bool {
        matches!(self, Self::Sms | Self::Voice)
    }
}

/// What a code proves; a code only serves the purpose it was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Creating an account.
    SignUp,
    /// The second step of signing in.
    SignInSecondFactor,
    /// Resetting a forgotten password.
    PasswordReset,
    /// Adding a recovery phone or email.
    AddRecoveryContact,
    /// Confirming a sensitive device action such as erase.
    DeviceAction,
}

impl Purpose {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignInSecondFactor => "sign_in_second_factor",
            Self::PasswordReset => "password_reset",
            Self::AddRecoveryContact => "add_recovery_contact",
            Self::DeviceAction => "device_action",
        }
    }

    /// Reads a stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        [
            Self::SignUp,
            Self::SignInSecondFactor,
            Self::PasswordReset,
            Self::AddRecoveryContact,
            Self::DeviceAction,
        ]
        .into_iter()
        .find(|purpose| purpose.as_str() == stored)
    }
}

/// Where a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the right code.
    Pending,
    /// The right code was given; it will not be accepted again.
    Approved,
    /// Too many wrong codes.
    Locked,
}

impl Status {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Locked => "locked",
        }
    }

    /// Reads a stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Locked]
            .into_iter()
            .find(|status| status.as_str() == stored)
    }
}

/// A verification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// A UUIDv7.
    pub verification_id: String,
    /// The normalized destination.
    pub destination: Destination,
    /// The channel the code was sent through.
    pub channel: Channel,
    /// What the code proves.
    pub purpose: Purpose,
    /// HMAC of the code, never the code itself.
    pub code_hash: Vec<u8>,
    /// Where it stands.
    pub status: Status,
    /// Codes checked since the last send.
    pub attempts: u32,
    /// Codes sent so far, the first included.
    pub send_count: u32,
    /// The language of its messages.
    pub locale: String,
    /// Milliseconds since the epoch after which no code is accepted.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}
