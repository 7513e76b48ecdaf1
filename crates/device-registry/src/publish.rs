//! The one place the registry's domain events become `mi.events.v1` payloads, enqueued in the
//! caller's transaction, and entries of the owner's audit trail, written in the same one.

use mi_contracts::UnixMillis;
use mi_platform::outbox::Outbox;
use mi_proto::contracts::device_to_wire;
use mi_proto::events::v1 as events;
use sqlx::AnyConnection;

use crate::domain::AuditEntry;
use crate::domain::events::{Audience, DeviceEvent};
use crate::storage::audit;

/// Adds `event` to the outbox inside the caller's transaction, keyed `<mi_id>/<device_id>` so
/// one device's events stay in order, and writes its audit entry.
pub(crate) async fn enqueue(
    outbox: &Outbox,
    connection: &mut AnyConnection,
    event: &DeviceEvent,
) -> anyhow::Result<()> {
    enqueue_payload(outbox, connection, event).await?;
    // A v7 UUID sorts by time, so entries of one millisecond still list in order.
    let entry = AuditEntry::of(event, uuid::Uuid::now_v7().to_string(), UnixMillis::now());
    audit::insert(connection, &entry).await
}

async fn enqueue_payload(
    outbox: &Outbox,
    connection: &mut AnyConnection,
    event: &DeviceEvent,
) -> anyhow::Result<()> {
    match event {
        DeviceEvent::Linked {
            mi_id,
            info,
            new_device,
            actor: _,
            audience,
        } => {
            let payload = events::DeviceLinked {
                mi_id: mi_id.get(),
                device: Some(device_to_wire(&info.without_credential())),
                new_device: *new_device,
                audience: Some(audience_to_wire(audience)),
            };
            let key = format!("{mi_id}/{}", info.device_id);
            outbox.enqueue(connection, &key, &payload).await?;
        }
        DeviceEvent::Removed {
            mi_id,
            device_id,
            device_name,
            hardware_id,
            actor,
            audience,
        } => {
            let payload = events::DeviceRemoved {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                removed_by_session_id: match actor {
                    crate::domain::events::Actor::Owner { session_id, .. } => session_id.clone(),
                    _ => String::new(),
                },
                hardware_id: hardware_id.clone(),
                audience: Some(audience_to_wire(audience)),
                device_name: device_name.clone(),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
        DeviceEvent::FindDeviceChanged {
            mi_id,
            device_id,
            device_name,
            enabled,
            actor: _,
            audience,
        } => {
            let key = format!("{mi_id}/{device_id}");
            if *enabled {
                let payload = events::FindDeviceEnabled {
                    mi_id: mi_id.get(),
                    device_id: device_id.clone(),
                    device_name: device_name.clone(),
                    audience: Some(audience_to_wire(audience)),
                };
                outbox.enqueue(connection, &key, &payload).await?;
            } else {
                let payload = events::FindDeviceDisabled {
                    mi_id: mi_id.get(),
                    device_id: device_id.clone(),
                    device_name: device_name.clone(),
                    audience: Some(audience_to_wire(audience)),
                };
                outbox.enqueue(connection, &key, &payload).await?;
            }
        }
        DeviceEvent::CommandIssued {
            mi_id,
            device_id,
            device_name,
            command_id,
            action,
            push_token,
            actor,
            audience,
        } => {
            let payload = events::DeviceCommandIssued {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                device_name: device_name.clone(),
                command_id: command_id.clone(),
                action: (*action).to_owned(),
                push_token: push_token.clone(),
                session_id: match actor {
                    crate::domain::events::Actor::Owner { session_id, .. } => session_id.clone(),
                    _ => String::new(),
                },
                audience: Some(audience_to_wire(audience)),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
        DeviceEvent::CommandCompleted {
            mi_id,
            device_id,
            device_name,
            command_id,
            action,
            outcome,
            actor: _,
            audience,
        } => {
            let payload = events::DeviceCommandCompleted {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                device_name: device_name.clone(),
                command_id: command_id.clone(),
                action: (*action).to_owned(),
                outcome: outcome.to_string(),
                audience: Some(audience_to_wire(audience)),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
        DeviceEvent::LostModeChanged {
            mi_id,
            device_id,
            device_name,
            enabled,
            audience,
        } => {
            let payload = events::LostModeChanged {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                device_name: device_name.clone(),
                enabled: *enabled,
                audience: Some(audience_to_wire(audience)),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
        DeviceEvent::Erased {
            mi_id,
            device_id,
            device_name,
            hardware_id,
            audience,
        } => {
            let payload = events::DeviceErased {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                device_name: device_name.clone(),
                hardware_id: hardware_id.clone(),
                audience: Some(audience_to_wire(audience)),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
        DeviceEvent::SyncSettingsChanged {
            mi_id,
            device_id,
            version,
            actor,
        } => {
            let payload = events::SyncSettingsChanged {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                version: *version,
                updated_by: match actor {
                    crate::domain::events::Actor::Device { .. } => "device",
                    _ => "owner",
                }
                .to_owned(),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
    }
    Ok(())
}

fn audience_to_wire(audience: &Audience) -> events::AlertAudience {
    events::AlertAudience {
        contacts: audience.contacts.clone(),
        locale: audience.locale.clone(),
    }
}
