//! Messages: what to send for an event, how it is written and how it is delivered once, free
//! of gRPC, SQL and protobuf: the bottom layer.
//!
//! One module per family: `codes` (a verification code to its destination), `alerts` (a
//! security alert to each contact of an account), `wake_ups` (a push that wakes a device for
//! its Find Device commands), `inbox` (reading the dev inbox). Every sending family goes
//! through `dispatcher`, which sends each message once over a `transport`, recording it in the
//! `store` and publishing the `events` of its outcome.

mod alerts;
mod codes;
mod dispatcher;
mod events;
mod inbox;
mod render;
mod store;
#[cfg(test)]
mod testing;
mod transport;
mod wake_ups;

use std::sync::Arc;

use mi_contracts::{Channel, UnixMillis};
use mi_platform::crypto::CodeCipher;

pub(crate) use alerts::{AlertAudience, AlertKind, SecurityAlert};
pub(crate) use codes::IssuedCode;
pub(crate) use dispatcher::Dispatcher;
pub(crate) use events::{DeliveryFailed, MessageDelivered};
pub(crate) use inbox::InboxFilter;
pub(crate) use render::Templates;
pub(crate) use store::{DeliveryStart, DeliveryStatus, NotificationStore};
pub(crate) use transport::{ExternalTransport, Transport, Transports};
pub(crate) use wake_ups::WakeUp;

/// A message ready to deliver.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct OutgoingMessage {
    /// Phone number, email address or push token.
    pub destination: String,
    /// How it is meant to travel.
    pub channel: Channel,
    /// Email subject; SMS messages and pushes have one for the inbox's sake.
    pub subject: String,
    /// The text, which may hold a code or name a contact: never logged. A push's body is the
    /// JSON object of data the device app receives.
    pub body: String,
}

impl std::fmt::Debug for OutgoingMessage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OutgoingMessage")
            .field("channel", &self.channel)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What a message is for, stored by its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum MessageKind {
    /// A one-time verification code.
    Code,
    /// A security alert to an account's contacts.
    SecurityAlert,
    /// A push that wakes a device to fetch its Find Device commands.
    PushWakeUp,
}

impl MessageKind {
    /// The name stored in the database.
    pub(crate) fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A message as delivered to the dev inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InboxMessage {
    /// A UUIDv7; the inbox lists in this order.
    pub message_id: String,
    /// The event that caused it.
    pub source_event_id: String,
    /// What it is; `None` for a message stored before kinds were recorded.
    pub kind: Option<MessageKind>,
    /// The message.
    pub message: OutgoingMessage,
    /// When it was delivered.
    pub created_at: UnixMillis,
}

/// Turns events' requests into messages and delivers them; see [`Notifier::deliver_code`],
/// [`Notifier::deliver_alert`], [`Notifier::wake_device`], [`Notifier::give_up`] and
/// [`Notifier::list_inbox`].
#[derive(Debug)]
pub(crate) struct Notifier {
    store: Arc<dyn NotificationStore>,
    dispatcher: Dispatcher,
    templates: Templates,
    cipher: CodeCipher,
}

impl Notifier {
    /// A notifier writing with `templates`, opening codes with `cipher`, sending through
    /// `transports` and recording in `store`.
    pub(crate) fn new(
        store: Arc<dyn NotificationStore>,
        transports: Transports,
        templates: Templates,
        cipher: CodeCipher,
    ) -> Self {
        Self {
            dispatcher: Dispatcher::new(Arc::clone(&store), transports),
            store,
            templates,
            cipher,
        }
    }

    /// Gives up on every unfinished message of the event, recording why.
    pub(crate) async fn give_up(&self, source_event_id: &str, reason: &str) -> anyhow::Result<()> {
        self.dispatcher.give_up(source_event_id, reason).await
    }
}
