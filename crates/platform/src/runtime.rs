//! The infrastructure one process shares between its services: the bus and the limiter,
//! chosen from configuration (Kafka or embedded, Redis or in-memory).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::bus::{EmbeddedBus, EventBus, KafkaBus};
use crate::config::{InfraConfig, RedisConfig};
use crate::crypto::{CodeCipher, SecretKey};
use crate::ephemeral::{EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore};
use crate::limiter::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use crate::redis_connection::{self, RedisConnection};
use crate::send_token::SendTokenSealer;

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
    /// Where this process serves its Prometheus metrics, when `metrics.listen_addr` is set.
    pub metrics_address: Option<SocketAddr>,
}

impl Platform {
    /// Builds the bus and limiter the configuration names.
    ///
    /// Refuses PostgreSQL without Redis or Kafka unless `dev.allow_process_local_state` is set.
    pub async fn connect(config: InfraConfig) -> anyhow::Result<Self> {
        refuse_process_local_state(&config)?;
        let bus: Arc<dyn EventBus> = match &config.kafka.brokers {
            Some(brokers) => Arc::new(KafkaBus::new(brokers, &config.kafka)?),
            None => Arc::new(EmbeddedBus::open(&config.data_dir.join("bus.db")).await?),
        };
        let (limiter, ephemeral): (Arc<dyn RateLimiter>, Arc<dyn EphemeralStore>) =
            match connect_redis(&config.redis).await? {
                Some(connection) => {
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
        let metrics_address = match config.metrics.listen_addr {
            Some(address) => Some(crate::metrics::serve_endpoint(address).await?),
            None => None,
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
            limiter = match (&config.redis.url, &config.redis.cluster_urls) {
                (Some(_), _) => "redis",
                (None, Some(_)) => "redis cluster",
                (None, None) => "memory",
            },
            "platform ready"
        );
        Ok(Self {
            config: Arc::new(config),
            bus,
            limiter,
            ephemeral,
            metrics_address,
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

    /// The sealer of send tokens, shared by identity (seals) and verification (opens): the
    /// configured key, or in embedded mode the data directory's development key.
    pub fn send_token_sealer(&self) -> anyhow::Result<SendTokenSealer> {
        let key = SecretKey::configured_or_dev(
            self.config.send_token_key.as_ref(),
            self.config.dev_key_file("send-token").as_deref(),
            "send_token_key",
        )?;
        Ok(SendTokenSealer::new(&key))
    }
}

/// One Redis server (`redis.url`), a Redis Cluster (`redis.cluster_urls`), or none.
async fn connect_redis(config: &RedisConfig) -> anyhow::Result<Option<RedisConnection>> {
    let ca = config.ca.as_deref();
    if let Some(nodes) = config.cluster_nodes() {
        return Ok(Some(
            redis_connection::connect_cluster(&nodes, ca, config.timeout).await?,
        ));
    }
    match &config.url {
        Some(url) => Ok(Some(
            redis_connection::connect_with_ca(url, ca, config.timeout).await?,
        )),
        None => Ok(None),
    }
}

/// With PostgreSQL, several replicas are expected: limits, lockouts and CAPTCHA answers kept in
/// one process's memory, or events on a local bus file, would silently not be shared.
fn refuse_process_local_state(config: &InfraConfig) -> anyhow::Result<()> {
    if config.is_embedded() {
        return Ok(());
    }
    let missing: Vec<&str> = [
        (!config.redis.is_set(), "redis.url"),
        (config.kafka.brokers.is_none(), "kafka.brokers"),
    ]
    .into_iter()
    .filter_map(|(missing, key)| missing.then_some(key))
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let missing = missing.join(" and ");
    anyhow::ensure!(
        config.dev.allow_process_local_state,
        "invalid configuration: postgres.url is set but {missing} is not, so rate limits, lockouts \
         and CAPTCHA answers (and, without Kafka, events) would stay in this process; set {missing}, \
         or for a single-process development setup set dev.allow_process_local_state \
         (MI_DEV__ALLOW_PROCESS_LOCAL_STATE=true)"
    );
    tracing::warn!(
        missing,
        "DEVELOPMENT ONLY: PostgreSQL without {missing} (dev.allow_process_local_state): rate \
         limits, lockouts and CAPTCHA answers are kept per process; never run replicas like this"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use mi_test_support::CapturedLogs;

    use super::Platform;
    use crate::config::ConfigLoader;

    /// Server mode with Kafka on a closed port (the client connects lazily) and no Redis.
    fn postgres_without_redis() -> ConfigLoader {
        ConfigLoader::from_figment(Figment::new())
            .with_value("postgres.url", "postgres://db:5432")
            .with_value("kafka.brokers", "127.0.0.1:1")
    }

    #[tokio::test]
    async fn postgres_without_redis_or_kafka_is_refused_unless_allowed() {
        let error = Platform::connect(postgres_without_redis().infra().expect("config"))
            .await
            .expect_err("no redis");
        let message = error.to_string();
        assert!(
            message.contains("redis.url") && message.contains("MI_DEV__ALLOW_PROCESS_LOCAL_STATE"),
            "{message}"
        );
        let without_kafka = ConfigLoader::from_figment(Figment::new())
            .with_value("postgres.url", "postgres://db:5432")
            .with_value("redis.url", "redis://127.0.0.1:1")
            .infra()
            .expect("config");
        let error = Platform::connect(without_kafka)
            .await
            .expect_err("no kafka");
        assert!(error.to_string().contains("kafka.brokers"), "{error}");
    }

    #[tokio::test]
    async fn the_switch_allows_it_and_is_logged_loudly() {
        let allowed = postgres_without_redis()
            .with_value("dev.allow_process_local_state", true)
            .infra()
            .expect("config");
        let captured = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        Platform::connect(allowed).await.expect("allowed");
        let logs = captured.text();
        assert!(
            logs.lines()
                .any(|line| line.contains("WARN") && line.contains("DEVELOPMENT ONLY")),
            "{logs}"
        );
    }
}
