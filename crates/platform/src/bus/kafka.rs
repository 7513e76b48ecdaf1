//! The Kafka bus, on librdkafka (rdkafka's bundled build).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use super::producer::RenewableProducer;
use super::{
    BusMessage, Delivery, EventBus, LagProbe, MessageRefused, PartitionLag, Subscription, spans,
};
use crate::config::KafkaConfig;

/// Publishes to and consumes from a Kafka cluster.
pub struct KafkaBus {
    brokers: String,
    config: KafkaConfig,
    producer: RenewableProducer,
    admin: AdminClient<DefaultClientContext>,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KafkaBus")
            .field("brokers", &self.brokers)
            .finish()
    }
}

impl KafkaBus {
    /// Creates the producer and admin clients; they connect lazily, so a broker that is down
    /// now does not stop the service from starting.
    pub fn new(brokers: &str, config: &KafkaConfig) -> anyhow::Result<Self> {
        let mut producer_settings = client_config(brokers, config);
        producer_settings
            .set("acks", "all")
            .set("enable.idempotence", config.idempotent_producer.to_string())
            .set(
                "message.timeout.ms",
                config.message_timeout.as_millis().to_string(),
            )
            .set("linger.ms", "2");
        let producer = RenewableProducer::new(producer_settings)
            .context("cannot create the Kafka producer")?;
        let admin = client_config(brokers, config)
            .create()
            .context("cannot create the Kafka admin client")?;
        Ok(Self {
            brokers: brokers.to_owned(),
            config: config.clone(),
            producer,
            admin,
        })
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    fn messaging_system(&self) -> &'static str {
        spans::KAFKA
    }

    async fn create_topics(&self, topics: &[String]) -> anyhow::Result<()> {
        let retention = self.config.retention.as_millis().to_string();
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|topic| {
                NewTopic::new(
                    topic,
                    self.config.partitions,
                    TopicReplication::Fixed(self.config.replication_factor),
                )
                .set("retention.ms", &retention)
            })
            .collect();
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        let results = self
            .admin
            .create_topics(&new_topics, &options)
            .await
            .context("kafka create topics request failed")?;
        for result in results {
            match result {
                Ok(topic) => tracing::info!(topic, "created kafka topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => anyhow::bail!("cannot create kafka topic {topic}: {code}"),
            }
        }
        Ok(())
    }

    async fn publish(&self, messages: &[BusMessage]) -> anyhow::Result<()> {
        self.publish_each(messages).await.into_iter().collect()
    }

    async fn publish_each(&self, messages: &[BusMessage]) -> Vec<anyhow::Result<()>> {
        let producer = self.producer.current();
        // All sends are in flight at once (librdkafka batches them); each has its own result.
        let sends = messages.iter().map(|message| {
            let producer = &producer;
            let span = spans::producer_span(spans::KAFKA, message);
            let headers = spans::headers_under(&span, &message.headers).iter().fold(
                OwnedHeaders::new(),
                |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: Some(value),
                    })
                },
            );
            let record = FutureRecord::to(&message.topic)
                .key(&message.key)
                .payload(&message.payload)
                .headers(headers);
            async move {
                let sent = producer.send(record, Timeout::Never).await;
                match &sent {
                    Ok(delivery) => {
                        spans::record_placement(&span, delivery.partition, delivery.offset)
                    }
                    Err(_) => spans::record_failure(&span),
                }
                sent.map(|_| ()).map_err(|(error, _)| error)
            }
        });
        let results = join_all(sends).await;
        let errors = results.iter().filter_map(|result| result.as_ref().err());
        if self.producer.renew_if_stuck(&producer, errors) {
            // The old producer flushes and joins its thread when dropped: not on a worker.
            tokio::task::spawn_blocking(move || drop(producer));
        }
        results
            .into_iter()
            .zip(messages)
            .map(|(result, message)| result.map_err(|error| publish_error(error, &message.topic)))
            .collect()
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[String],
    ) -> anyhow::Result<Box<dyn Subscription>> {
        let mut settings = client_config(&self.brokers, &self.config);
        if let Some(instance) = self.config.group_instance_id(group) {
            settings.set("group.instance.id", instance);
        }
        let session_timeout = self.config.session_timeout.as_millis();
        let consumer: StreamConsumer = settings
            .set("group.id", group)
            .set("session.timeout.ms", session_timeout.to_string())
            .set("heartbeat.interval.ms", (session_timeout / 3).to_string())
            .set(
                "partition.assignment.strategy",
                &self.config.partition_assignment,
            )
            // Offsets are stored only after a message is processed, then committed in the
            // background, on rebalance and on close: at-least-once delivery.
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set(
                "fetch.wait.max.ms",
                self.config.fetch_max_wait.as_millis().to_string(),
            )
            .create()
            .context("cannot create the Kafka consumer")?;
        let topic_names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topic_names)
            .context("cannot subscribe")?;
        Ok(Box::new(KafkaSubscription {
            consumer: Arc::new(consumer),
            topics: topics.to_vec(),
        }))
    }
}

/// A failed send, marked [`MessageRefused`] when the message itself is at fault: larger than
/// `message.max.bytes` (librdkafka checks it before sending) or the broker's limit, or a
/// record the broker calls invalid. Transport errors and timeouts stay transient.
fn publish_error(error: KafkaError, topic: &str) -> anyhow::Error {
    let refused = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidTimestamp
                | RDKafkaErrorCode::BadMessage
        )
    );
    let context = format!("kafka did not accept a message for {topic}");
    if refused {
        let reason = error.to_string();
        anyhow::Error::new(MessageRefused { reason }).context(context)
    } else {
        anyhow::Error::new(error).context(context)
    }
}

/// Settings every client of this bus shares (producer, consumers, admin), TLS and SASL
/// among them.
fn client_config(brokers: &str, config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    if let Some(debug) = &config.debug {
        client.set("debug", debug);
    }
    for (key, value) in super::kafka_security::settings(config) {
        client.set(key, value);
    }
    client
}

struct KafkaSubscription {
    // Shared with the lag probe, which asks the broker about the group.
    consumer: Arc<StreamConsumer>,
    topics: Vec<String>,
}

/// How long a question to the broker about offsets may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the broker how far the group of a [`KafkaSubscription`] is behind; shares its consumer.
struct KafkaLagProbe {
    consumer: Arc<StreamConsumer>,
    topics: Vec<String>,
}

impl KafkaLagProbe {
    /// Runs `measure` on the consumer off the async workers: it blocks on broker round trips.
    async fn blocking<T: Send + 'static>(
        &self,
        measure: impl FnOnce(&StreamConsumer, &[String]) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (consumer, topics) = (Arc::clone(&self.consumer), self.topics.clone());
        tokio::task::spawn_blocking(move || measure(&consumer, &topics))
            .await
            .context("kafka lag task failed")?
    }
}

#[async_trait]
impl LagProbe for KafkaLagProbe {
    async fn assigned_lag(&self) -> anyhow::Result<Vec<PartitionLag>> {
        self.blocking(|consumer, _| partition_lags(consumer, consumer.assignment()?))
            .await
    }

    async fn lag_without_partitions(&self) -> anyhow::Result<Option<i64>> {
        if self.consumer.assignment()?.count() > 0 {
            return Ok(None);
        }
        let lag = self.blocking(group_lag).await?;
        Ok((lag > 0).then_some(lag))
    }
}

/// Messages the group has not consumed yet in all partitions of `topics`.
fn group_lag(consumer: &StreamConsumer, topics: &[String]) -> anyhow::Result<i64> {
    let mut partitions = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        for partition in metadata
            .topics()
            .iter()
            .flat_map(|topic| topic.partitions())
        {
            partitions.add_partition(topic, partition.id());
        }
    }
    let lags = partition_lags(consumer, partitions)?;
    Ok(lags.iter().map(|lag| lag.messages).sum())
}

/// Messages the group has not consumed yet in each of `partitions`: the high watermark less
/// the group's committed offset (or the low watermark, where it committed none). Committed,
/// not fetched: a member stuck on a message it fetched has not consumed what follows it.
fn partition_lags(
    consumer: &StreamConsumer,
    partitions: TopicPartitionList,
) -> anyhow::Result<Vec<PartitionLag>> {
    if partitions.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer.committed_offsets(partitions, METADATA_TIMEOUT)?;
    committed
        .elements()
        .iter()
        .map(|element| {
            let (low, high) = consumer.fetch_watermarks(
                element.topic(),
                element.partition(),
                METADATA_TIMEOUT,
            )?;
            let position = match element.offset() {
                Offset::Offset(offset) => offset.max(low),
                _ => low,
            };
            Ok(PartitionLag {
                topic: element.topic().to_owned(),
                partition: element.partition(),
                messages: (high - position).max(0),
            })
        })
        .collect()
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> anyhow::Result<Delivery> {
        let message = self.consumer.recv().await.context("kafka receive failed")?;
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        let value = header
                            .value
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default();
                        (header.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Delivery {
            message: BusMessage {
                topic: message.topic().to_owned(),
                key: message
                    .key()
                    .map(|key| String::from_utf8_lossy(key).into_owned())
                    .unwrap_or_default(),
                headers,
                payload: message.payload().unwrap_or_default().to_vec(),
            },
            partition: message.partition(),
            offset: message.offset(),
        })
    }

    async fn commit(&mut self, delivery: &Delivery) -> anyhow::Result<()> {
        // librdkafka stores offset + 1, the next message to read.
        self.consumer
            .store_offset(&delivery.message.topic, delivery.partition, delivery.offset)
            .context("cannot store kafka offset")
    }

    fn lag_probe(&self) -> Option<Arc<dyn LagProbe>> {
        Some(Arc::new(KafkaLagProbe {
            consumer: Arc::clone(&self.consumer),
            topics: self.topics.clone(),
        }))
    }

    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        // A synchronous commit blocks on the broker: keep it off the async workers.
        let commit = tokio::task::spawn_blocking(move || {
            self.consumer.commit_consumer_state(CommitMode::Sync)
        })
        .await
        .context("kafka commit task failed")?;
        match commit {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(error) => Err(error).context("cannot commit kafka offsets on close"),
        }
    }
}
