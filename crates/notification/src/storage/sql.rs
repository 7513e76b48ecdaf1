//! The SQL dev inbox.

use anyhow::Context;
use async_trait::async_trait;
use mi_platform::clock;
use mi_platform::consumer::begin_once;
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_proto::events::v1::NotificationDelivered;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Inbox;
use crate::domain::{Channel, InboxMessage, OutgoingMessage};

/// The delivery channel named in `NotificationDelivered` for inbox deliveries.
pub const DEV_INBOX_CHANNEL: &str = "dev-inbox";

/// Inbox messages in the service's database; deliveries are recorded against the consumer group.
#[derive(Debug, Clone)]
pub struct SqlInbox {
    database: Database,
    outbox: Outbox,
    consumer_group: String,
}

impl SqlInbox {
    /// An inbox over a migrated database; `consumer_group` owns the idempotency records.
    pub fn new(database: Database, outbox: Outbox, consumer_group: String) -> Self {
        Self {
            database,
            outbox,
            consumer_group,
        }
    }
}

#[async_trait]
impl Inbox for SqlInbox {
    async fn deliver(
        &self,
        source_event_id: &str,
        message: &OutgoingMessage,
    ) -> anyhow::Result<bool> {
        let Some(mut transaction) =
            begin_once(&self.database, &self.consumer_group, source_event_id).await?
        else {
            tracing::info!(source_event_id, "event already delivered; skipping");
            return Ok(false);
        };
        let message_id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO inbox_messages (message_id, source_event_id, destination, channel, subject, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&message_id)
        .bind(source_event_id)
        .bind(&message.destination)
        .bind(message.channel.as_str())
        .bind(&message.subject)
        .bind(&message.body)
        .bind(clock::now_millis())
        .execute(&mut *transaction)
        .await?;
        let delivered = NotificationDelivered {
            message_id: message_id.clone(),
            source_event_id: source_event_id.to_owned(),
            destination: message.destination.clone(),
            delivery_channel: DEV_INBOX_CHANNEL.to_owned(),
        };
        self.outbox
            .enqueue(&mut transaction, &message_id, &delivered)
            .await?;
        transaction.commit().await?;
        self.outbox.notify_committed();
        tracing::info!(
            source_event_id,
            message_id,
            channel = message.channel.as_str(),
            "message delivered to the dev inbox"
        );
        Ok(true)
    }

    async fn list(
        &self,
        destination: Option<&str>,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>> {
        // Empty strings stand for "no filter" so one statement serves every combination.
        let rows = sqlx::query(
            "SELECT message_id, source_event_id, destination, channel, subject, body, created_at \
             FROM inbox_messages WHERE ($1 = '' OR destination = $1) AND message_id > $2 \
             ORDER BY message_id LIMIT $3",
        )
        .bind(destination.unwrap_or_default())
        .bind(after_message_id.unwrap_or_default())
        .bind(limit)
        .fetch_all(self.database.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

fn from_row(row: &AnyRow) -> anyhow::Result<InboxMessage> {
    let channel: String = row.try_get("channel")?;
    Ok(InboxMessage {
        message_id: row.try_get("message_id")?,
        source_event_id: row.try_get("source_event_id")?,
        message: OutgoingMessage {
            destination: row.try_get("destination")?,
            channel: Channel::parse(&channel)
                .with_context(|| format!("unknown stored channel {channel}"))?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
        },
        created_at: row.try_get("created_at")?,
    })
}
