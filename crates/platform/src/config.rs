//! Configuration: defaults, then an optional TOML file, then `MI_` environment variables, then
//! `*_FILE` secrets.
//!
//! Sections nest with `__` in variable names: `MI_KAFKA__BROKERS` sets `kafka.brokers`, and
//! `MI_VERIFICATION__CODE_HASH_KEY_FILE=/run/secrets/hash` sets `verification.code_hash_key` to
//! the file's contents. `MI_CONFIG` names the TOML file (default `mi-account.toml`, if present).
//! Each service extracts its own section; the shared infrastructure is the top level.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

const ENV_PREFIX: &str = "MI_";
const CONFIG_FILE_VARIABLE: &str = "MI_CONFIG";
const DEFAULT_CONFIG_FILE: &str = "mi-account.toml";

/// The layered configuration sources, from which each part extracts its section.
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    figment: Figment,
}

impl ConfigLoader {
    /// Reads the file named by `MI_CONFIG`, the `MI_` variables and the `*_FILE` secrets.
    pub fn from_env() -> anyhow::Result<Self> {
        let file =
            std::env::var(CONFIG_FILE_VARIABLE).unwrap_or_else(|_| DEFAULT_CONFIG_FILE.into());
        let figment = Figment::new().merge(Toml::file(&file)).merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .ignore(&["config"])
                .filter(|key| !key.as_str().to_ascii_lowercase().ends_with("_file")),
        );
        Ok(Self {
            figment: merge_secret_files(figment, std::env::vars())?,
        })
    }

    /// Uses an already built figment; tests set their values this way.
    pub fn from_figment(figment: Figment) -> Self {
        Self { figment }
    }

    /// Sets one value by its dotted key, over everything loaded so far.
    pub fn with_value(self, key: &str, value: impl serde::Serialize) -> Self {
        Self {
            figment: self.figment.merge(Serialized::default(key, value)),
        }
    }

    /// The shared infrastructure settings, validated.
    pub fn infra(&self) -> anyhow::Result<InfraConfig> {
        let infra: InfraConfig = self.figment.extract().context("invalid configuration")?;
        infra.validate()?;
        Ok(infra)
    }

    /// One service's section, e.g. `verification`, with defaults for what is not set.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> anyhow::Result<T> {
        if !self.figment.contains(name) {
            return Ok(T::default());
        }
        self.figment
            .extract_inner(name)
            .with_context(|| format!("invalid configuration in section {name}"))
    }
}

/// Turns each `MI_A__B_FILE=/path` into the value of `a.b`, read from the file.
fn merge_secret_files(
    mut figment: Figment,
    variables: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<Figment> {
    for (name, path) in variables {
        let Some(key) = name
            .strip_prefix(ENV_PREFIX)
            .and_then(|rest| rest.strip_suffix("_FILE"))
        else {
            continue;
        };
        let contents = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {name} from {path}"))?;
        let key = key.to_lowercase().replace("__", ".");
        figment = figment.merge(Serialized::default(&key, contents.trim_end().to_owned()));
    }
    Ok(figment)
}

/// Settings every service shares: where data lives and how to reach the servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct InfraConfig {
    /// SQLite files, the embedded bus and development keys live here in embedded mode.
    pub data_dir: PathBuf,
    /// PostgreSQL; when unset, each service uses a SQLite file under `data_dir`.
    pub postgres: PostgresConfig,
    /// Kafka; when unset, events travel on the embedded bus.
    pub kafka: KafkaConfig,
    /// Redis; when unset, rate limits are kept in memory.
    pub redis: RedisConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// The outbox relay.
    pub outbox: OutboxConfig,
    /// Event consumers.
    pub consumer: ConsumerConfig,
    /// Deleting expired rows.
    pub retention: RetentionConfig,
    /// Seals codes inside events; held by verification and notification only (base64, 32 bytes).
    pub code_encryption_key: Option<SecretString>,
}

impl Default for InfraConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            postgres: PostgresConfig::default(),
            kafka: KafkaConfig::default(),
            redis: RedisConfig::default(),
            telemetry: TelemetryConfig::default(),
            outbox: OutboxConfig::default(),
            consumer: ConsumerConfig::default(),
            retention: RetentionConfig::default(),
            code_encryption_key: None,
        }
    }
}

impl InfraConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.postgres.url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            anyhow::bail!("invalid configuration: postgres.url must start with postgres://");
        }
        if !self
            .postgres
            .database_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            anyhow::bail!(
                "invalid configuration: postgres.database_prefix may only hold letters, digits and _"
            );
        }
        if self.kafka.brokers.as_deref().is_some_and(str::is_empty) {
            anyhow::bail!("invalid configuration: kafka.brokers is empty");
        }
        if self.kafka.partitions < 1 || self.kafka.replication_factor < 1 {
            anyhow::bail!(
                "invalid configuration: kafka.partitions and kafka.replication_factor must be at least 1"
            );
        }
        if self
            .redis
            .url
            .as_deref()
            .is_some_and(|url| !url.starts_with("redis://") && !url.starts_with("rediss://"))
        {
            anyhow::bail!("invalid configuration: redis.url must start with redis:// or rediss://");
        }
        if self.consumer.max_attempts < 1 || self.outbox.batch_size < 1 {
            anyhow::bail!(
                "invalid configuration: consumer.max_attempts and outbox.batch_size must be at least 1"
            );
        }
        Ok(())
    }

    /// Whether this is embedded mode (no PostgreSQL): development defaults are allowed.
    pub fn is_embedded(&self) -> bool {
        self.postgres.url.is_none()
    }

    /// Where a development key is kept in embedded mode; `None` when a real key is required.
    pub fn dev_key_file(&self, name: &str) -> Option<PathBuf> {
        self.is_embedded()
            .then(|| self.data_dir.join("dev-keys").join(format!("{name}.key")))
    }

    /// The full name of a topic, with the configured prefix.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.kafka.topic_prefix)
    }

    /// The SQLite file of a service in embedded mode.
    pub fn sqlite_path(&self, database: &str) -> PathBuf {
        Path::new(&self.data_dir).join(format!("{database}.db"))
    }
}

/// PostgreSQL connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PostgresConfig {
    /// A server URL such as `postgres://user:password@host:5432`; each service uses its own
    /// database on it, named `{database_prefix}{service}` and created at start if missing.
    pub url: Option<String>,
    /// Prefix of the per-service database names.
    pub database_prefix: String,
    /// Connections per service pool.
    pub max_connections: u32,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: None,
            database_prefix: "mi_".into(),
            max_connections: 16,
        }
    }
}

/// Kafka connection and topic settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    /// Bootstrap servers, e.g. `kafka:9092`.
    pub brokers: Option<String>,
    /// Prepended to every topic and consumer group name (isolates tests and environments).
    pub topic_prefix: String,
    /// Partitions of each topic a service creates.
    pub partitions: i32,
    /// Replication factor of each topic a service creates.
    pub replication_factor: i32,
    /// `retention.ms` of each topic a service creates.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How long the producer keeps trying one message before reporting failure.
    #[serde(with = "humantime_serde")]
    pub message_timeout: Duration,
    /// Idempotent producer (on for Apache Kafka; turn off for brokers that lack it).
    pub idempotent_producer: bool,
    /// The longest a consumer's fetch waits for new messages: bounds the delivery latency on
    /// brokers that hold a fetch for its full wait (tansu), costs only idle polls elsewhere.
    #[serde(with = "humantime_serde")]
    pub fetch_max_wait: Duration,
    /// librdkafka debug contexts, e.g. `cgrp,fetch`, logged under the `librdkafka` target.
    pub debug: Option<String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            topic_prefix: "mi.".into(),
            partitions: 3,
            replication_factor: 1,
            retention: Duration::from_secs(7 * 24 * 3600),
            message_timeout: Duration::from_secs(30),
            idempotent_producer: true,
            fetch_max_wait: Duration::from_millis(20),
            debug: None,
        }
    }
}

/// Redis connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// E.g. `redis://127.0.0.1:6379`.
    pub url: Option<String>,
    /// Prepended to every key.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "mi:".into(),
        }
    }
}

/// Logging and trace export.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `tracing` filter directives, e.g. `info,mi_verification=debug`; `RUST_LOG` wins.
    pub log_filter: String,
    /// Log lines as JSON instead of text.
    pub json_logs: bool,
    /// OTLP gRPC endpoint, e.g. `http://otel-collector:4317`; traces are exported only if set.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            json_logs: false,
            otlp_endpoint: None,
        }
    }
}

/// The outbox relay's pace.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxConfig {
    /// Rows claimed and published at once.
    pub batch_size: i64,
    /// How often the relay looks for rows written by other replicas.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a claim lasts before another relay may take the rows over.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// The longest wait between retries while the bus is unreachable.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_millis(250),
            lease: Duration::from_secs(60),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// How often each service deletes its expired rows (`crate::retention`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Time between sweeps.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(600),
        }
    }
}

/// How consumers retry a failing handler before dead-lettering the event.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    /// Handler attempts per event, the first included.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles on each further one.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_set_nested_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("hash");
        std::fs::write(&secret, "s3cret\n").expect("write");
        let variables = vec![
            (
                "MI_VERIFICATION__CODE_HASH_KEY_FILE".to_owned(),
                secret.display().to_string(),
            ),
            ("OTHER_FILE".to_owned(), "/nonexistent".to_owned()),
        ];
        let figment = merge_secret_files(Figment::new(), variables.into_iter()).expect("merge");
        let value: String = figment
            .extract_inner("verification.code_hash_key")
            .expect("key");
        assert_eq!(value, "s3cret");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn env_variables_override_defaults_and_are_validated() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MI_KAFKA__BROKERS", "127.0.0.1:9092");
            jail.set_env("MI_KAFKA__PARTITIONS", "6");
            jail.set_env("MI_OUTBOX__POLL_INTERVAL", "50ms");
            let infra = ConfigLoader::from_env()
                .expect("load")
                .infra()
                .expect("valid");
            assert_eq!(infra.kafka.brokers.as_deref(), Some("127.0.0.1:9092"));
            assert_eq!(infra.kafka.partitions, 6);
            assert_eq!(infra.outbox.poll_interval, Duration::from_millis(50));
            assert!(infra.is_embedded());

            jail.set_env("MI_POSTGRES__URL", "mysql://nope");
            let error = ConfigLoader::from_env()
                .expect("load")
                .infra()
                .expect_err("invalid");
            assert!(error.to_string().contains("postgres.url"), "{error}");
            Ok(())
        });
    }
}
