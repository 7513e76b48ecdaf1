//! Sends a message through its channel's transport, once per source event and destination,
//! however often the event arrives.

use std::sync::Arc;

use mi_platform::metrics::events::delivery as delivery_metric;

use super::{
    DeliveryStart, MessageDelivered, MessageKind, NotificationStore, OutgoingMessage, Transport,
    Transports,
};

/// Delivers messages and keeps their delivery records; codes and alerts both go through it.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    store: Arc<dyn NotificationStore>,
    transports: Transports,
}

impl Dispatcher {
    /// A dispatcher sending through `transports` and recording in `store`.
    pub(crate) fn new(store: Arc<dyn NotificationStore>, transports: Transports) -> Self {
        Self { store, transports }
    }

    /// Delivers `message`, a message of `kind` which `source_event_id` asked for, unless it was
    /// delivered or given up on already. `idempotency_key` names the message to external
    /// providers, so that they recognize a retry after a lost answer; it must be the same on
    /// every attempt and differ between the messages of one event.
    pub(crate) async fn deliver(
        &self,
        source_event_id: &str,
        idempotency_key: &str,
        kind: MessageKind,
        message: &OutgoingMessage,
    ) -> anyhow::Result<()> {
        let transport = self.transports.for_channel(message.channel);
        let channel = message.channel.as_str();
        // An external send needs its record first (attempts, and no second send once done);
        // a dev-inbox delivery is a single transaction in `complete`.
        if let Transport::External(external) = transport {
            let DeliveryStart::Attempt(attempt) = self
                .store
                .start_delivery(source_event_id, message, external.name())
                .await?
            else {
                tracing::info!(
                    source_event_id,
                    channel,
                    "already delivered or given up; not sending again"
                );
                return Ok(());
            };
            if let Err(error) = external.send(message, idempotency_key).await {
                tracing::warn!(
                    source_event_id,
                    channel,
                    attempt,
                    transport = external.name(),
                    error = format!("{error:#}"),
                    "delivery attempt failed"
                );
                self.store
                    .record_failure(source_event_id, &message.destination, &format!("{error:#}"))
                    .await?;
                delivery_metric(channel, external.name(), "failed");
                return Err(error);
            }
        }
        let delivered = MessageDelivered {
            message_id: uuid::Uuid::now_v7().to_string(),
            source_event_id: source_event_id.to_owned(),
            destination: message.destination.clone(),
            transport: transport.name().to_owned(),
            kind,
        };
        let to_dev_inbox = matches!(transport, Transport::DevInbox);
        self.store
            .complete(message, &delivered, to_dev_inbox)
            .await?;
        delivery_metric(channel, transport.name(), "delivered");
        Ok(())
    }

    /// Gives up on every unfinished message of the event, recording why.
    pub(crate) async fn give_up(&self, source_event_id: &str, reason: &str) -> anyhow::Result<()> {
        self.store.fail(source_event_id, reason).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mi_contracts::MiId;

    use super::super::testing::{Fixture, Send};
    use super::super::{AlertAudience, AlertKind, SecurityAlert};

    #[tokio::test]
    async fn a_message_given_up_on_is_reported_with_its_attempts_and_never_sent_again() {
        let fixture = Fixture::with_external_sms();
        let alert = SecurityAlert {
            mi_id: MiId::new(7).expect("Mi ID"),
            kind: AlertKind::TwoFactorEnabled {
                method: "totp".into(),
            },
        };
        let audience = AlertAudience {
            locale: "zh-CN".into(),
            contacts: vec!["+8613800138000".into()],
        };
        for _ in 0..2 {
            fixture.sms.fail_next();
            let attempt = fixture
                .notifier
                .deliver_alert("e1", &alert, &audience)
                .await;
            assert!(attempt.is_err());
        }
        fixture
            .notifier
            .give_up("e1", "too many failures")
            .await
            .expect("given up");
        let failed = fixture.store.failed();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (failed[0].attempts, failed[0].transport.as_str()),
            (2, "fake")
        );

        fixture
            .notifier
            .deliver_alert("e1", &alert, &audience)
            .await
            .expect("nothing to do");
        assert_eq!(
            fixture.sms.sends(),
            [
                Send::failed("+8613800138000", "e1-1"),
                Send::failed("+8613800138000", "e1-1"),
            ]
        );
        assert!(fixture.store.delivered().is_empty());
    }
}
