//! The event bus: Kafka in production, an embedded log in one process for development.
//!
//! Both implementations pass the same contract suite (`tests/bus_contract.rs`): messages are
//! delivered at least once to every consumer group, in order per key, and a group resumes after
//! the last committed message.

mod embedded;
mod kafka;

use std::fmt::Debug;

use async_trait::async_trait;

pub use embedded::EmbeddedBus;
pub use kafka::KafkaBus;

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
    /// Creates the topics that do not exist yet (configured partitions and retention).
    async fn create_topics(&self, topics: &[String]) -> anyhow::Result<()>;

    /// Publishes messages; returns once the bus has durably accepted every one of them.
    async fn publish(&self, messages: &[BusMessage]) -> anyhow::Result<()>;

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

    /// Commits what was recorded and leaves the group.
    async fn close(self: Box<Self>) -> anyhow::Result<()>;
}
