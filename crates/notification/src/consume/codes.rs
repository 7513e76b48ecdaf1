//! Verification codes: every `CodeIssued` becomes the domain's [`IssuedCode`].

use anyhow::Context;
use mi_contracts::UnixMillis;
use mi_platform::events;
use mi_proto::contracts::{channel_from_wire, purpose_from_wire};
use mi_proto::events::v1::{CodeIssued, EventEnvelope};

use super::NotificationEventsHandler;
use crate::domain::IssuedCode;

impl NotificationEventsHandler {
    /// Delivers the code if the event is a `CodeIssued`; false for any other event.
    pub(super) async fn deliver_code(&self, event: &EventEnvelope) -> anyhow::Result<bool> {
        let Some(issued) = events::payload::<CodeIssued>(event) else {
            return Ok(false);
        };
        let issued = issued.context("undecodable CodeIssued")?;
        let expires_at = issued
            .expire_time
            .as_ref()
            .map(UnixMillis::from_timestamp)
            .context("CodeIssued has no expire_time")?;
        let channel = channel_from_wire(issued.channel)
            .with_context(|| format!("CodeIssued has an unknown channel {}", issued.channel))?;
        let purpose = purpose_from_wire(issued.purpose)
            .with_context(|| format!("CodeIssued has an unknown purpose {}", issued.purpose))?;
        let code = IssuedCode {
            verification_id: issued.verification_id,
            destination: issued.destination,
            channel,
            purpose,
            locale: issued.locale,
            sealed_code: issued.sealed_code,
            expires_at,
        };
        self.notifier.deliver_code(&event.event_id, &code).await?;
        Ok(true)
    }
}
