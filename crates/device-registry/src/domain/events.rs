//! What the registry records for others: each change's event goes to the outbox in the same
//! transaction (`publish.rs` maps them onto `mi.events.v1`).

use mi_contracts::{DeviceInfo, MiId};

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
    },
    /// The owner removed a device: its sessions are to end.
    Removed {
        /// Whose device it was.
        mi_id: MiId,
        /// Which.
        device_id: String,
        /// The session that removed it.
        removed_by_session_id: String,
    },
}
