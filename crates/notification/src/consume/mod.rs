//! Consumes other services' events (protobuf → domain): verification codes from the
//! verification topic (`codes.rs`), security alerts from the identity topic (`alerts.rs`).

mod alerts;
mod codes;

use std::sync::Arc;

use async_trait::async_trait;
use mi_platform::consumer::EventHandler;
use mi_proto::events::v1::EventEnvelope;

use crate::domain::Notifier;

/// Delivers the code of every `CodeIssued` and the alerts of identity's security events.
#[derive(Debug)]
pub(crate) struct NotificationEventsHandler {
    notifier: Arc<Notifier>,
}

impl NotificationEventsHandler {
    /// A handler delivering through `notifier`.
    pub(crate) fn new(notifier: Arc<Notifier>) -> Self {
        Self { notifier }
    }
}

#[async_trait]
impl EventHandler for NotificationEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        if self.deliver_code(event).await? {
            return Ok(());
        }
        self.deliver_alert(event).await
    }

    async fn gave_up(&self, event: &EventEnvelope, reason: &str) -> anyhow::Result<()> {
        // Only events that started a delivery have anything to give up on; others find nothing.
        self.notifier.give_up(&event.event_id, reason).await
    }
}
