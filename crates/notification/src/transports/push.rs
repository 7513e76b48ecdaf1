//! Device wake-ups through a push provider shaped like FCM's HTTP v1 send.
//!
//! Each push is one `POST` of JSON to the configured URL, with the header `Idempotency-Key`
//! (the id of the event that asked for it) and, when an API key is set,
//! `Authorization: Bearer <key>`:
//!
//! ```json
//! {"message": {"token": "<push token>",
//!              "data": {"kind": "wake", "mi_id": "...", "device_id": "...", "command_id": "..."},
//!              "android": {"priority": "high"}}}
//! ```
//!
//! `data` is the message's body as the domain wrote it (`domain/wake_ups.rs`); high priority
//! so that a dozing phone is woken at once. Any 2xx answer means accepted; anything else fails
//! the event, which comes again (the consumer's retries) with the same key.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::Channel;
use serde_json::{Value, json};

use super::endpoint::Endpoint;
use crate::config::HttpProviderSettings;
use crate::domain::{ExternalTransport, OutgoingMessage};

/// The HTTP push provider.
#[derive(Debug)]
pub(crate) struct PushProvider {
    endpoint: Endpoint,
}

impl PushProvider {
    /// A client for the configured provider.
    pub(crate) fn new(settings: &HttpProviderSettings) -> anyhow::Result<Self> {
        Ok(Self {
            endpoint: Endpoint::new(settings, "notification.push_provider")?,
        })
    }
}

#[async_trait]
impl ExternalTransport for PushProvider {
    fn name(&self) -> &'static str {
        "push-http"
    }

    /// Posts one push.
    async fn send(&self, message: &OutgoingMessage, idempotency_key: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            message.channel == Channel::Push,
            "the push provider carries pushes only, not {}",
            message.channel
        );
        let data: Value =
            serde_json::from_str(&message.body).context("a push's body is not its JSON data")?;
        let body = json!({
            "message": {
                "token": message.destination,
                "data": data,
                "android": { "priority": "high" },
            }
        });
        self.endpoint.post(&body, idempotency_key, "push").await
    }
}
