//! The one place where this service's domain events become the protobuf payloads it publishes
//! on its topic; `storage/sql.rs` enqueues them in the outbox with their state change.

use mi_proto::contracts::{channel_to_wire, purpose_to_wire};
use mi_proto::events::v1 as wire;

use crate::domain::{CodeIssued, VerificationApproved, VerificationLocked};

/// `CodeIssued`, carrying the code sealed for the notification service.
pub(crate) fn code_issued(event: &CodeIssued) -> wire::CodeIssued {
    wire::CodeIssued {
        verification_id: event.verification_id.clone(),
        destination: event.destination.as_str().to_owned(),
        channel: channel_to_wire(event.channel),
        purpose: purpose_to_wire(event.purpose),
        locale: event.locale.clone(),
        sealed_code: event.sealed_code.clone(),
        expire_time: Some(event.expires_at.to_timestamp()),
    }
}

/// `VerificationApproved`.
pub(crate) fn verification_approved(event: &VerificationApproved) -> wire::VerificationApproved {
    wire::VerificationApproved {
        verification_id: event.verification_id.clone(),
        destination: event.destination.as_str().to_owned(),
        channel: channel_to_wire(event.channel),
        purpose: purpose_to_wire(event.purpose),
    }
}

/// `VerificationLocked`.
pub(crate) fn verification_locked(event: &VerificationLocked) -> wire::VerificationLocked {
    wire::VerificationLocked {
        verification_id: event.verification_id.clone(),
        destination: event.destination.as_str().to_owned(),
        attempts: event.attempts,
    }
}
