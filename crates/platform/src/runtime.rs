//! The infrastructure one process shares between its services: the bus and the limiter,
//! chosen from configuration (Kafka or embedded, Redis or in-memory).

use std::sync::Arc;

use crate::bus::{EmbeddedBus, EventBus, KafkaBus};
use crate::config::InfraConfig;
use crate::crypto::{CodeCipher, SecretKey};
use crate::ephemeral::{EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore};
use crate::limiter::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};

/// The shared infrastructure handed to every service in a process.
#[derive(Debug, Clone)]
pub struct Platform {
    /// The shared settings.
    pub config: Arc<InfraConfig>,
    /// Kafka, or the embedded bus.
    pub bus: Arc<dyn EventBus>,
    /// Redis, or the in-memory limiter.
    pub limiter: Arc<dyn RateLimiter>,
    /// Redis, or an in-memory map: short-lived values such as CAPTCHA answers.
    pub ephemeral: Arc<dyn EphemeralStore>,
}

impl Platform {
    /// Builds the bus and limiter the configuration names.
    pub async fn connect(config: InfraConfig) -> anyhow::Result<Self> {
        let bus: Arc<dyn EventBus> = match &config.kafka.brokers {
            Some(brokers) => Arc::new(KafkaBus::new(brokers, &config.kafka)?),
            None => Arc::new(EmbeddedBus::open(&config.data_dir.join("bus.db")).await?),
        };
        let (limiter, ephemeral): (Arc<dyn RateLimiter>, Arc<dyn EphemeralStore>) =
            match &config.redis.url {
                Some(url) => {
                    let connection = crate::redis_connection::connect(url).await?;
                    let prefix = &config.redis.key_prefix;
                    (
                        Arc::new(RedisRateLimiter::new(connection.clone(), prefix)),
                        Arc::new(RedisEphemeralStore::new(connection, prefix)),
                    )
                }
                None => (
                    Arc::new(MemoryRateLimiter::new()),
                    Arc::new(MemoryEphemeralStore::new()),
                ),
            };
        tracing::info!(
            database = if config.postgres.url.is_some() {
                "postgresql"
            } else {
                "sqlite"
            },
            bus = if config.kafka.brokers.is_some() {
                "kafka"
            } else {
                "embedded"
            },
            limiter = if config.redis.url.is_some() {
                "redis"
            } else {
                "memory"
            },
            "platform ready"
        );
        Ok(Self {
            config: Arc::new(config),
            bus,
            limiter,
            ephemeral,
        })
    }

    /// The cipher for codes inside events, shared by verification (seals) and notification
    /// (opens): the configured key, or in embedded mode the data directory's development key.
    pub fn code_cipher(&self) -> anyhow::Result<CodeCipher> {
        let key = SecretKey::configured_or_dev(
            self.config.code_encryption_key.as_ref(),
            self.config.dev_key_file("code-encryption").as_deref(),
            "code_encryption_key",
        )?;
        Ok(CodeCipher::new(&key))
    }
}
