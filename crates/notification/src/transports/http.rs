//! SMS and voice calls through an HTTP provider.
//!
//! Each message is one `POST` of JSON to the configured URL, with the header
//! `Idempotency-Key` and, when an API key is set, `Authorization: Bearer <key>`:
//!
//! ```json
//! {"idempotency_key": "<key>", "channel": "sms", "destination": "+8613800138000", "text": "..."}
//! {"idempotency_key": "<key>", "channel": "voice", "destination": "+8613800138000", "speech": "..."}
//! ```
//!
//! The key of a code is its event id; an alert, one event sent to several contacts, has
//! `<event id>-<n>` for its n-th contact.
//!
//! Any 2xx answer means accepted. A provider must treat a repeated idempotency key as the same
//! message, so a retry after a lost answer never sends twice.

use async_trait::async_trait;
use mi_contracts::Channel;
use serde_json::json;

use super::endpoint::Endpoint;
use crate::config::HttpProviderSettings;
use crate::domain::{ExternalTransport, OutgoingMessage};

/// The HTTP SMS/voice provider.
#[derive(Debug)]
pub(crate) struct HttpProvider {
    endpoint: Endpoint,
}

impl HttpProvider {
    /// A client for the configured provider.
    pub(crate) fn new(settings: &HttpProviderSettings) -> anyhow::Result<Self> {
        Ok(Self {
            endpoint: Endpoint::new(settings, "notification.http_provider")?,
        })
    }
}

#[async_trait]
impl ExternalTransport for HttpProvider {
    fn name(&self) -> &'static str {
        "http"
    }

    /// Posts one message.
    async fn send(&self, message: &OutgoingMessage, idempotency_key: &str) -> anyhow::Result<()> {
        let body = match message.channel {
            Channel::Voice => json!({
                "idempotency_key": idempotency_key, "channel": "voice",
                "destination": message.destination, "speech": message.body,
            }),
            Channel::Sms | Channel::Email => json!({
                "idempotency_key": idempotency_key, "channel": message.channel.as_str(),
                "destination": message.destination, "text": message.body,
            }),
            Channel::Push => anyhow::bail!("the sms provider carries no pushes"),
        };
        self.endpoint.post(&body, idempotency_key, "sms").await
    }
}
