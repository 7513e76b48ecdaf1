//! What the registry records for others: each change's event goes to the outbox in the same
//! transaction (`publish.rs` maps them onto `mi.events.v1`, and writes the account's audit
//! entry from the same event, so the trail and the events never disagree).

use mi_contracts::{DeviceInfo, MiId};

/// Who an alert about an account goes to, as the registry last learned it from identity's
/// events (the registry keeps no other copy of accounts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Audience {
    /// E.164 phone numbers and email addresses.
    pub contacts: Vec<String>,
    /// BCP 47.
    pub locale: String,
}

/// Who made a change, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    /// The owner, through an access token of `session_id`, from `client_address`.
    Owner {
        /// The access token's session.
        session_id: String,
        /// The caller's address as the registry saw it; empty if unknown.
        client_address: String,
    },
    /// The device itself, with its device token, from `client_address`.
    Device {
        /// The caller's address as the registry saw it; empty if unknown.
        client_address: String,
    },
    /// The registry on its own (an expiry, an event from identity).
    Registry,
}

/// How a command finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum CommandOutcome {
    /// The device did it.
    Succeeded,
    /// The device could not.
    Failed,
    /// Not finished before its expiry.
    Expired,
    /// Canceled by the owner, or the device was removed.
    Canceled,
}

/// An event of the device topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceEvent {
    /// A device was linked, or enrolled a new key.
    Linked {
        /// Whose device.
        mi_id: MiId,
        /// Its description, without its credential.
        info: DeviceInfo,
        /// It was not linked before.
        new_device: bool,
        /// Who made the link (the owner's EnrollDevice, or the registry on a SignedIn event).
        actor: Actor,
        /// Who is alerted.
        audience: Audience,
    },
    /// The owner removed a device: its sessions are to end, its reactivation lock goes.
    Removed {
        /// Whose device it was.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// Its name, for the alert.
        device_name: String,
        /// Its hardware id, possibly empty.
        hardware_id: String,
        /// The owner's session and address.
        actor: Actor,
        /// Who is alerted.
        audience: Audience,
    },
    /// Find Device was turned on or off on a device.
    FindDeviceChanged {
        /// Whose device.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// Its name, for the alert.
        device_name: String,
        /// On or off.
        enabled: bool,
        /// The device (on), or the device with the owner's proof (off).
        actor: Actor,
        /// Who is alerted.
        audience: Audience,
    },
    /// The owner issued a command.
    CommandIssued {
        /// Whose device.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// Its name, for the alert.
        device_name: String,
        /// The command.
        command_id: String,
        /// Its action's snake_case name, e.g. `enable_lost_mode`.
        action: &'static str,
        /// The push token to wake the device with, when it has no open channel; else empty.
        push_token: String,
        /// Who issued it.
        actor: Actor,
        /// Who is alerted (empty for actions that alert nobody).
        audience: Audience,
    },
    /// A command finished.
    CommandCompleted {
        /// Whose device.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// Its name, for the alert.
        device_name: String,
        /// The command.
        command_id: String,
        /// Its action's snake_case name.
        action: &'static str,
        /// How.
        outcome: CommandOutcome,
        /// The device (acknowledged), the owner (canceled) or the registry (expired).
        actor: Actor,
        /// Who is alerted (empty for actions that alert nobody).
        audience: Audience,
    },
    /// The device confirmed Lost Mode on or off.
    LostModeChanged {
        /// Whose device.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// Its name, for the alert.
        device_name: String,
        /// On or off.
        enabled: bool,
        /// Who is alerted.
        audience: Audience,
    },
    /// The device acknowledged an erase: its hardware id stays bound to the account.
    Erased {
        /// Whose device.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// Its name, for the alert.
        device_name: String,
        /// Its hardware id, possibly empty.
        hardware_id: String,
        /// Who is alerted.
        audience: Audience,
    },
    /// A device's cloud-sync settings changed.
    SyncSettingsChanged {
        /// Whose device.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// The new version.
        version: u64,
        /// The owner or the device.
        actor: Actor,
    },
}

impl DeviceEvent {
    /// The account the event is about.
    pub(crate) fn mi_id(&self) -> MiId {
        match self {
            Self::Linked { mi_id, .. }
            | Self::Removed { mi_id, .. }
            | Self::FindDeviceChanged { mi_id, .. }
            | Self::CommandIssued { mi_id, .. }
            | Self::CommandCompleted { mi_id, .. }
            | Self::LostModeChanged { mi_id, .. }
            | Self::Erased { mi_id, .. }
            | Self::SyncSettingsChanged { mi_id, .. } => *mi_id,
        }
    }

    /// The event with `audience` as who is alerted (events that alert nobody carry none).
    pub(crate) fn addressed_to(mut self, new_audience: Audience) -> Self {
        match &mut self {
            Self::Linked { audience, .. }
            | Self::Removed { audience, .. }
            | Self::FindDeviceChanged { audience, .. }
            | Self::CommandIssued { audience, .. }
            | Self::CommandCompleted { audience, .. }
            | Self::LostModeChanged { audience, .. }
            | Self::Erased { audience, .. } => *audience = new_audience,
            Self::SyncSettingsChanged { .. } => {}
        }
        self
    }
}
