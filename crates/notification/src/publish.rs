//! The one place where this service's domain events become the protobuf payloads it publishes
//! on its topic; `storage/sql.rs` enqueues them in the outbox with the delivery record.

use mi_proto::events::v1::{NotificationDelivered, NotificationFailed};

use crate::domain::{DeliveryFailed, MessageDelivered};

/// `NotificationDelivered`.
pub(crate) fn notification_delivered(event: &MessageDelivered) -> NotificationDelivered {
    NotificationDelivered {
        message_id: event.message_id.clone(),
        source_event_id: event.source_event_id.clone(),
        destination: event.destination.clone(),
        delivery_channel: event.transport.clone(),
    }
}

/// `NotificationFailed`.
pub(crate) fn notification_failed(event: &DeliveryFailed) -> NotificationFailed {
    NotificationFailed {
        source_event_id: event.source_event_id.clone(),
        destination: event.destination.clone(),
        delivery_channel: event.transport.clone(),
        attempts: event.attempts,
        error: event.error.clone(),
    }
}
