//! What delivery needs from storage; `storage/sql.rs` implements it.

use async_trait::async_trait;

use super::{InboxFilter, InboxMessage, MessageDelivered, OutgoingMessage};

/// Where a delivery stands when an event (perhaps again) asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryStart {
    /// Not finished: this is attempt number `attempt` (1 for the first).
    Attempt(u32),
    /// Delivered or given up already: nothing more to do.
    Finished,
}

/// Where a delivery record stands, stored by its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not finished: more attempts may come.
    Pending,
    /// Sent (or put in the dev inbox).
    Delivered,
    /// Given up on after the event failed for good.
    Failed,
}

impl DeliveryStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Records deliveries, one per source event and destination, and keeps the dev inbox.
///
/// The delivery record is also what makes a redelivered event harmless: a message whose record
/// says delivered or failed is never sent again.
#[async_trait]
pub(crate) trait NotificationStore: Send + Sync + std::fmt::Debug {
    /// Creates the delivery record of `message`, or counts another attempt of an unfinished
    /// one. Needed before an external send; a dev-inbox delivery is recorded by `complete` alone.
    async fn start_delivery(
        &self,
        source_event_id: &str,
        message: &OutgoingMessage,
        transport: &str,
    ) -> anyhow::Result<DeliveryStart>;

    /// Notes why the last attempt to reach `destination` failed.
    async fn record_failure(
        &self,
        source_event_id: &str,
        destination: &str,
        error: &str,
    ) -> anyhow::Result<()>;

    /// Records the delivery `delivered` says was made as done (creating the record if needed),
    /// puts `message` in the dev inbox under the event's message id if that is its transport,
    /// and publishes `delivered`, all in one transaction; false if this message was delivered
    /// (or given up on) already.
    async fn complete(
        &self,
        message: &OutgoingMessage,
        delivered: &MessageDelivered,
        to_dev_inbox: bool,
    ) -> anyhow::Result<bool>;

    /// Marks every unfinished delivery of the event failed for good and publishes one
    /// `DeliveryFailed` each; returns how many there were.
    async fn fail(&self, source_event_id: &str, reason: &str) -> anyhow::Result<usize>;

    /// At most `limit` inbox messages that `filter` lets through, oldest first, after
    /// `after_message_id`.
    async fn list_inbox(
        &self,
        filter: &InboxFilter<'_>,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>>;
}
