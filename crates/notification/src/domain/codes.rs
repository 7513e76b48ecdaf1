//! Verification codes: every code verification issues becomes one message to its destination,
//! unless it expired on the way.

use anyhow::Context;
use mi_contracts::{Channel, Purpose, UnixMillis};

use super::{MessageKind, Notifier};

/// A code verification issued, as the notification service needs it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct IssuedCode {
    /// The verification, which the code is sealed to.
    pub verification_id: String,
    /// Phone number or email address.
    pub destination: String,
    /// How the code travels.
    pub channel: Channel,
    /// What the code proves, which chooses the message's wording.
    pub purpose: Purpose,
    /// BCP 47 tag for the message.
    pub locale: String,
    /// The code, sealed by verification; opened only to write the message.
    pub sealed_code: Vec<u8>,
    /// When the code stops being accepted.
    pub expires_at: UnixMillis,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IssuedCode")
            .field("verification_id", &self.verification_id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Delivers the code event `source_event_id` carries; an expired code is not sent.
    pub(crate) async fn deliver_code(
        &self,
        source_event_id: &str,
        issued: &IssuedCode,
    ) -> anyhow::Result<()> {
        let valid_for = issued.expires_at.duration_since(UnixMillis::now());
        if valid_for.is_zero() {
            tracing::warn!(verification_id = %issued.verification_id, "code expired before delivery; not sending it");
            return Ok(());
        }
        let code = self
            .cipher
            .open(&issued.verification_id, &issued.sealed_code)?;
        let code = String::from_utf8(code).context("sealed code is not text")?;
        let message = self.templates.code_message(
            &issued.locale,
            &issued.destination,
            issued.channel,
            issued.purpose,
            &code,
            valid_for,
        )?;
        // The event asks for this one message, so its id names the message to providers too.
        self.dispatcher
            .deliver(
                source_event_id,
                source_event_id,
                MessageKind::Code,
                &message,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{Fixture, Send};
    use super::*;

    fn issued(fixture: &Fixture, expires_at: UnixMillis) -> IssuedCode {
        IssuedCode {
            verification_id: "v1".into(),
            destination: "+8613800138000".into(),
            channel: Channel::Sms,
            purpose: Purpose::SignUp,
            locale: "en".into(),
            sealed_code: fixture.cipher.seal("v1", b"246810").expect("sealed"),
            expires_at,
        }
    }

    #[tokio::test]
    async fn a_code_is_sent_once_under_its_event_id_however_often_the_event_comes() {
        let fixture = Fixture::with_external_sms();
        let code = issued(
            &fixture,
            UnixMillis::now().saturating_add(Duration::from_secs(600)),
        );
        for _ in 0..2 {
            fixture
                .notifier
                .deliver_code("e1", &code)
                .await
                .expect("delivered");
        }
        assert_eq!(fixture.sms.sends(), [Send::ok("+8613800138000", "e1")]);
        assert!(fixture.sms.last_body().contains("246810"));
        assert_eq!(fixture.store.delivered(), ["e1"]);
    }

    #[tokio::test]
    async fn an_expired_code_is_not_sent() {
        let fixture = Fixture::with_external_sms();
        let code = issued(
            &fixture,
            UnixMillis::now().saturating_sub(Duration::from_millis(1)),
        );
        fixture
            .notifier
            .deliver_code("e1", &code)
            .await
            .expect("skipped");
        assert!(fixture.sms.sends().is_empty());
        assert!(fixture.store.delivered().is_empty());
    }
}
