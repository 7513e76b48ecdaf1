//! The one place where this service's domain events become the protobuf payloads it publishes
//! on its topic; `storage/sql.rs` enqueues them in the outbox with their state change.

use mi_platform::clock;
use mi_proto::events::v1 as wire;
use mi_proto::verification::v1 as api;

use crate::domain::{Channel, CodeIssued, Purpose, VerificationApproved, VerificationLocked};

/// `CodeIssued`, carrying the code sealed for the notification service.
pub fn code_issued(event: &CodeIssued) -> wire::CodeIssued {
    wire::CodeIssued {
        verification_id: event.verification_id.clone(),
        destination: event.destination.as_str().to_owned(),
        channel: channel(event.channel).into(),
        purpose: purpose(event.purpose).into(),
        locale: event.locale.clone(),
        sealed_code: event.sealed_code.clone(),
        expire_time: Some(clock::millis_to_timestamp(event.expires_at)),
    }
}

/// `VerificationApproved`.
pub fn verification_approved(event: &VerificationApproved) -> wire::VerificationApproved {
    wire::VerificationApproved {
        verification_id: event.verification_id.clone(),
        destination: event.destination.as_str().to_owned(),
        channel: channel(event.channel).into(),
        purpose: purpose(event.purpose).into(),
    }
}

/// `VerificationLocked`.
pub fn verification_locked(event: &VerificationLocked) -> wire::VerificationLocked {
    wire::VerificationLocked {
        verification_id: event.verification_id.clone(),
        destination: event.destination.as_str().to_owned(),
        attempts: event.attempts,
    }
}

/// The wire value of a channel (shared by the events and the API's answers).
pub fn channel(channel: Channel) -> api::Channel {
    match channel {
        Channel::Sms => api::Channel::Sms,
        Channel::Email => api::Channel::Email,
        Channel::Voice => api::Channel::Voice,
    }
}

/// The wire value of a purpose (shared by the events and the API's answers).
pub fn purpose(purpose: Purpose) -> api::Purpose {
    match purpose {
        Purpose::SignUp => api::Purpose::SignUp,
        Purpose::SignInSecondFactor => api::Purpose::SignInSecondFactor,
        Purpose::PasswordReset => api::Purpose::PasswordReset,
        Purpose::AddRecoveryContact => api::Purpose::AddRecoveryContact,
        Purpose::DeviceAction => api::Purpose::DeviceAction,
    }
}
