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

use crate::delivery::Transports;
use crate::domain::{Channel, Templates};
use crate::storage::{DeliveryStart, NotificationStore};

/// Delivers the code of every `CodeIssued` on the verification topic.
#[derive(Debug)]
pub struct VerificationEventsHandler {
    store: Arc<dyn NotificationStore>,
    transports: Transports,
    templates: Templates,
    cipher: CodeCipher,
}

impl VerificationEventsHandler {
    /// A handler delivering through `transports`, opening codes with `cipher`.
    pub fn new(
        store: Arc<dyn NotificationStore>,
        transports: Transports,
        templates: Templates,
        cipher: CodeCipher,
    ) -> Self {
        Self {
            store,
            transports,
            templates,
            cipher,
        }
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
            Ok(verification_api::Channel::Voice) => Channel::Voice,
            _ => anyhow::bail!("CodeIssued has an unknown channel {}", issued.channel),
        };
        let purpose = purpose_name(issued.purpose);
        let code = self
            .cipher
            .open(&issued.verification_id, &issued.sealed_code)?;
        let code = String::from_utf8(code).context("sealed code is not text")?;
        let valid_for = Duration::from_millis(u64::try_from(remaining_ms).unwrap_or_default());
        let message = self.templates.code_message(
            &issued.locale,
            &issued.destination,
            channel,
            purpose,
            &code,
            valid_for,
        )?;

        let transport = self.transports.for_channel(channel);
        // An external send needs its record first (attempts, and no second send once done);
        // a dev-inbox delivery is a single transaction in `complete`.
        if !transport.is_dev_inbox() {
            let DeliveryStart::Attempt(attempt) = self
                .store
                .start_delivery(event_id, &message, transport.name())
                .await?
            else {
                tracing::info!(event_id, "already delivered or given up; not sending again");
                return Ok(());
            };
            if let Err(error) = transport.send(&message, event_id).await {
                tracing::warn!(
                    event_id,
                    attempt,
                    transport = transport.name(),
                    error = format!("{error:#}"),
                    "delivery attempt failed"
                );
                self.store
                    .record_failure(event_id, &format!("{error:#}"))
                    .await?;
                return Err(error);
            }
        }
        self.store
            .complete(
                event_id,
                &message,
                transport.name(),
                transport.is_dev_inbox(),
            )
            .await?;
        Ok(())
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

#[async_trait]
impl EventHandler for VerificationEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(issued) = events::payload::<CodeIssued>(event) {
            let issued = issued.context("undecodable CodeIssued")?;
            return self.deliver_code(&event.event_id, issued).await;
        }
        Ok(())
    }

    async fn gave_up(&self, event: &EventEnvelope, reason: &str) -> anyhow::Result<()> {
        if events::payload::<CodeIssued>(event).is_some() {
            self.store.fail(&event.event_id, reason).await?;
        }
        Ok(())
    }
}
