//! Kafka settings: the brokers, the topics services create, and how clients authenticate.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

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
    /// How long a consumer may go without a heartbeat before the broker expires it and gives
    /// its partitions to the others: how long a SIGKILLed member's partitions wait (Kafka's own
    /// default is 45 s). Heartbeats go every third of it.
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// `partition.assignment.strategy`: `cooperative-sticky` moves only the partitions that
    /// change owner, so the other members keep consuming through a rebalance.
    pub partition_assignment: String,
    /// Static membership (`group.instance.id`): a replica that restarts under the same id takes
    /// its partitions straight back, without a rebalance and without waiting for the broker to
    /// expire its old self. Unset or empty: off (on tansu 0.6.0 a static member that was joining
    /// when the broker restarted never consumed again; see the README); `auto`: the host name
    /// (a Kubernetes pod's name) and the consumer group; anything else: that id. Two replicas
    /// on one host must each have their own.
    pub group_instance_id: Option<String>,
    /// librdkafka debug contexts, e.g. `cgrp,fetch`, logged under the `librdkafka` target.
    pub debug: Option<String>,
    /// How clients reach the brokers: in plaintext, over TLS, with SASL, or both.
    pub security_protocol: KafkaSecurityProtocol,
    /// The SASL mechanism, with `sasl_plaintext` and `sasl_ssl`.
    pub sasl_mechanism: SaslMechanism,
    /// The SASL user.
    pub sasl_username: Option<String>,
    /// The SASL password (or `MI_KAFKA__SASL_PASSWORD_FILE`); never logged.
    pub sasl_password: Option<SecretString>,
    /// PEM CA certificates that verify the brokers (`ssl.ca.location`), with `ssl` and
    /// `sasl_ssl`; the system's roots when unset.
    pub ssl_ca_location: Option<PathBuf>,
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
            session_timeout: Duration::from_secs(10),
            partition_assignment: "cooperative-sticky".into(),
            group_instance_id: None,
            debug: None,
            security_protocol: KafkaSecurityProtocol::Plaintext,
            sasl_mechanism: SaslMechanism::ScramSha512,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
        }
    }
}

impl KafkaConfig {
    /// The `group.instance.id` of this replica's member of `group`, `None` for dynamic
    /// membership.
    pub fn group_instance_id(&self, group: &str) -> Option<String> {
        match self.group_instance_id.as_deref() {
            None | Some("") => None,
            Some("auto") => Some(format!("{}.{group}", host_name())),
            Some(id) => Some(id.to_owned()),
        }
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.brokers.as_deref().is_some_and(str::is_empty) {
            anyhow::bail!("invalid configuration: kafka.brokers is empty");
        }
        if self.partitions < 1 || self.replication_factor < 1 {
            anyhow::bail!(
                "invalid configuration: kafka.partitions and kafka.replication_factor must be at least 1"
            );
        }
        if self.session_timeout < Duration::from_secs(3) {
            anyhow::bail!(
                "invalid configuration: kafka.session_timeout must be at least 3s (heartbeats go every third of it)"
            );
        }
        if self.security_protocol.uses_sasl()
            && (self.sasl_username.is_none() || self.sasl_password.is_none())
        {
            anyhow::bail!(
                "invalid configuration: kafka.security_protocol {} needs kafka.sasl_username and kafka.sasl_password",
                self.security_protocol.as_str()
            );
        }
        Ok(())
    }
}

/// librdkafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaSecurityProtocol {
    /// No TLS, no SASL: for a private network only.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL without TLS: the credentials of PLAIN travel in clear.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl KafkaSecurityProtocol {
    /// The value librdkafka takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether clients authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    /// Whether the connection is TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// librdkafka's `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    /// SCRAM with SHA-256 (RFC 7677).
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM with SHA-512, the default.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    /// The password itself, so only over TLS in production.
    #[serde(rename = "PLAIN")]
    Plain,
}

impl SaslMechanism {
    /// The value librdkafka takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::Plain => "PLAIN",
        }
    }
}

/// This machine's (or pod's) name: `HOSTNAME`, else the kernel's, else `localhost`.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
