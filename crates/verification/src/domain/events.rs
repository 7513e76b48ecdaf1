//! What the verification service tells others, as domain values. The store writes each to the
//! outbox with its state change; `publish.rs` is the one place that turns them into protobuf.

use mi_contracts::{Channel, Purpose, UnixMillis};

use super::{Destination, Verification};

/// A code was sent (or resent); notification delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeIssued {
    /// The verification.
    pub verification_id: String,
    /// Where the code goes.
    pub destination: Destination,
    /// How it travels.
    pub channel: Channel,
    /// What it proves, which chooses the message's wording.
    pub purpose: Purpose,
    /// The language of the message.
    pub locale: String,
    /// The code, sealed for the notification service (never the plain digits).
    pub sealed_code: Vec<u8>,
    /// When the code stops being accepted.
    pub expires_at: UnixMillis,
}

impl CodeIssued {
    /// The event of a verification that just got the code sealed in `sealed_code`.
    pub fn new(verification: &Verification, sealed_code: Vec<u8>) -> Self {
        Self {
            verification_id: verification.verification_id.clone(),
            destination: verification.destination.clone(),
            channel: verification.channel,
            purpose: verification.purpose,
            locale: verification.locale.clone(),
            sealed_code,
            expires_at: verification.expires_at,
        }
    }
}

/// The right code was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationApproved {
    /// The verification.
    pub verification_id: String,
    /// The verified destination.
    pub destination: Destination,
    /// How the code travelled.
    pub channel: Channel,
    /// What the verification proves.
    pub purpose: Purpose,
}

impl From<&Verification> for VerificationApproved {
    fn from(verification: &Verification) -> Self {
        Self {
            verification_id: verification.verification_id.clone(),
            destination: verification.destination.clone(),
            channel: verification.channel,
            purpose: verification.purpose,
        }
    }
}

/// Too many wrong codes: the verification accepts none any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationLocked {
    /// The verification.
    pub verification_id: String,
    /// Its destination.
    pub destination: Destination,
    /// Wrong codes counted.
    pub attempts: u32,
}

impl From<&Verification> for VerificationLocked {
    fn from(verification: &Verification) -> Self {
        Self {
            verification_id: verification.verification_id.clone(),
            destination: verification.destination.clone(),
            attempts: verification.attempts,
        }
    }
}
