//! The event bus: Kafka in production, an embedded log in one process for development.
//!
//! Both implementations pass the same contract suite (`tests/bus_contract.rs`): messages are
//! delivered at least once to every consumer group, in order per key, and a group resumes after
//! the last committed message.

mod embedded;
mod kafka;
mod kafka_security;
mod producer;
mod spans;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

pub use embedded::{EmbeddedBus, MAX_MESSAGE_BYTES as EMBEDDED_MAX_MESSAGE_BYTES};
pub use kafka::KafkaBus;
pub(crate) use spans::headers_under;
pub use spans::process_span;

/// A message to publish or a message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// The full topic name.
    pub topic: String,
    /// The partitioning key: the aggregate id.
    pub key: String,
    /// Event type, trace context and dead-letter details.
    pub headers: Vec<(String, String)>,
    /// The encoded event envelope.
    pub payload: Vec<u8>,
}

impl BusMessage {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The bus refuses a message for what it is (too large, malformed): publishing it again cannot
/// succeed, unlike a failure of the bus itself (unreachable, timed out), which a retry may pass.
#[derive(Debug, thiserror::Error)]
#[error("the bus refuses this message: {reason}")]
pub struct MessageRefused {
    /// Why, as the bus says it.
    pub reason: String,
}

impl MessageRefused {
    /// Whether `error`, or one of its causes, is a refusal rather than a transient failure.
    pub fn is_cause_of(error: &anyhow::Error) -> bool {
        error.chain().any(|cause| cause.is::<MessageRefused>())
    }
}

/// A received message and where it sits in its topic, for committing.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub message: BusMessage,
    /// Kafka partition, or 0 on the embedded bus.
    pub partition: i32,
    /// Kafka offset, or the embedded log's sequence number.
    pub offset: i64,
}

/// Publishes messages and hands out subscriptions.
#[async_trait]
pub trait EventBus: Send + Sync + Debug {
    /// `messaging.system` in the spans of messages sent and processed on this bus.
    fn messaging_system(&self) -> &'static str;

    /// Creates the topics that do not exist yet (configured partitions and retention).
    async fn create_topics(&self, topics: &[String]) -> anyhow::Result<()>;

    /// Publishes messages; returns once the bus has durably accepted every one of them.
    async fn publish(&self, messages: &[BusMessage]) -> anyhow::Result<()>;

    /// Publishes each message on its own, so that one the bus refuses does not fail the
    /// others: one result per message, in order. A refusal for what the message is (too large,
    /// malformed) is a [`MessageRefused`]; any other error may pass if retried.
    async fn publish_each(&self, messages: &[BusMessage]) -> Vec<anyhow::Result<()>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.publish(std::slice::from_ref(message)).await);
        }
        results
    }

    /// Joins a consumer group on some topics.
    async fn subscribe(
        &self,
        group: &str,
        topics: &[String],
    ) -> anyhow::Result<Box<dyn Subscription>>;
}

/// One consumer's view of its group's topics.
#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next message.
    async fn next(&mut self) -> anyhow::Result<Delivery>;

    /// Records that `delivery` (and everything before it in its partition) is processed.
    async fn commit(&mut self, delivery: &Delivery) -> anyhow::Result<()>;

    /// What this member can tell about the messages waiting for its group, to ask from a task
    /// beside the consumer (a stuck handler must not freeze the figures); `None` on a bus
    /// without partitions to measure.
    fn lag_probe(&self) -> Option<Arc<dyn LagProbe>> {
        None
    }

    /// Commits what was recorded and leaves the group.
    async fn close(self: Box<Self>) -> anyhow::Result<()>;
}

/// How far a consumer group is behind, as one of its members sees it.
#[async_trait]
pub trait LagProbe: Send + Sync {
    /// For each partition this member holds: the messages after the group's committed position.
    async fn assigned_lag(&self) -> anyhow::Result<Vec<PartitionLag>>;

    /// How many messages wait for this group in its topics while this member holds none of
    /// their partitions (a member the broker left out of the assignment); `None` while it
    /// holds some, or nothing waits.
    async fn lag_without_partitions(&self) -> anyhow::Result<Option<i64>>;
}

/// Messages a group has not consumed yet in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The full topic name.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The high watermark less the group's committed offset (or the low watermark, where it
    /// committed none); never negative.
    pub messages: i64,
}
