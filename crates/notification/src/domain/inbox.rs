//! The dev inbox: every message the dev-inbox transport delivered, for developers and tests.

use super::{InboxMessage, MessageKind, Notifier};

/// Which inbox messages to list; `None` lets every value through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InboxFilter<'a> {
    /// Only messages to this destination.
    pub destination: Option<&'a str>,
    /// Only messages of this kind: codes, or security alerts.
    pub kind: Option<MessageKind>,
}

impl Notifier {
    /// At most `limit` inbox messages that `filter` lets through, oldest first, after message
    /// `after_message_id`.
    pub(crate) async fn list_inbox(
        &self,
        filter: &InboxFilter<'_>,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>> {
        self.store.list_inbox(filter, after_message_id, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mi_contracts::{Channel, MiId, Purpose, UnixMillis};

    use super::super::testing::Fixture;
    use super::super::{AlertAudience, AlertKind, IssuedCode, SecurityAlert};
    use super::*;

    #[tokio::test]
    async fn the_inbox_lists_dev_inbox_deliveries_by_destination_in_order() {
        let fixture = Fixture::with_external_sms();
        let alert = SecurityAlert {
            mi_id: MiId::new(7).expect("Mi ID"),
            kind: AlertKind::PasswordChanged { reset: true },
        };
        let audience = AlertAudience {
            locale: "en".into(),
            contacts: vec!["a@example.com".into(), "b@example.com".into()],
        };
        for event in ["e1", "e2"] {
            fixture
                .notifier
                .deliver_alert(event, &alert, &audience)
                .await
                .expect("delivered");
        }

        let everything = fixture
            .notifier
            .list_inbox(&InboxFilter::default(), None, 10)
            .await
            .expect("list");
        assert_eq!(everything.len(), 4);
        let to_b = InboxFilter {
            destination: Some("b@example.com"),
            kind: None,
        };
        let listed = fixture
            .notifier
            .list_inbox(&to_b, None, 10)
            .await
            .expect("list");
        let events: Vec<&str> = listed.iter().map(|m| m.source_event_id.as_str()).collect();
        assert_eq!(events, ["e1", "e2"]);
        let after_first = fixture
            .notifier
            .list_inbox(&to_b, Some(&listed[0].message_id), 10)
            .await
            .expect("list");
        assert_eq!(after_first.len(), 1);
        assert_eq!(after_first[0].source_event_id, "e2");
    }

    #[tokio::test]
    async fn codes_and_security_alerts_are_told_apart() {
        let fixture = Fixture::with_external_sms();
        let alert = SecurityAlert {
            mi_id: MiId::new(7).expect("Mi ID"),
            kind: AlertKind::PasswordChanged { reset: false },
        };
        let audience = AlertAudience {
            locale: "en".into(),
            contacts: vec!["a@example.com".into()],
        };
        let code = IssuedCode {
            verification_id: "v1".into(),
            destination: "a@example.com".into(),
            channel: Channel::Email,
            purpose: Purpose::PasswordReset,
            locale: "en".into(),
            sealed_code: fixture.cipher.seal("v1", b"246810").expect("sealed"),
            expires_at: UnixMillis::now().saturating_add(Duration::from_secs(600)),
        };
        let notifier = &fixture.notifier;
        notifier.deliver_code("code", &code).await.expect("code");
        let alerted = notifier.deliver_alert("alert", &alert, &audience).await;
        alerted.expect("alert");

        for (kind, event) in [
            (MessageKind::Code, "code"),
            (MessageKind::SecurityAlert, "alert"),
        ] {
            let filter = InboxFilter {
                destination: Some("a@example.com"),
                kind: Some(kind),
            };
            let listed = notifier.list_inbox(&filter, None, 10).await.expect("list");
            let found: Vec<_> = listed
                .iter()
                .map(|m| (m.source_event_id.as_str(), m.kind))
                .collect();
            assert_eq!(found, [(event, Some(kind))]);
        }
    }
}
