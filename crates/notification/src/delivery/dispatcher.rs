//! Sends a message through its channel's transport, once per source event and destination,
//! however often the event arrives.

use std::sync::Arc;

use super::Transports;
use crate::domain::OutgoingMessage;
use crate::storage::{DeliveryStart, NotificationStore};

/// Delivers messages and keeps their delivery records; codes and alerts both go through it.
#[derive(Debug)]
pub struct Dispatcher {
    store: Arc<dyn NotificationStore>,
    transports: Transports,
}

impl Dispatcher {
    /// A dispatcher sending through `transports` and recording in `store`.
    pub fn new(store: Arc<dyn NotificationStore>, transports: Transports) -> Self {
        Self { store, transports }
    }

    /// Delivers `message`, which `source_event_id` asked for, unless it was delivered or given
    /// up on already. `idempotency_key` names the message to external providers, so that they
    /// recognize a retry after a lost answer; it must be the same on every attempt and differ
    /// between the messages of one event.
    pub async fn deliver(
        &self,
        source_event_id: &str,
        idempotency_key: &str,
        message: &OutgoingMessage,
    ) -> anyhow::Result<()> {
        let transport = self.transports.for_channel(message.channel);
        let channel = message.channel.as_str();
        // An external send needs its record first (attempts, and no second send once done);
        // a dev-inbox delivery is a single transaction in `complete`.
        if !transport.is_dev_inbox() {
            let DeliveryStart::Attempt(attempt) = self
                .store
                .start_delivery(source_event_id, message, transport.name())
                .await?
            else {
                tracing::info!(
                    source_event_id,
                    channel,
                    "already delivered or given up; not sending again"
                );
                return Ok(());
            };
            if let Err(error) = transport.send(message, idempotency_key).await {
                tracing::warn!(
                    source_event_id,
                    channel,
                    attempt,
                    transport = transport.name(),
                    error = format!("{error:#}"),
                    "delivery attempt failed"
                );
                self.store
                    .record_failure(source_event_id, &message.destination, &format!("{error:#}"))
                    .await?;
                return Err(error);
            }
        }
        self.store
            .complete(
                source_event_id,
                message,
                transport.name(),
                transport.is_dev_inbox(),
            )
            .await?;
        Ok(())
    }

    /// Gives up on every unfinished message of the event, recording why.
    pub async fn give_up(&self, source_event_id: &str, reason: &str) -> anyhow::Result<()> {
        self.store.fail(source_event_id, reason).await?;
        Ok(())
    }
}
