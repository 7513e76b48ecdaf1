//! Verification codes: every `CodeIssued` becomes the domain's [`IssuedCode`].

use anyhow::Context;
use mi_platform::events;
use mi_proto::events::v1::{CodeIssued, EventEnvelope};
use mi_proto::verification::v1 as verification_api;

use super::{NotificationEventsHandler, millis};
use crate::domain::{Channel, IssuedCode};

impl NotificationEventsHandler {
    /// Delivers the code if the event is a `CodeIssued`; false for any other event.
    pub(super) async fn deliver_code(&self, event: &EventEnvelope) -> anyhow::Result<bool> {
        let Some(issued) = events::payload::<CodeIssued>(event) else {
            return Ok(false);
        };
        let issued = issued.context("undecodable CodeIssued")?;
        let expires_at = millis(issued.expire_time).context("CodeIssued has no expire_time")?;
        let channel = match verification_api::Channel::try_from(issued.channel) {
            Ok(verification_api::Channel::Sms) => Channel::Sms,
            Ok(verification_api::Channel::Email) => Channel::Email,
            Ok(verification_api::Channel::Voice) => Channel::Voice,
            _ => anyhow::bail!("CodeIssued has an unknown channel {}", issued.channel),
        };
        let code = IssuedCode {
            verification_id: issued.verification_id,
            destination: issued.destination,
            channel,
            purpose: purpose_name(issued.purpose),
            locale: issued.locale,
            sealed_code: issued.sealed_code,
            expires_at,
        };
        self.notifier.deliver_code(&event.event_id, &code).await?;
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
