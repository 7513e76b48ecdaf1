//! The shared infrastructure settings: the top level of the configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::KafkaConfig;

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
    /// Seals the send tokens of contacts shown masked; held by identity (seals) and
    /// verification (opens) only (base64, 32 bytes).
    pub send_token_key: Option<SecretString>,
    /// Switches that let server mode run in ways fit for development only.
    pub dev: DevConfig,
    /// TLS of the gRPC ports; plaintext when unset.
    pub tls: TlsConfig,
    /// Health reporting and the shutdown grace.
    pub lifecycle: LifecycleConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
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
            send_token_key: None,
            dev: DevConfig::default(),
            tls: TlsConfig::default(),
            lifecycle: LifecycleConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl InfraConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.postgres.url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            anyhow::bail!("invalid configuration: postgres.url must start with postgres://");
        }
        if let Some(mode) = &self.postgres.ssl_mode
            && mode.parse::<sqlx::postgres::PgSslMode>().is_err()
        {
            anyhow::bail!(
                "invalid configuration: postgres.ssl_mode must be disable, allow, prefer, require, verify-ca or verify-full"
            );
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
        self.kafka.validate()?;
        self.redis.validate()?;
        self.tls.validate()?;
        if !(1..=ConsumerConfig::MAX_IN_FLIGHT).contains(&self.consumer.max_in_flight) {
            anyhow::bail!(
                "invalid configuration: consumer.max_in_flight must be 1 to {}",
                ConsumerConfig::MAX_IN_FLIGHT
            );
        }
        if self.lifecycle.readiness_interval.is_zero() {
            anyhow::bail!("invalid configuration: lifecycle.readiness_interval must not be 0");
        }
        if self.retention.processed_events < self.kafka.retention {
            anyhow::bail!(
                "invalid configuration: retention.processed_events must be at least kafka.retention: \
                 a consumer forgetting an event the topic still holds could apply it twice"
            );
        }
        if self.consumer.lag_interval.is_zero() {
            anyhow::bail!("invalid configuration: consumer.lag_interval must not be 0");
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

    /// Whether the dev inbox may be used: always in embedded mode, with PostgreSQL only when
    /// `dev.allow_dev_inbox` is set.
    pub fn dev_inbox_allowed(&self) -> bool {
        self.is_embedded() || self.dev.allow_dev_inbox
    }

    /// Allows a development convenience that server mode never runs (unlike the dev inbox,
    /// no switch lets it): refused with PostgreSQL configured, naming `setting`, its variable
    /// and `effect`; logged loudly at start in embedded mode, where it is allowed.
    pub fn embedded_only(&self, setting: &str, effect: &str) -> anyhow::Result<()> {
        let variable = super::env_variable(setting);
        anyhow::ensure!(
            self.is_embedded(),
            "invalid configuration: {setting} ({variable}) is for embedded mode only and \
             postgres.url is set: {effect}; unset it"
        );
        tracing::warn!(
            setting,
            "DEVELOPMENT ONLY: {setting} is on: {effect}; server mode refuses it"
        );
        Ok(())
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

/// Development switches, each refused by default with PostgreSQL configured and logged as a
/// warning at start when set (`MI_DEV__…`). Embedded mode needs none of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DevConfig {
    /// Allows the dev inbox with PostgreSQL: codes and alerts stored where anyone who reaches
    /// the notification service reads them (`ListInboxMessages`).
    pub allow_dev_inbox: bool,
    /// Allows PostgreSQL without Redis or without Kafka: rate limits, lockouts and CAPTCHA
    /// answers then live in each process, and events in a bus file under `data_dir`, so
    /// replicas do not share them.
    pub allow_process_local_state: bool,
}

/// TLS of the gRPC server: a certificate and key turn it on; a client CA makes clients
/// present a certificate it signed (mutual TLS). Each holds PEM text, usually read from a file
/// by the `*_FILE` variables: `MI_TLS__CERT_FILE`, `MI_TLS__KEY_FILE`, `MI_TLS__CLIENT_CA_FILE`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM certificate chain the server presents.
    pub cert: Option<String>,
    /// PEM private key of that certificate.
    pub key: Option<SecretString>,
    /// PEM CA certificates; when set, every client must present a certificate they signed.
    pub client_ca: Option<String>,
}

impl TlsConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if self.cert.is_some() != self.key.is_some() {
            anyhow::bail!(
                "invalid configuration: tls.cert and tls.key go together (MI_TLS__CERT_FILE, MI_TLS__KEY_FILE)"
            );
        }
        if self.client_ca.is_some() && self.cert.is_none() {
            anyhow::bail!(
                "invalid configuration: tls.client_ca (MI_TLS__CLIENT_CA_FILE) needs tls.cert and tls.key"
            );
        }
        Ok(())
    }
}

/// PostgreSQL connection settings.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct PostgresConfig {
    /// A server URL such as `postgres://user:password@host:5432`; each service uses its own
    /// database on it, named `{database_prefix}{service}` and created at start if missing.
    pub url: Option<String>,
    /// Prefix of the per-service database names.
    pub database_prefix: String,
    /// Connections per service pool.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before it answers UNAVAILABLE: short,
    /// so that while PostgreSQL is down clients hear so at once rather than at their deadline.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// TLS mode: `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`; set as
    /// `sslmode` in the URL, winning over the URL's own (which works too).
    pub ssl_mode: Option<String>,
    /// PEM file of the CA that signed the server's certificate, for `verify-ca`/`verify-full`
    /// (`sslrootcert` in the URL).
    pub ssl_root_cert: Option<PathBuf>,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: None,
            database_prefix: "mi_".into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(2),
            ssl_mode: None,
            ssl_root_cert: None,
        }
    }
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresConfig")
            .field("url", &self.url.as_deref().map(crate::redact::url))
            .field("database_prefix", &self.database_prefix)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .finish()
    }
}

/// Redis connection settings.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// E.g. `redis://127.0.0.1:6379`; `rediss://` for TLS, `redis://user:password@host` for
    /// an ACL user.
    pub url: Option<String>,
    /// Prepended to every key.
    pub key_prefix: String,
    /// A Redis Cluster instead of one server: some of its nodes' URLs, comma-separated (e.g.
    /// `redis://10.0.0.1:6379,redis://10.0.0.2:6379`; the others are found from the cluster),
    /// all with the same scheme and credentials. Not with `url`.
    pub cluster_urls: Option<String>,
    /// PEM CA certificates that verify a `rediss://` server instead of the system's roots
    /// (usually read from a file by `MI_REDIS__CA_FILE`).
    pub ca: Option<String>,
    /// How long one connection attempt or one command may take before it fails (and the
    /// request answers UNAVAILABLE): short, so a Redis outage is answered at once.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            cluster_urls: None,
            key_prefix: "mi:".into(),
            ca: None,
            timeout: Duration::from_secs(2),
        }
    }
}

impl RedisConfig {
    /// Whether Redis is configured, as one server or as a cluster.
    pub fn is_set(&self) -> bool {
        self.url.is_some() || self.cluster_urls.is_some()
    }

    /// The cluster nodes' URLs of `cluster_urls`, when set.
    pub fn cluster_nodes(&self) -> Option<Vec<&str>> {
        self.cluster_urls.as_deref().map(|urls| {
            urls.split(',')
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .collect()
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        let is_redis_url = |url: &str| url.starts_with("redis://") || url.starts_with("rediss://");
        if self.url.as_deref().is_some_and(|url| !is_redis_url(url)) {
            anyhow::bail!("invalid configuration: redis.url must start with redis:// or rediss://");
        }
        if let Some(nodes) = self.cluster_nodes() {
            anyhow::ensure!(
                self.url.is_none(),
                "invalid configuration: set redis.url (one server) or redis.cluster_urls (a cluster), not both"
            );
            anyhow::ensure!(
                !nodes.is_empty() && nodes.iter().all(|url| is_redis_url(url)),
                "invalid configuration: redis.cluster_urls must list redis:// or rediss:// URLs, comma-separated"
            );
        }
        // A brace in the prefix would make it every key's Redis Cluster hash tag: all keys in
        // one slot, and the limiter's groups ignored.
        anyhow::ensure!(
            !self.key_prefix.contains(['{', '}']),
            "invalid configuration: redis.key_prefix must not contain {{ or }}"
        );
        Ok(())
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisConfig")
            .field("url", &self.url.as_deref().map(crate::redact::url))
            .field(
                "cluster_urls",
                &self.cluster_nodes().map(|nodes| {
                    nodes
                        .into_iter()
                        .map(crate::redact::url)
                        .collect::<Vec<_>>()
                }),
            )
            .field("key_prefix", &self.key_prefix)
            .field("ca", &self.ca.is_some())
            .field("timeout", &self.timeout)
            .finish()
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
    /// How long a claim lasts unless renewed (its relay renews it every third of this while
    /// publishing): how long the rows of a relay that died wait for another to take them over.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// The longest wait between retries while the bus is unreachable.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// An event still unpublished after this long is logged as a warning: the relay is stuck
    /// or the bus is down.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_millis(250),
            lease: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            stale_after: Duration::from_secs(60),
        }
    }
}

/// How often each service deletes its expired rows (`crate::retention`), and how long the
/// platform's tables in every service's database keep theirs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Time between sweeps.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long a consumer remembers an event it applied. A copy of the event can come back as
    /// long as the topic holds it (a rebalance before the commit, a replayed offset, the relay
    /// publishing twice), so at least `kafka.retention`; twice that by default.
    #[serde(with = "humantime_serde")]
    pub processed_events: Duration,
    /// How long an event the bus refused stays parked in `outbox_dead_letters` for an operator
    /// to read, fix and publish again (the dead-letter alert fires within minutes).
    #[serde(with = "humantime_serde")]
    pub outbox_dead_letters: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(600),
            processed_events: Duration::from_secs(14 * 24 * 3600),
            outbox_dead_letters: Duration::from_secs(30 * 24 * 3600),
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
    /// Events handled at once by one consumer (1 to `MAX_IN_FLIGHT`): events with the same key
    /// stay in order, others run side by side, so a handler that waits on a provider does not
    /// hold the partition up. Keep it near the database pool (`postgres.max_connections`).
    pub max_in_flight: usize,
    /// How often a Kafka consumer measures its group's lag (per partition it holds, and
    /// whether it starves with none): a few broker round trips each time.
    #[serde(with = "humantime_serde")]
    pub lag_interval: Duration,
}

impl ConsumerConfig {
    /// The most `max_in_flight` may be: beyond it, a handler's provider or database is the
    /// bound, not the consumer.
    pub const MAX_IN_FLIGHT: usize = 1024;
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_in_flight: 32,
            lag_interval: Duration::from_secs(15),
        }
    }
}

/// How a service reports its health and how long it may take to stop.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LifecycleConfig {
    /// From SIGTERM to exit at most: health turns NOT_SERVING, in-flight RPCs finish, consumers
    /// commit and the relay stops within it; what is still running then is dropped. Keep
    /// Kubernetes' `terminationGracePeriodSeconds` above it plus the `preStop` sleep.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often readiness checks that the database (and Kafka, in server mode) answer; a check
    /// that takes longer than this counts as a failure.
    #[serde(with = "humantime_serde")]
    pub readiness_interval: Duration,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            shutdown_grace: Duration::from_secs(10),
            readiness_interval: Duration::from_secs(5),
        }
    }
}

/// The Prometheus scrape endpoint (`GET /metrics`). Off unless an address is set: an embedded
/// development process exposes nothing it was not asked to, and in server mode each service
/// process gets its own port (the manifests use 9464).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// E.g. `0.0.0.0:9464`; one endpoint per process, covering every service it runs.
    pub listen_addr: Option<SocketAddr>,
}
