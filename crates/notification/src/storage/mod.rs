//! The dev inbox. One SQL implementation serves PostgreSQL and SQLite.

mod sql;

use async_trait::async_trait;

pub use sql::SqlInbox;

use crate::domain::{InboxMessage, OutgoingMessage};

/// Delivers messages to the dev inbox and lists them.
#[async_trait]
pub trait Inbox: Send + Sync + std::fmt::Debug {
    /// Delivers the message caused by `source_event_id`, once: returns false, changing
    /// nothing, if that event was already delivered.
    async fn deliver(
        &self,
        source_event_id: &str,
        message: &OutgoingMessage,
    ) -> anyhow::Result<bool>;

    /// Messages oldest first, optionally for one destination, after `after_message_id`.
    async fn list(
        &self,
        destination: Option<&str>,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>>;
}
