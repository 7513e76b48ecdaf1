//! The one place the registry's domain events become `mi.events.v1` payloads, enqueued in the
//! caller's transaction.

use mi_platform::outbox::Outbox;
use mi_proto::contracts::device_to_wire;
use mi_proto::events::v1 as events;
use sqlx::AnyConnection;

use crate::domain::events::DeviceEvent;

/// Adds `event` to the outbox inside the caller's transaction, keyed `<mi_id>/<device_id>` so
/// one device's events stay in order.
pub(crate) async fn enqueue(
    outbox: &Outbox,
    connection: &mut AnyConnection,
    event: &DeviceEvent,
) -> anyhow::Result<()> {
    match event {
        DeviceEvent::Linked {
            mi_id,
            info,
            new_device,
        } => {
            let payload = events::DeviceLinked {
                mi_id: mi_id.get(),
                device: Some(device_to_wire(&info.without_credential())),
                new_device: *new_device,
            };
            let key = format!("{mi_id}/{}", info.device_id);
            outbox.enqueue(connection, &key, &payload).await?;
        }
        DeviceEvent::Removed {
            mi_id,
            device_id,
            removed_by_session_id,
        } => {
            let payload = events::DeviceRemoved {
                mi_id: mi_id.get(),
                device_id: device_id.clone(),
                removed_by_session_id: removed_by_session_id.clone(),
            };
            outbox
                .enqueue(connection, &format!("{mi_id}/{device_id}"), &payload)
                .await?;
        }
    }
    Ok(())
}
