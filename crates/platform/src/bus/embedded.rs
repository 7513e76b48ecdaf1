//! The embedded bus: a durable log in a SQLite file under the data directory.
//!
//! It gives the same guarantees as Kafka for one process (or several sharing the directory):
//! published messages survive restarts, each consumer group keeps its own committed position,
//! and uncommitted messages are delivered again. Ordering is total per topic.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::UnixMillis;
use sqlx::Row;
use tokio::sync::watch;

use super::{BusMessage, Delivery, EventBus, MessageRefused, Subscription, spans};
use crate::db::Database;

/// How often a subscriber looks for messages appended by another process.
const CROSS_PROCESS_POLL: Duration = Duration::from_millis(500);
const FETCH_BATCH: i64 = 100;
/// The largest message the bus takes: librdkafka's default `message.max.bytes`.
pub const MAX_MESSAGE_BYTES: usize = 1_000_000;

/// The in-process event bus of embedded mode.
#[derive(Debug, Clone)]
pub struct EmbeddedBus {
    database: Database,
    appended: watch::Sender<u64>,
}

impl EmbeddedBus {
    /// Opens (creating if needed) the bus log at `path`.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let database = Database::connect_sqlite(path).await?;
        sqlx::migrate!("./bus_migrations")
            .run(database.pool())
            .await
            .context("embedded bus migration failed")?;
        Ok(Self {
            database,
            appended: watch::Sender::new(0),
        })
    }
}

#[async_trait]
impl EventBus for EmbeddedBus {
    fn messaging_system(&self) -> &'static str {
        spans::EMBEDDED
    }

    async fn create_topics(&self, topics: &[String]) -> anyhow::Result<()> {
        for topic in topics {
            sqlx::query(
                "INSERT INTO bus_topics (topic) VALUES ($1) ON CONFLICT (topic) DO NOTHING",
            )
            .bind(topic)
            .execute(self.database.pool())
            .await?;
        }
        Ok(())
    }

    async fn publish(&self, messages: &[BusMessage]) -> anyhow::Result<()> {
        for message in messages {
            refuse_oversized(message)?;
        }
        self.append(messages.iter()).await
    }

    async fn publish_each(&self, messages: &[BusMessage]) -> Vec<anyhow::Result<()>> {
        let checked: Vec<anyhow::Result<()>> = messages.iter().map(refuse_oversized).collect();
        let accepted = messages
            .iter()
            .zip(&checked)
            .filter_map(|(message, check)| check.is_ok().then_some(message));
        match self.append(accepted).await {
            Ok(()) => checked,
            // The accepted ones were appended in one transaction: they failed together.
            Err(error) => {
                let error = format!("{error:#}");
                checked
                    .into_iter()
                    .map(|check| check.and_then(|()| Err(anyhow::anyhow!("{error}"))))
                    .collect()
            }
        }
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[String],
    ) -> anyhow::Result<Box<dyn Subscription>> {
        let mut positions = HashMap::new();
        for topic in topics {
            let committed: Option<i64> = sqlx::query_scalar(
                "SELECT next_seq FROM bus_offsets WHERE consumer_group = $1 AND topic = $2",
            )
            .bind(group)
            .bind(topic)
            .fetch_optional(self.database.pool())
            .await?;
            positions.insert(topic.clone(), committed.unwrap_or(1));
        }
        Ok(Box::new(EmbeddedSubscription {
            database: self.database.clone(),
            group: group.to_owned(),
            fetch_from: positions,
            buffered: VecDeque::new(),
            appended: self.appended.subscribe(),
        }))
    }
}

impl EmbeddedBus {
    /// Appends messages to their topics in one transaction.
    async fn append(&self, messages: impl Iterator<Item = &BusMessage>) -> anyhow::Result<()> {
        let mut transaction = self.database.begin_write().await?;
        // One producer span per message, ended when the transaction that appends them commits.
        let mut sends = Vec::new();
        for message in messages {
            let span = spans::producer_span(spans::EMBEDDED, message);
            let headers = spans::headers_under(&span, &message.headers);
            // One statement checks the topic, computes the next sequence number and appends:
            // a transaction that starts by writing never has to upgrade a SQLite read lock.
            let seq: Option<i64> = sqlx::query_scalar(
                "INSERT INTO bus_log (topic, seq, message_key, headers, payload, appended_at) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM bus_log WHERE topic = $1 \
                 HAVING EXISTS (SELECT 1 FROM bus_topics WHERE topic = $1) RETURNING seq",
            )
            .bind(&message.topic)
            .bind(&message.key)
            .bind(serde_json::to_string(&headers)?)
            .bind(&message.payload)
            .bind(UnixMillis::now().as_i64())
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(seq) = seq else {
                // Nothing of this transaction is appended.
                sends.iter().chain([&span]).for_each(spans::record_failure);
                anyhow::bail!("unknown topic {}", message.topic);
            };
            spans::record_placement(&span, 0, seq);
            sends.push(span);
        }
        if let Err(error) = transaction.commit().await {
            sends.iter().for_each(spans::record_failure);
            return Err(error.into());
        }
        drop(sends);
        self.appended
            .send_modify(|count| *count = count.wrapping_add(1));
        Ok(())
    }
}

/// Refuses a message larger than Kafka producers accept by default, so that an event that
/// flows in embedded mode flows on Kafka too (and one request cannot grow the log without
/// bound).
fn refuse_oversized(message: &BusMessage) -> anyhow::Result<()> {
    let size = message.key.len()
        + message.payload.len()
        + message
            .headers
            .iter()
            .map(|(key, value)| key.len() + value.len())
            .sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(MessageRefused {
            reason: format!("message of {size} bytes is larger than {MAX_MESSAGE_BYTES} bytes"),
        }
        .into());
    }
    Ok(())
}

struct EmbeddedSubscription {
    database: Database,
    group: String,
    /// Per topic, the next sequence number to fetch (ahead of the committed one).
    fetch_from: HashMap<String, i64>,
    buffered: VecDeque<Delivery>,
    appended: watch::Receiver<u64>,
}

impl EmbeddedSubscription {
    async fn fetch(&mut self) -> anyhow::Result<()> {
        for (topic, next_seq) in &mut self.fetch_from {
            let rows = sqlx::query(
                "SELECT seq, message_key, headers, payload FROM bus_log \
                 WHERE topic = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(topic.as_str())
            .bind(*next_seq)
            .bind(FETCH_BATCH)
            .fetch_all(self.database.pool())
            .await?;
            for row in rows {
                let seq: i64 = row.try_get("seq")?;
                let headers: String = row.try_get("headers")?;
                self.buffered.push_back(Delivery {
                    message: BusMessage {
                        topic: topic.clone(),
                        key: row.try_get("message_key")?,
                        headers: serde_json::from_str(&headers)?,
                        payload: row.try_get("payload")?,
                    },
                    partition: 0,
                    offset: seq,
                });
                *next_seq = seq + 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Subscription for EmbeddedSubscription {
    async fn next(&mut self) -> anyhow::Result<Delivery> {
        loop {
            if let Some(delivery) = self.buffered.pop_front() {
                return Ok(delivery);
            }
            // Mark the current version seen before fetching, so an append during the fetch wakes us.
            self.appended.borrow_and_update();
            self.fetch().await?;
            if self.buffered.is_empty() {
                let woken = tokio::time::timeout(CROSS_PROCESS_POLL, self.appended.changed()).await;
                if matches!(woken, Ok(Err(_))) {
                    // The bus in this process is gone; keep polling the file at the slow pace.
                    tokio::time::sleep(CROSS_PROCESS_POLL).await;
                }
            }
        }
    }

    async fn commit(&mut self, delivery: &Delivery) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO bus_offsets (consumer_group, topic, next_seq) VALUES ($1, $2, $3) \
             ON CONFLICT (consumer_group, topic) DO UPDATE SET next_seq = excluded.next_seq",
        )
        .bind(&self.group)
        .bind(&delivery.message.topic)
        .bind(delivery.offset + 1)
        .execute(self.database.pool())
        .await?;
        Ok(())
    }

    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        // Commits are written through; nothing is pending.
        Ok(())
    }
}
