//! The rules of verification, free of gRPC and SQL: the bottom layer.
//!
//! One module per operation (`send_code`, `resend_code`, `check_code`, `create_captcha`,
//! `pass_captcha`),
//! each with its error enum; `guard` holds the checks every send passes; `captcha` the
//! challenges and the third-party [`CaptchaProvider`]; `challenge_contact` a send to a contact
//! identity showed masked; `store` is what the operations need
//! from storage and `events` what they tell others.

mod captcha;
mod challenge_contact;
mod check_code;
mod code;
mod create_captcha;
mod destination;
mod events;
mod guard;
mod pass_captcha;
mod policy;
mod resend_code;
mod send_code;
mod store;
#[cfg(test)]
mod testing;
mod token;
mod verifier;

pub use captcha::{CaptchaAnswer, CaptchaProvider, Captchas, NewCaptcha, TEST_ANSWER};
pub use challenge_contact::{ChallengeContact, SendTarget, SendTokenProblem};
pub use check_code::{CheckCodeError, CheckedVerification};
pub use code::{CodeHasher, VerificationCode};
pub use create_captcha::CreateCaptchaError;
pub use destination::Destination;
pub use events::{CodeIssued, VerificationApproved, VerificationLocked};
pub use guard::{ClientAddress, SendRefusal};
pub use pass_captcha::{CaptchaPass, PassCaptchaError};
pub use policy::{CountrySettings, LimitSettings, Policy};
pub use resend_code::{ResendCodeError, ResendCodeRequest};
pub use send_code::{SendCodeError, SendCodeRequest, SentCode};
pub use store::VerificationStore;
pub use token::VerificationTokens;
pub use verifier::{Verifier, VerifierParts};

use mi_contracts::{Channel, Purpose, UnixMillis};

/// Where a verification stands, stored by its snake_case name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
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
        self.into()
    }
}

/// A verification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// A UUIDv7.
    pub verification_id: String,
    /// The normalized destination.
    pub destination: Destination,
    /// The client named a challenge contact and knows the destination only masked: CheckCode
    /// shows it masked too.
    pub destination_hidden: bool,
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
    /// When the code stops being accepted.
    pub expires_at: UnixMillis,
    /// When the first code was sent.
    pub created_at: UnixMillis,
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn statuses_keep_their_stored_names() {
        for (status, stored) in [
            (Status::Pending, "pending"),
            (Status::Approved, "approved"),
            (Status::Locked, "locked"),
        ] {
            assert_eq!(status.as_str(), stored);
            assert_eq!(stored.parse::<Status>(), Ok(status));
        }
        assert!("expired".parse::<Status>().is_err());
    }
}
