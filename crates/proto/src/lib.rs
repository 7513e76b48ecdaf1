//! Generated types for the mi-account gRPC APIs and Kafka events.
//!
//! Hand-written code uses these only at the edges: handlers map them onto domain types. The
//! shared enums of `mi.common.v1` convert to and from the typed contracts of `mi_contracts` in
//! one place, [`contracts`].

#![allow(
    missing_docs,
    unused_qualifications,
    missing_debug_implementations,
    clippy::all
)]

/// The encoded `FileDescriptorSet` of every proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mi_descriptor.bin"));

pub mod codec;
pub mod contracts;

pub mod common {
    pub mod v1 {
        tonic::include_proto!("mi.common.v1");
    }
}

pub mod verification {
    pub mod v1 {
        tonic::include_proto!("mi.verification.v1");
    }
}

pub mod notification {
    pub mod v1 {
        tonic::include_proto!("mi.notification.v1");
    }
}

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("mi.identity.v1");
    }
}

pub mod device {
    pub mod v1 {
        tonic::include_proto!("mi.device.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("mi.events.v1");
    }
}

/// Ties an event payload type to its stable name, carried in the envelope and Kafka headers.
pub trait EventPayload: prost::Message + Default {
    /// The full protobuf name, e.g. `mi.events.v1.CodeIssued`.
    const EVENT_TYPE: &'static str;
}

macro_rules! event_payloads {
    ($($name:ident),* $(,)?) => {
        $(impl EventPayload for events::v1::$name {
            const EVENT_TYPE: &'static str = concat!("mi.events.v1.", stringify!($name));
        })*
    };
}

event_payloads!(
    CodeIssued,
    VerificationApproved,
    VerificationLocked,
    NotificationDelivered,
    NotificationFailed,
    AccountCreated,
    SignedIn,
    PasswordFailures,
    SecondFactorFailures,
    SessionRevoked,
    PasswordChanged,
    RecoveryContactAdded,
    RecoveryContactRemoved,
    TwoFactorEnabled,
    TwoFactorDisabled,
    ProfileUpdated,
    LegalDocumentsAccepted,
    AccountSnapshot,
    AccountDeleted,
    DeviceLinked,
    DeviceRemoved,
    FindDeviceEnabled,
    FindDeviceDisabled,
    DeviceCommandIssued,
    DeviceCommandCompleted,
    LostModeChanged,
    DeviceErased,
    SyncSettingsChanged,
);
