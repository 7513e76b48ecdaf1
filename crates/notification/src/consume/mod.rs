//! Consumes other services' events (protobuf → domain): verification codes from the
//! verification topic (`codes.rs`), security alerts from the identity topic (`alerts.rs`),
//! push wake-ups and device alerts from the device topic (`devices.rs`).

mod alerts;
mod codes;
mod devices;

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::MiId;
use mi_platform::consumer::EventHandler;
use mi_proto::EventPayload;
use mi_proto::events::v1::{self as wire, EventEnvelope};

use crate::domain::{AlertAudience, AlertKind, Notifier, SecurityAlert};

/// Delivers the code of every `CodeIssued`, the alerts of identity's security events and of
/// the device registry's events, and the device registry's push wake-ups.
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
        if self.deliver_device_notices(event).await? {
            return Ok(());
        }
        self.deliver_alert(event).await
    }

    async fn gave_up(&self, event: &EventEnvelope, reason: &str) -> anyhow::Result<()> {
        // Only events that started a delivery have anything to give up on; others find nothing.
        self.notifier.give_up(&event.event_id, reason).await
    }
}

/// The event's payload, which its type says it is.
fn decode<P: EventPayload>(event: &EventEnvelope) -> anyhow::Result<P> {
    P::decode(event.payload.as_slice()).with_context(|| format!("undecodable {}", P::EVENT_TYPE))
}

/// An alert of `kind` about account `mi_id`, and the audience the event names for it.
fn addressed_alert(
    event: &EventEnvelope,
    mi_id: u64,
    kind: AlertKind,
    audience: Option<wire::AlertAudience>,
) -> anyhow::Result<(SecurityAlert, AlertAudience)> {
    let mi_id =
        MiId::new(mi_id).with_context(|| format!("{} has no valid mi_id", event.event_type))?;
    let wire::AlertAudience { locale, contacts } = audience.unwrap_or_default();
    Ok((
        SecurityAlert { mi_id, kind },
        AlertAudience { locale, contacts },
    ))
}
