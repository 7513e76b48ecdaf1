//! How messages leave, as the domain sees it: through the dev inbox (a table, written with
//! the delivery record) or through an external transport that `transports/` provides.

use std::sync::Arc;

use async_trait::async_trait;

use mi_contracts::Channel;

use super::OutgoingMessage;

/// A way out to the world: SMTP, the HTTP SMS/voice provider or the HTTP push provider.
#[async_trait]
pub(crate) trait ExternalTransport: Send + Sync + std::fmt::Debug {
    /// The name recorded with each delivery and in `NotificationDelivered`.
    fn name(&self) -> &'static str;

    /// Hands the message to the outside world. The idempotency key (one per message, stable
    /// across retries) lets the provider drop a repeat of a request it already accepted.
    async fn send(&self, message: &OutgoingMessage, idempotency_key: &str) -> anyhow::Result<()>;
}

/// How one channel's messages leave.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    /// Stored in the dev inbox (in the delivery's own transaction).
    DevInbox,
    /// Sent through an external transport.
    External(Arc<dyn ExternalTransport>),
}

impl Transport {
    /// The name recorded with each delivery and in `NotificationDelivered`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::DevInbox => "dev-inbox",
            Self::External(transport) => transport.name(),
        }
    }
}

/// The transport of each channel.
#[derive(Debug, Clone)]
pub(crate) struct Transports {
    /// For email.
    pub email: Transport,
    /// For SMS.
    pub sms: Transport,
    /// For voice calls.
    pub voice: Transport,
    /// For device pushes.
    pub push: Transport,
}

impl Transports {
    /// The transport for a channel.
    pub(crate) fn for_channel(&self, channel: Channel) -> &Transport {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Voice => &self.voice,
            Channel::Push => &self.push,
        }
    }
}
