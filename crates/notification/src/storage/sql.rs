//! The SQL notification store.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{Channel, UnixMillis};
use mi_platform::db::Database;
use mi_platform::outbox::Outbox;
use mi_platform::retention::Expiry;
use sqlx::Row;
use sqlx::any::AnyRow;

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
#[derive(Debug, Clone)]
pub(crate) struct SqlNotificationStore {
    database: Database,
    outbox: Outbox,
}

impl SqlNotificationStore {
    /// A store over a migrated database, enqueueing its events in `outbox`.
    pub(crate) fn new(database: Database, outbox: Outbox) -> Self {
        Self { database, outbox }
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
        let now = UnixMillis::now().as_i64();
        // One statement: creates the record, or counts an attempt only while it is pending.
        let attempts: Option<i64> = sqlx::query_scalar(
            "INSERT INTO deliveries (source_event_id, destination, channel, transport, status, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
             ON CONFLICT (source_event_id, destination) DO UPDATE SET attempts = deliveries.attempts + 1, updated_at = $6 \
             WHERE deliveries.status = $5 RETURNING attempts",
        )
        .bind(source_event_id)
        .bind(&message.destination)
        .bind(message.channel.as_str())
        .bind(transport)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .fetch_optional(self.database.pool())
        .await?;
        Ok(match attempts {
            Some(attempts) => DeliveryStart::Attempt(u32::try_from(attempts).unwrap_or(u32::MAX)),
            None => DeliveryStart::Finished,
        })
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
        let transport = delivered.transport.as_str();
        let mut transaction = self.database.begin_write().await?;
        let now = UnixMillis::now().as_i64();
        // An upsert: external deliveries have their record from start_delivery; dev-inbox ones
        // are recorded here, in their only transaction. Only a new or pending record changes,
        // so a redelivered event finds its message finished and writes nothing.
        let marked_delivered: Option<i64> = sqlx::query_scalar(
            "INSERT INTO deliveries (source_event_id, destination, channel, transport, status, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
             ON CONFLICT (source_event_id, destination) DO UPDATE SET status = $5, updated_at = $6 \
             WHERE deliveries.status = $7 RETURNING attempts",
        )
        .bind(source_event_id)
        .bind(&message.destination)
        .bind(message.channel.as_str())
        .bind(transport)
        .bind(DeliveryStatus::Delivered.as_str())
        .bind(now)
        .bind(DeliveryStatus::Pending.as_str())
        .fetch_optional(&mut *transaction)
        .await?;
        if marked_delivered.is_none() {
            transaction.rollback().await?;
            tracing::info!(
                source_event_id,
                channel = message.channel.as_str(),
                "message already delivered; skipping"
            );
            return Ok(false);
        }
        let message_id = delivered.message_id.as_str();
        if to_dev_inbox {
            sqlx::query(
                "INSERT INTO inbox_messages (message_id, source_event_id, destination, channel, subject, body, created_at, kind) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(message_id)
            .bind(source_event_id)
            .bind(&message.destination)
            .bind(message.channel.as_str())
            .bind(&message.subject)
            .bind(&message.body)
            .bind(now)
            .bind(delivered.kind.as_str())
            .execute(&mut *transaction)
            .await?;
        }
        self.outbox
            .enqueue(
                &mut transaction,
                message_id,
                &publish::notification_delivered(delivered),
            )
            .await?;
        transaction.commit().await?;
        self.outbox.notify_committed();
        tracing::info!(
            source_event_id,
            message_id,
            channel = message.channel.as_str(),
            transport,
            "message delivered"
        );
        Ok(true)
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
