//! The rules of verification, free of gRPC and SQL.

mod check_code;
mod code;
mod destination;
mod send_code;
mod verifier;

pub use check_code::{CheckCodeError, CheckedVerification};
pub use code::{CodeHasher, VerificationCode};
pub use destination::Destination;
pub use send_code::{SendCodeError, SendCodeRequest, SentCode};
pub use verifier::Verifier;

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A text message to a mobile number.
    Sms,
    /// An email message.
    Email,
}

impl Channel {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    /// Reads a stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "sms" => Some(Self::Sms),
            "email" => Some(Self::Email),
            _ => None,
        }
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
    /// Codes checked so far.
    pub attempts: u32,
    /// Milliseconds since the epoch after which no code is accepted.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}
