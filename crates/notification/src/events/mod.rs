//! Consumes other services' events and turns them into messages: verification codes from the
//! verification topic (`codes`), security alerts from the identity topic (`alerts`).

mod alerts;
mod codes;

use std::time::SystemTime;

use async_trait::async_trait;
use mi_platform::clock;
use mi_platform::consumer::EventHandler;
use mi_platform::crypto::CodeCipher;
use mi_proto::events::v1::EventEnvelope;

use crate::delivery::Dispatcher;
use crate::domain::Templates;

/// Delivers the code of every `CodeIssued` and the alerts of identity's security events.
#[derive(Debug)]
pub struct NotificationEventsHandler {
    dispatcher: Dispatcher,
    templates: Templates,
    cipher: CodeCipher,
}

impl NotificationEventsHandler {
    /// A handler delivering through `dispatcher`, opening codes with `cipher`.
    pub fn new(dispatcher: Dispatcher, templates: Templates, cipher: CodeCipher) -> Self {
        Self {
            dispatcher,
            templates,
            cipher,
        }
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
        self.dispatcher.give_up(&event.event_id, reason).await
    }
}

/// A protobuf timestamp in milliseconds since the epoch; `None` if unset or out of range.
/// Generic over the timestamp type so that this crate needs no direct `prost-types`.
fn millis<T>(time: Option<T>) -> Option<i64>
where
    SystemTime: TryFrom<T>,
{
    let time = SystemTime::try_from(time?).ok()?;
    Some(clock::to_millis(time))
}
