//! The owner's audit trail: one entry per device event, written with the event in the same
//! transaction (`publish.rs`), so the trail and the events never disagree; listed newest first.

use mi_contracts::{MiId, UnixMillis};
use serde::{Deserialize, Serialize};

use super::DeviceRegistry;
use super::events::{Actor, DeviceEvent};

/// One change to an account's devices, and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditEntry {
    /// Unique, chosen by storage.
    pub entry_id: String,
    /// Whose account.
    pub mi_id: MiId,
    /// When the change was recorded.
    pub recorded_at: UnixMillis,
    /// What happened, e.g. `device.removed`.
    pub action: String,
    /// Which device.
    pub device_id: String,
    /// The command it concerns; empty if none.
    pub command_id: String,
    /// `owner`, `device` or `registry`.
    pub actor: String,
    /// The owner's session, when the owner acted; else empty.
    pub session_id: String,
    /// The caller's address, when a caller acted; else empty.
    pub client_address: String,
    /// `ok`, or how a command finished.
    pub result: String,
}

/// A place in an account's trail, newest first, then by entry id. Serialized into page tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditPosition {
    /// The time of the entry at this place.
    pub recorded_at: UnixMillis,
    /// Its id.
    pub entry_id: String,
}

impl AuditEntry {
    /// The entry `event` writes, with the id and time storage gives it.
    pub(crate) fn of(event: &DeviceEvent, entry_id: String, recorded_at: UnixMillis) -> Self {
        let ok = || "ok".to_owned();
        let (mi_id, action, device_id, command_id, actor, result) = match event {
            DeviceEvent::Linked {
                mi_id, info, actor, ..
            } => (mi_id, "device.linked", &info.device_id, None, actor, ok()),
            DeviceEvent::Removed {
                mi_id,
                device_id,
                actor,
                ..
            } => (mi_id, "device.removed", device_id, None, actor, ok()),
            DeviceEvent::FindDeviceChanged {
                mi_id,
                device_id,
                enabled,
                actor,
                ..
            } => {
                let action = if *enabled {
                    "find_device.enabled"
                } else {
                    "find_device.disabled"
                };
                (mi_id, action, device_id, None, actor, ok())
            }
            DeviceEvent::CommandIssued {
                mi_id,
                device_id,
                command_id,
                actor,
                ..
            } => (
                mi_id,
                "command.issued",
                device_id,
                Some(command_id),
                actor,
                ok(),
            ),
            DeviceEvent::CommandCompleted {
                mi_id,
                device_id,
                command_id,
                outcome,
                actor,
                ..
            } => (
                mi_id,
                "command.completed",
                device_id,
                Some(command_id),
                actor,
                outcome.to_string(),
            ),
            DeviceEvent::LostModeChanged {
                mi_id,
                device_id,
                enabled,
                ..
            } => {
                let action = if *enabled {
                    "lost_mode.enabled"
                } else {
                    "lost_mode.disabled"
                };
                // The device confirmed it, acknowledging the owner's command.
                (mi_id, action, device_id, None, &DEVICE, ok())
            }
            DeviceEvent::Erased {
                mi_id, device_id, ..
            } => (mi_id, "device.erased", device_id, None, &DEVICE, ok()),
            DeviceEvent::SyncSettingsChanged {
                mi_id,
                device_id,
                actor,
                ..
            } => (mi_id, "sync_settings.updated", device_id, None, actor, ok()),
        };
        let (actor, session_id, client_address) = match actor {
            Actor::Owner {
                session_id,
                client_address,
            } => ("owner", session_id.as_str(), client_address.as_str()),
            Actor::Device { client_address } => ("device", "", client_address.as_str()),
            Actor::Registry => ("registry", "", ""),
        };
        Self {
            entry_id,
            mi_id: *mi_id,
            recorded_at,
            action: action.to_owned(),
            device_id: device_id.clone(),
            command_id: command_id.cloned().unwrap_or_default(),
            actor: actor.to_owned(),
            session_id: session_id.to_owned(),
            client_address: client_address.to_owned(),
            result,
        }
    }

    /// Where the entry stands in its account's trail, which pages start after.
    pub(crate) fn position(&self) -> AuditPosition {
        AuditPosition {
            recorded_at: self.recorded_at,
            entry_id: self.entry_id.clone(),
        }
    }
}

/// The device acting in events that carry no caller (its acknowledgement is their cause).
const DEVICE: Actor = Actor::Device {
    client_address: String::new(),
};

impl DeviceRegistry {
    /// At most `limit` entries of account `mi_id`'s trail, newest first, after `after`.
    pub(crate) async fn list_audit_entries(
        &self,
        mi_id: MiId,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        self.store.list_audit(mi_id, after, limit).await
    }
}
