//! The dev inbox: every message the dev-inbox transport delivered, for developers and tests.

use super::{InboxMessage, Notifier};

impl Notifier {
    /// At most `limit` inbox messages oldest first, for `destination` (every destination when
    /// empty), after message `after_message_id`.
    pub(crate) async fn list_inbox(
        &self,
        destination: &str,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>> {
        let destination = (!destination.is_empty()).then_some(destination);
        self.store
            .list_inbox(destination, after_message_id, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use mi_contracts::MiId;

    use super::super::testing::Fixture;
    use super::super::{AlertAudience, AlertKind, SecurityAlert};

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
            .list_inbox("", None, 10)
            .await
            .expect("list");
        assert_eq!(everything.len(), 4);
        let to_b = fixture
            .notifier
            .list_inbox("b@example.com", None, 10)
            .await
            .expect("list");
        let events: Vec<&str> = to_b.iter().map(|m| m.source_event_id.as_str()).collect();
        assert_eq!(events, ["e1", "e2"]);
        let after_first = fixture
            .notifier
            .list_inbox("b@example.com", Some(&to_b[0].message_id), 10)
            .await
            .expect("list");
        assert_eq!(after_first.len(), 1);
        assert_eq!(after_first[0].source_event_id, "e2");
    }
}
