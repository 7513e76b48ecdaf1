//! Consumes other services' events and turns them into messages.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use mi_platform::consumer::EventHandler;
use mi_platform::crypto::CodeCipher;
use mi_platform::{clock, events};
use mi_proto::events::v1::{CodeIssued, EventEnvelope};
use mi_proto::verification::v1 as verification_api;

use crate::domain::{self, Channel};
use crate::storage::Inbox;

/// Delivers the code of every `CodeIssued` on the verification topic.
#[derive(Debug)]
pub struct VerificationEventsHandler {
    inbox: Arc<dyn Inbox>,
    cipher: CodeCipher,
}

impl VerificationEventsHandler {
    /// A handler delivering to `inbox`, opening codes with `cipher`.
    pub fn new(inbox: Arc<dyn Inbox>, cipher: CodeCipher) -> Self {
        Self { inbox, cipher }
    }

    async fn deliver_code(&self, event_id: &str, issued: CodeIssued) -> anyhow::Result<()> {
        let expires_at = issued
            .expire_time
            .map(|time| time.seconds.saturating_mul(1000) + i64::from(time.nanos / 1_000_000))
            .context("CodeIssued has no expire_time")?;
        let remaining_ms = expires_at - clock::now_millis();
        if remaining_ms <= 0 {
            tracing::warn!(verification_id = %issued.verification_id, "code expired before delivery; not sending it");
            return Ok(());
        }
        let channel = match verification_api::Channel::try_from(issued.channel) {
            Ok(verification_api::Channel::Sms) => Channel::Sms,
            Ok(verification_api::Channel::Email) => Channel::Email,
            _ => anyhow::bail!("CodeIssued has an unknown channel {}", issued.channel),
        };
        let purpose = verification_api::Purpose::try_from(issued.purpose).unwrap_or_default();
        let code = self
            .cipher
            .open(&issued.verification_id, &issued.sealed_code)?;
        let code = String::from_utf8(code).context("sealed code is not text")?;
        let valid_for = Duration::from_millis(u64::try_from(remaining_ms).unwrap_or_default());
        let message = domain::code_message(&issued.destination, channel, purpose, &code, valid_for);
        self.inbox.deliver(event_id, &message).await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for VerificationEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(issued) = events::payload::<CodeIssued>(event) {
            let issued = issued.context("undecodable CodeIssued")?;
            return self.deliver_code(&event.event_id, issued).await;
        }
        Ok(())
    }
}
