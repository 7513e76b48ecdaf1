//! The SQL notification store.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{Channel, UnixMillis};
use mi_platform::db::Database;
use mi_platform::group_commit::GroupCommit;
use mi_platform::outbox::Outbox;
use mi_platform::retention::Expiry;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::batched;
use crate::domain::{
    DeliveryFailed, DeliveryStart, DeliveryStatus, InboxFilter, InboxMessage, MessageDelivered,
    MessageKind, NotificationStore, OutgoingMessage,
};
use crate::publish;

/// The rows notification deletes once they are of no use (see `mi_platform::retention`):
/// finished deliveries older than `delivery_retention`, and dev-inbox messages older than
/// `inbox_retention`. A pending delivery stays however old: its event may still be retried.
pub(crate) fn expiries(
    delivery_retention: std::time::Duration,
    inbox_retention: std::time::Duration,
) -> Vec<Expiry> {
    vec![
        Expiry::after(
            "deliveries",
            "source_event_id, destination",
            "created_at",
            delivery_retention,
        )
        .only_if(format!("status <> '{}'", DeliveryStatus::Pending.as_str())),
        Expiry::after(
            "inbox_messages",
            "message_id",
            "created_at",
            inbox_retention,
        ),
    ]
}

/// Deliveries and inbox messages in the service's database.
///
/// The delivery records double as the idempotency records: the platform's per-event record
/// cannot serve, since one event (a security alert) may ask for several messages, each
/// delivered, retried and finished on its own.
///
/// Starting and completing deliveries, the writes of every message, are batched across
/// concurrent deliveries (`batched.rs`).
#[derive(Debug, Clone)]
pub(crate) struct SqlNotificationStore {
    database: Database,
    outbox: Outbox,
    starts: Arc<GroupCommit<batched::Start, DeliveryStart>>,
    completions: Arc<GroupCommit<batched::Completion, bool>>,
}

impl SqlNotificationStore {
    /// A store over a migrated database, enqueueing its events in `outbox`.
    pub(crate) fn new(database: Database, outbox: Outbox) -> Self {
        let writer = database.clone();
        let starts = GroupCommit::start(batched::SETTINGS, move |starts| {
            let database = writer.clone();
            async move { batched::start(&database, starts).await }
        });
        let (writer, publisher) = (database.clone(), outbox.clone());
        let completions = GroupCommit::start(batched::SETTINGS, move |completions| {
            let (database, outbox) = (writer.clone(), publisher.clone());
            async move { batched::complete(&database, &outbox, completions).await }
        });
        Self {
            database,
            outbox,
            starts: Arc::new(starts),
            completions: Arc::new(completions),
        }
    }
}

#[async_trait]
impl NotificationStore for SqlNotificationStore {
    async fn start_delivery(
        &self,
        source_event_id: &str,
        message: &OutgoingMessage,
        transport: &str,
    ) -> anyhow::Result<DeliveryStart> {
        self.starts
            .submit(batched::Start {
                source_event_id: source_event_id.to_owned(),
                message: message.clone(),
                transport: transport.to_owned(),
            })
            .await
    }

    async fn record_failure(
        &self,
        source_event_id: &str,
        destination: &str,
        error: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE deliveries SET last_error = $1, updated_at = $2 \
             WHERE source_event_id = $3 AND destination = $4",
        )
        .bind(error)
        .bind(UnixMillis::now().as_i64())
        .bind(source_event_id)
        .bind(destination)
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    async fn complete(
        &self,
        message: &OutgoingMessage,
        delivered: &MessageDelivered,
        to_dev_inbox: bool,
    ) -> anyhow::Result<bool> {
        let source_event_id = delivered.source_event_id.as_str();
        let channel = message.channel.as_str();
        let completed = self
            .completions
            .submit(batched::Completion {
                message: message.clone(),
                delivered: delivered.clone(),
                to_dev_inbox,
            })
            .await?;
        if completed {
            tracing::info!(source_event_id, message_id = %delivered.message_id, channel, transport = %delivered.transport, "message delivered");
        } else {
            tracing::info!(
                source_event_id,
                channel,
                "message already delivered; skipping"
            );
        }
        Ok(completed)
    }

    async fn fail(&self, source_event_id: &str, reason: &str) -> anyhow::Result<usize> {
        let mut transaction = self.database.begin_write().await?;
        let failed = sqlx::query(
            "UPDATE deliveries SET status = $1, last_error = $2, updated_at = $3 \
             WHERE source_event_id = $4 AND status = $5 RETURNING destination, transport, attempts",
        )
        .bind(DeliveryStatus::Failed.as_str())
        .bind(reason)
        .bind(UnixMillis::now().as_i64())
        .bind(source_event_id)
        .bind(DeliveryStatus::Pending.as_str())
        .fetch_all(&mut *transaction)
        .await?;
        if failed.is_empty() {
            transaction.rollback().await?;
            return Ok(0);
        }
        for row in &failed {
            let attempts: i64 = row.try_get("attempts")?;
            let event = DeliveryFailed {
                source_event_id: source_event_id.to_owned(),
                destination: row.try_get("destination")?,
                transport: row.try_get("transport")?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                error: reason.to_owned(),
            };
            self.outbox
                .enqueue(
                    &mut transaction,
                    source_event_id,
                    &publish::notification_failed(&event),
                )
                .await?;
        }
        transaction.commit().await?;
        self.outbox.notify_committed();
        tracing::warn!(
            source_event_id,
            deliveries = failed.len(),
            "delivery failed for good"
        );
        Ok(failed.len())
    }

    async fn list_inbox(
        &self,
        filter: &InboxFilter<'_>,
        after_message_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxMessage>> {
        // Empty strings stand for "no filter" so one statement serves every combination.
        let rows = sqlx::query(
            "SELECT message_id, source_event_id, destination, channel, subject, body, created_at, kind \
             FROM inbox_messages WHERE ($1 = '' OR destination = $1) AND ($2 = '' OR kind = $2) \
             AND message_id > $3 ORDER BY message_id LIMIT $4",
        )
        .bind(filter.destination.unwrap_or_default())
        .bind(filter.kind.map(MessageKind::as_str).unwrap_or_default())
        .bind(after_message_id.unwrap_or_default())
        .bind(limit)
        .fetch_all(self.database.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

fn from_row(row: &AnyRow) -> anyhow::Result<InboxMessage> {
    let channel: String = row.try_get("channel")?;
    let kind: String = row.try_get("kind")?;
    Ok(InboxMessage {
        message_id: row.try_get("message_id")?,
        source_event_id: row.try_get("source_event_id")?,
        // Empty for messages stored before kinds were recorded (migration 1004).
        kind: match kind.as_str() {
            "" => None,
            stored => Some(
                stored
                    .parse::<MessageKind>()
                    .with_context(|| format!("unknown stored message kind {stored}"))?,
            ),
        },
        message: OutgoingMessage {
            destination: row.try_get("destination")?,
            channel: channel
                .parse::<Channel>()
                .with_context(|| format!("unknown stored channel {channel}"))?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
        },
        created_at: UnixMillis::from_i64(row.try_get("created_at")?),
    })
}
