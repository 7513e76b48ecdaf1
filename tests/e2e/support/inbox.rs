//! Reading the dev inbox, where the tests find the codes and alerts the platform sent.

use std::time::Duration;

use mi_proto::notification::v1::{InboxMessage, ListInboxMessagesRequest, MessageKind};

use super::{DELIVERY_TIMEOUT, TestPlatform};

impl TestPlatform {
    /// Every dev-inbox message for a destination, oldest first.
    pub(crate) async fn inbox(&self, destination: &str) -> Vec<InboxMessage> {
        self.inbox_of_kind(destination, MessageKind::Unspecified)
            .await
    }

    /// The dev-inbox messages of one kind for a destination (every kind for unspecified),
    /// oldest first.
    pub(crate) async fn inbox_of_kind(
        &self,
        destination: &str,
        kind: MessageKind,
    ) -> Vec<InboxMessage> {
        let request = ListInboxMessagesRequest {
            destination: destination.to_owned(),
            page_size: 100,
            page_token: String::new(),
            kind: kind.into(),
        };
        self.notification()
            .await
            .list_inbox_messages(request)
            .await
            .unwrap()
            .into_inner()
            .messages
    }

    /// Waits until the inbox holds at least `count` messages for `destination`.
    pub(crate) async fn wait_for_inbox(
        &self,
        destination: &str,
        count: usize,
    ) -> Vec<InboxMessage> {
        let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
        loop {
            let messages = self.inbox(destination).await;
            if messages.len() >= count {
                return messages;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} message(s) for {destination} did not arrive within {DELIVERY_TIMEOUT:?}; got {}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a message for `destination` contains `text`; returns it.
    pub(crate) async fn wait_for_text(&self, destination: &str, text: &str) -> InboxMessage {
        let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
        loop {
            let messages = self.inbox(destination).await;
            if let Some(found) = messages.iter().find(|message| message.body.contains(text)) {
                return found.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message with {text:?} for {destination} within {DELIVERY_TIMEOUT:?}; got {messages:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
