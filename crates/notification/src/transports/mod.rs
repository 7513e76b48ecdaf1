//! The ways out the domain's [`ExternalTransport`](crate::domain::ExternalTransport) stands
//! for: SMTP, the HTTP SMS/voice provider and the HTTP push provider, chosen per channel by
//! the settings. (The dev inbox is no transport of its own: the store writes it with the
//! delivery record.)
//!
//! These are adapters to the outside world, like `storage/`; the rule of sending each message
//! once lives in `domain/dispatcher.rs`.

mod endpoint;
mod http;
mod push;
mod smtp;

use std::sync::Arc;

pub(crate) use http::HttpProvider;
pub(crate) use push::PushProvider;
pub(crate) use smtp::SmtpMailer;

use crate::config::{EmailTransport, ProviderTransport, Settings};
use crate::domain::{Transport, Transports};

/// The transports the settings name.
pub(crate) fn from_settings(settings: &Settings) -> anyhow::Result<Transports> {
    let phone = |transport: ProviderTransport| -> anyhow::Result<Transport> {
        Ok(match transport {
            ProviderTransport::DevInbox => Transport::DevInbox,
            ProviderTransport::Http => {
                Transport::External(Arc::new(HttpProvider::new(&settings.http_provider)?))
            }
        })
    };
    Ok(Transports {
        email: match settings.email_transport {
            EmailTransport::DevInbox => Transport::DevInbox,
            EmailTransport::Smtp => Transport::External(Arc::new(SmtpMailer::new(&settings.smtp)?)),
        },
        sms: phone(settings.sms_transport)?,
        voice: phone(settings.voice_transport)?,
        push: match settings.push_transport {
            ProviderTransport::DevInbox => Transport::DevInbox,
            ProviderTransport::Http => {
                Transport::External(Arc::new(PushProvider::new(&settings.push_provider)?))
            }
        },
    })
}
