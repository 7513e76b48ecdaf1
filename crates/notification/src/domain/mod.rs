//! Messages and how they are written.

mod alert;
mod render;

pub use alert::{AlertKind, SecurityAlert};
pub use render::Templates;

/// The kind of destination a message is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A text message.
    Sms,
    /// An email.
    Email,
    /// A phone call.
    Voice,
}

impl Channel {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Voice => "voice",
        }
    }

    /// The channel that reaches a contact: SMS for a phone number (E.164, so it starts with
    /// `+`), email for anything else.
    pub fn for_contact(contact: &str) -> Self {
        if contact.starts_with('+') {
            Self::Sms
        } else {
            Self::Email
        }
    }

    /// Reads a stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        [Self::Sms, Self::Email, Self::Voice]
            .into_iter()
            .find(|channel| channel.as_str() == stored)
    }
}

/// A message ready to deliver.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Phone number or email address.
    pub destination: String,
    /// How it is meant to travel.
    pub channel: Channel,
    /// Email subject; SMS messages have one for the inbox's sake.
    pub subject: String,
    /// The text, which may hold a code or name a contact: never logged.
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

/// A message as delivered to the dev inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMessage {
    /// A UUIDv7; the inbox lists in this order.
    pub message_id: String,
    /// The event that caused it.
    pub source_event_id: String,
    /// The message.
    pub message: OutgoingMessage,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}
