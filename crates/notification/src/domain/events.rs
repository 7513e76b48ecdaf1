//! What the notification service tells others, as domain values. The store publishes each
//! with its delivery record; `publish.rs` is the one place that turns them into protobuf.

use super::MessageKind;

/// A message left through its transport (or reached the dev inbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageDelivered {
    /// A UUIDv7 naming the message; the dev inbox lists by it.
    pub message_id: String,
    /// The event that asked for the message.
    pub source_event_id: String,
    /// Where it went.
    pub destination: String,
    /// The transport's name, e.g. `smtp`.
    pub transport: String,
    /// What was delivered (kept in the dev inbox; not part of the published event).
    pub kind: MessageKind,
}

/// A message was given up on after its event failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeliveryFailed {
    /// The event that asked for the message.
    pub source_event_id: String,
    /// Where it was to go.
    pub destination: String,
    /// The transport's name.
    pub transport: String,
    /// Sends tried.
    pub attempts: u32,
    /// Why the event was given up on.
    pub error: String,
}
