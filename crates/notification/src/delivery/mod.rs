//! How messages leave: the dev inbox, SMTP, or the HTTP SMS/voice provider, and the dispatcher
//! that sends each message once.

mod dispatcher;
mod http;
mod smtp;

pub use dispatcher::Dispatcher;
pub use http::HttpProvider;
pub use smtp::SmtpMailer;

use crate::config::{EmailTransport, PhoneTransport, Settings};
use crate::domain::{Channel, OutgoingMessage};

/// One way out.
#[derive(Debug)]
pub enum Transport {
    /// Stored in the dev inbox (in the delivery's own transaction).
    DevInbox,
    /// Sent through an SMTP server.
    Smtp(SmtpMailer),
    /// Sent through the HTTP provider.
    Http(HttpProvider),
}

impl Transport {
    /// The name recorded with each delivery and in `NotificationDelivered`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DevInbox => "dev-inbox",
            Self::Smtp(_) => "smtp",
            Self::Http(_) => "http",
        }
    }

    /// Whether delivering means writing to the dev inbox.
    pub fn is_dev_inbox(&self) -> bool {
        matches!(self, Self::DevInbox)
    }

    /// Hands the message to the outside world. The idempotency key (one per message, stable
    /// across retries) lets the provider drop a repeat of a request it already accepted.
    pub async fn send(
        &self,
        message: &OutgoingMessage,
        idempotency_key: &str,
    ) -> anyhow::Result<()> {
        match self {
            Self::DevInbox => Ok(()),
            Self::Smtp(mailer) => mailer.send(message, idempotency_key).await,
            Self::Http(provider) => provider.send(message, idempotency_key).await,
        }
    }
}

/// The transport of each channel.
#[derive(Debug)]
pub struct Transports {
    email: Transport,
    sms: Transport,
    voice: Transport,
}

impl Transports {
    /// The transports the settings name.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let phone = |transport: PhoneTransport| -> anyhow::Result<Transport> {
            Ok(match transport {
                PhoneTransport::DevInbox => Transport::DevInbox,
                PhoneTransport::Http => {
                    Transport::Http(HttpProvider::new(&settings.http_provider)?)
                }
            })
        };
        Ok(Self {
            email: match settings.email_transport {
                EmailTransport::DevInbox => Transport::DevInbox,
                EmailTransport::Smtp => Transport::Smtp(SmtpMailer::new(&settings.smtp)?),
            },
            sms: phone(settings.sms_transport)?,
            voice: phone(settings.voice_transport)?,
        })
    }

    /// The transport for a channel.
    pub fn for_channel(&self, channel: Channel) -> &Transport {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Voice => &self.voice,
        }
    }
}
