//! Verification codes: every `CodeIssued` becomes one message to its destination.

use std::time::Duration;

use anyhow::Context;
use mi_platform::{clock, events};
use mi_proto::events::v1::{CodeIssued, EventEnvelope};
use mi_proto::verification::v1 as verification_api;

use super::{NotificationEventsHandler, millis};
use crate::domain::Channel;

impl NotificationEventsHandler {
    /// Delivers the code if the event is a `CodeIssued`; false for any other event.
    pub(super) async fn deliver_code(&self, event: &EventEnvelope) -> anyhow::Result<bool> {
        let Some(issued) = events::payload::<CodeIssued>(event) else {
            return Ok(false);
        };
        let issued = issued.context("undecodable CodeIssued")?;
        let expires_at = millis(issued.expire_time).context("CodeIssued has no expire_time")?;
        let remaining_ms = expires_at - clock::now_millis();
        if remaining_ms <= 0 {
            tracing::warn!(verification_id = %issued.verification_id, "code expired before delivery; not sending it");
            return Ok(true);
        }
        let channel = match verification_api::Channel::try_from(issued.channel) {
            Ok(verification_api::Channel::Sms) => Channel::Sms,
            Ok(verification_api::Channel::Email) => Channel::Email,
            Ok(verification_api::Channel::Voice) => Channel::Voice,
            _ => anyhow::bail!("CodeIssued has an unknown channel {}", issued.channel),
        };
        let code = self
            .cipher
            .open(&issued.verification_id, &issued.sealed_code)?;
        let code = String::from_utf8(code).context("sealed code is not text")?;
        let valid_for = Duration::from_millis(u64::try_from(remaining_ms).unwrap_or_default());
        let message = self.templates.code_message(
            &issued.locale,
            &issued.destination,
            channel,
            purpose_name(issued.purpose),
            &code,
            valid_for,
        )?;
        // The event asks for this one message, so its id names the message to providers too.
        self.dispatcher
            .deliver(&event.event_id, &event.event_id, &message)
            .await?;
        Ok(true)
    }
}

/// The stored name of a purpose, as the templates know it.
fn purpose_name(purpose: i32) -> &'static str {
    match verification_api::Purpose::try_from(purpose).unwrap_or_default() {
        verification_api::Purpose::SignUp => "sign_up",
        verification_api::Purpose::SignInSecondFactor => "sign_in_second_factor",
        verification_api::Purpose::PasswordReset => "password_reset",
        verification_api::Purpose::AddRecoveryContact => "add_recovery_contact",
        verification_api::Purpose::DeviceAction => "device_action",
        verification_api::Purpose::Unspecified => "unspecified",
    }
}
