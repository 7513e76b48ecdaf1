//! The events this service publishes, built from domain values.

use mi_platform::clock;
use mi_proto::events::v1::{CodeIssued, VerificationApproved, VerificationLocked};
use mi_proto::verification::v1 as api;

use crate::domain::{Channel, Purpose, Verification};

/// `CodeIssued`, carrying the code sealed for the notification service.
pub fn code_issued(verification: &Verification, sealed_code: Vec<u8>) -> CodeIssued {
    CodeIssued {
        verification_id: verification.verification_id.clone(),
        destination: verification.destination.as_str().to_owned(),
        channel: channel(verification.channel).into(),
        purpose: purpose(verification.purpose).into(),
        locale: verification.locale.clone(),
        sealed_code,
        expire_time: Some(clock::millis_to_timestamp(verification.expires_at)),
    }
}

/// `VerificationApproved`.
pub fn verification_approved(verification: &Verification) -> VerificationApproved {
    VerificationApproved {
        verification_id: verification.verification_id.clone(),
        destination: verification.destination.as_str().to_owned(),
        channel: channel(verification.channel).into(),
        purpose: purpose(verification.purpose).into(),
    }
}

/// `VerificationLocked`.
pub fn verification_locked(verification: &Verification) -> VerificationLocked {
    VerificationLocked {
        verification_id: verification.verification_id.clone(),
        destination: verification.destination.as_str().to_owned(),
        attempts: verification.attempts,
    }
}

/// The wire value of a channel (shared by the API and the events).
pub fn channel(channel: Channel) -> api::Channel {
    match channel {
        Channel::Sms => api::Channel::Sms,
        Channel::Email => api::Channel::Email,
        Channel::Voice => api::Channel::Voice,
    }
}

/// The wire value of a purpose (shared by the API and the events).
pub fn purpose(purpose: Purpose) -> api::Purpose {
    match purpose {
        Purpose::SignUp => api::Purpose::SignUp,
        Purpose::SignInSecondFactor => api::Purpose::SignInSecondFactor,
        Purpose::PasswordReset => api::Purpose::PasswordReset,
        Purpose::AddRecoveryContact => api::Purpose::AddRecoveryContact,
        Purpose::DeviceAction => api::Purpose::DeviceAction,
    }
}
