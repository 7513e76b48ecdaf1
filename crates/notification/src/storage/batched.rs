//! The writes every delivery makes, batched: concurrent deliveries (the consumer handles many
//! at once) share one transaction per batch (`mi_platform::group_commit`), so a busy consumer
//! costs a commit per batch rather than two per message. Each job's statements and result are
//! the same as if it were written alone.

use mi_contracts::UnixMillis;
use mi_platform::db::Database;
use mi_platform::group_commit::GroupCommitSettings;
use mi_platform::outbox::Outbox;

use crate::domain::{DeliveryStart, DeliveryStatus, MessageDelivered, OutgoingMessage};
use crate::publish;

/// Batches of at most this many deliveries; two transactions are written at once.
pub(super) const SETTINGS: GroupCommitSettings = GroupCommitSettings {
    max_calls: 64,
    queue: 1024,
    writers: 2,
};

/// A delivery about to call its external transport.
#[derive(Debug)]
pub(super) struct Start {
    pub source_event_id: String,
    pub message: OutgoingMessage,
    pub transport: String,
}

/// A delivery made, to record and publish.
#[derive(Debug)]
pub(super) struct Completion {
    pub message: OutgoingMessage,
    pub delivered: MessageDelivered,
    pub to_dev_inbox: bool,
}

/// Creates each delivery's record, or counts another attempt of an unfinished one.
pub(super) async fn start(
    database: &Database,
    starts: Vec<Start>,
) -> anyhow::Result<Vec<DeliveryStart>> {
    let mut transaction = database.begin_write().await?;
    let now = UnixMillis::now().as_i64();
    let mut results = Vec::with_capacity(starts.len());
    for start in &starts {
        // One statement: creates the record, or counts an attempt only while it is pending.
        let attempts: Option<i64> = sqlx::query_scalar(
            "INSERT INTO deliveries (source_event_id, destination, channel, transport, status, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
             ON CONFLICT (source_event_id, destination) DO UPDATE SET attempts = deliveries.attempts + 1, updated_at = $6 \
             WHERE deliveries.status = $5 RETURNING attempts",
        )
        .bind(&start.source_event_id)
        .bind(&start.message.destination)
        .bind(start.message.channel.as_str())
        .bind(&start.transport)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        results.push(match attempts {
            Some(attempts) => DeliveryStart::Attempt(u32::try_from(attempts).unwrap_or(u32::MAX)),
            None => DeliveryStart::Finished,
        });
    }
    transaction.commit().await?;
    Ok(results)
}

/// Records each delivery as done (creating its record if needed), puts dev-inbox messages in
/// the inbox and publishes each `delivered`; false for a message delivered (or given up on)
/// already, which writes nothing.
pub(super) async fn complete(
    database: &Database,
    outbox: &Outbox,
    completions: Vec<Completion>,
) -> anyhow::Result<Vec<bool>> {
    let mut transaction = database.begin_write().await?;
    let now = UnixMillis::now().as_i64();
    let mut results = Vec::with_capacity(completions.len());
    for Completion {
        message,
        delivered,
        to_dev_inbox,
    } in &completions
    {
        let source_event_id = delivered.source_event_id.as_str();
        // An upsert: external deliveries have their record from `start`; dev-inbox ones are
        // recorded here. Only a new or pending record changes, so a redelivered event finds
        // its message finished and writes nothing.
        let marked_delivered: Option<i64> = sqlx::query_scalar(
            "INSERT INTO deliveries (source_event_id, destination, channel, transport, status, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
             ON CONFLICT (source_event_id, destination) DO UPDATE SET status = $5, updated_at = $6 \
             WHERE deliveries.status = $7 RETURNING attempts",
        )
        .bind(source_event_id)
        .bind(&message.destination)
        .bind(message.channel.as_str())
        .bind(&delivered.transport)
        .bind(DeliveryStatus::Delivered.as_str())
        .bind(now)
        .bind(DeliveryStatus::Pending.as_str())
        .fetch_optional(&mut *transaction)
        .await?;
        results.push(marked_delivered.is_some());
        if marked_delivered.is_none() {
            continue;
        }
        let message_id = delivered.message_id.as_str();
        if *to_dev_inbox {
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
        outbox
            .enqueue(
                &mut transaction,
                message_id,
                &publish::notification_delivered(delivered),
            )
            .await?;
    }
    transaction.commit().await?;
    outbox.notify_committed();
    Ok(results)
}
