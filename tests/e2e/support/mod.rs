//! The harness of the end-to-end tests: starts the whole platform in-process on port 0, in
//! embedded mode or on the real servers, each test with its own databases, topics, consumer
//! groups, Redis keys and data directory, and gives gRPC clients to it.

pub(crate) mod account;
pub(crate) mod authenticator;
pub(crate) mod challenge;
pub(crate) mod identity;
pub(crate) mod inbox;
pub(crate) mod modes;
pub(crate) mod providers;
pub(crate) mod refusals;
pub(crate) mod values;

pub(crate) use account::{EnabledTotp, WRONG_PASSWORD, account_contacts, profile_update};
pub(crate) use authenticator::{base32_decode, rfc6238_code, totp_at_step, wrong_totp_code};
pub(crate) use challenge::contact_request;
pub(crate) use identity::{
    access_claims_for, authed, expect_challenge, expect_consent_required, expect_tokens,
    offers_method, strong_password, test_device, unix_now,
};
pub(crate) use modes::in_both_modes;
pub(crate) use refusals::{
    error_metadata, expect_refusal, field_violations, in_language, localized_message, reason,
    retry_after,
};
pub(crate) use values::{code_in, unique_email, unique_phone_number};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mi_account::{Addresses, BoundServices};
use mi_platform::Platform;
use mi_platform::bus::{BusMessage, EmbeddedBus, EventBus, KafkaBus};
use mi_platform::config::ConfigLoader;
use mi_platform::crypto::SecretKey;
use mi_platform::db::Database;
use mi_platform::ephemeral::EphemeralStore;
use mi_platform::events::{self, EVENT_TYPE_HEADER};
use mi_platform::telemetry::{self, TelemetryGuard};
use mi_platform::tokens::TokenSigner;
use mi_proto::EventPayload;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::events::v1::EventEnvelope;
use mi_proto::notification::v1::notification_service_client::NotificationServiceClient;
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::verification_service_client::VerificationServiceClient;
use mi_proto::verification::v1::{
    CaptchaAnswer, CheckCodeRequest, CheckCodeResponse, CreateCaptchaRequest, SendCodeRequest,
    SendCodeResponse,
};
use mi_test_support as testing;
use prost::Message;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// How long a test waits for a message to travel through the bus.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(45);

/// Which servers the platform runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backends {
    /// SQLite, the embedded bus, the in-memory limiter.
    Embedded,
    /// PostgreSQL, Kafka (tansu here) and Redis; fails loudly if one is not reachable.
    Servers,
    /// The same with a Redis Cluster (scripts/test's three nodes) instead of one Redis.
    ServersWithRedisCluster,
}

/// A test's configuration, reusable to restart the platform on the same data.
#[derive(Debug, Clone)]
pub(crate) struct TestConfig {
    pub loader: ConfigLoader,
    pub run_id: String,
    pub code_encryption_key: SecretKey,
    /// The key identity and verification seal send tokens with (to forge odd ones).
    pub send_token_key: SecretKey,
    /// The Ed25519 seed identity signs access tokens with (to forge expired or odd tokens).
    pub identity_signing_key: SecretKey,
    /// The Ed25519 seed verification signs its tokens and CAPTCHA passes with (likewise).
    pub verification_signing_key: SecretKey,
    /// Deleted when the last clone of the config is dropped.
    _data_dir: Arc<tempfile::TempDir>,
}

impl TestConfig {
    /// Isolated names and fast timings for one test.
    pub(crate) fn new(backends: Backends) -> Self {
        let run_id = testing::unique_name("");
        let data_dir = Arc::new(tempfile::tempdir().unwrap());
        let code_encryption_key = SecretKey::generate();
        let send_token_key = SecretKey::generate();
        let verification_seed = SecretKey::generate();
        let identity_signing_key = SecretKey::generate();
        let mut loader = ConfigLoader::from_figment(figment::Figment::new())
            .with_value("data_dir", data_dir.path())
            .with_value(
                "code_encryption_key",
                code_encryption_key.to_base64().expose_secret(),
            )
            .with_value("send_token_key", send_token_key.to_base64().expose_secret())
            .with_value("verification.code_hash_key", random_key())
            .with_value(
                "verification.token.signing_key",
                verification_seed.to_base64().expose_secret(),
            )
            .with_value(
                "identity.verification_public_keys",
                keys_of(&verification_seed),
            )
            .with_value("device.access_token_keys", keys_of(&identity_signing_key))
            .with_value(
                "identity.tokens.signing_key",
                identity_signing_key.to_base64().expose_secret(),
            )
            .with_value("identity.password.pepper", random_key())
            .with_value("identity.totp_encryption_key", random_key())
            // The least memory among OWASP's minimum pairs, which the service accepts at
            // least: tests hash many passwords.
            .with_value("identity.password.argon2.memory_kib", 7 * 1024)
            .with_value("identity.password.argon2.iterations", 5)
            .with_value("kafka.topic_prefix", format!("t.{run_id}."))
            .with_value("kafka.partitions", 1)
            .with_value("kafka.message_timeout", "5s")
            .with_value("outbox.poll_interval", "50ms")
            .with_value("outbox.max_backoff", "500ms")
            .with_value("consumer.max_attempts", 3)
            .with_value("consumer.initial_backoff", "20ms")
            .with_value("consumer.max_backoff", "200ms")
            // Tests name client addresses in x-forwarded-for; the test client is the proxy.
            .with_value("identity.trusted_proxies", ["127.0.0.1/32"])
            .with_value("verification.trusted_proxies", ["127.0.0.1/32"]);
        for service in ["identity", "verification", "notification", "device"] {
            loader = loader.with_value(&format!("{service}.listen_addr"), "127.0.0.1:0");
        }
        if backends != Backends::Embedded {
            loader = loader
                .with_value("postgres.url", testing::postgres_url())
                .with_value("postgres.database_prefix", format!("t_{run_id}_"))
                .with_value("postgres.max_connections", 4)
                .with_value("kafka.brokers", testing::kafka_brokers())
                .with_value("redis.key_prefix", format!("t:{run_id}:"))
                // The tests read codes from the dev inbox (`tests/e2e/dev_inbox.rs`).
                .with_value("dev.allow_dev_inbox", true);
            loader = if backends == Backends::ServersWithRedisCluster {
                loader.with_value(
                    "redis.cluster_urls",
                    testing::redis_cluster_urls().join(","),
                )
            } else {
                loader.with_value("redis.url", testing::redis_url())
            };
        }
        let mut config = Self {
            loader,
            run_id,
            code_encryption_key,
            send_token_key,
            identity_signing_key,
            verification_signing_key: verification_seed,
            _data_dir: data_dir,
        };
        if backends != Backends::Embedded {
            // Required with PostgreSQL; other versions than embedded mode's placeholders, so a
            // test that types a version instead of asking GetLegalDocuments fails somewhere.
            config = config
                .with_documents("terms", "2025-06")
                .with_documents("privacy_policy", "2025-03");
        }
        config
    }

    /// Makes `version` the current one of `document` (`terms` or `privacy_policy`), at URLs
    /// under `https://legal.example/` in English and Simplified Chinese.
    pub(crate) fn with_documents(self, document: &str, version: &str) -> Self {
        let url = |locale: &str| format!("https://legal.example/{document}/{version}/{locale}");
        let urls = std::collections::BTreeMap::from([("en", url("en")), ("zh-CN", url("zh-CN"))]);
        self.with_value(&format!("identity.legal.{document}.version"), version)
            .with_value(&format!("identity.legal.{document}.urls"), urls)
    }

    /// A configuration for account tests: codes can be sent to one destination again right
    /// away and many times (sign-up, then a password reset, then a second factor), which the
    /// default 60 s cooldown and 5 sends per hour would refuse.
    pub(crate) fn with_repeatable_codes(self) -> Self {
        self.with_value("verification.limits.send_cooldown", "1ms")
            .with_value("verification.limits.destination_per_hour", 50)
            .with_value("verification.limits.destination_per_day", 50)
            .with_value("verification.limits.client_per_hour", 500)
            .with_value("verification.limits.checks_per_client_per_hour", 500)
    }

    /// Overrides one setting. A mistyped key is refused at start, naming the test's line.
    #[track_caller]
    pub(crate) fn with_value(mut self, key: &str, value: impl serde::Serialize) -> Self {
        self.loader = self.loader.with_value(key, value);
        self
    }

    /// A topic's full name in this test.
    pub(crate) fn topic(&self, name: &str) -> String {
        format!("t.{}.{name}", self.run_id)
    }

    /// An event as service `producer` publishes it on its topic (`<producer>.events`) keyed by
    /// `aggregate_id`, ready for [`EventBus::publish`], and the envelope inside: a test plays
    /// a service whose events it needs.
    pub(crate) fn event_message<P: EventPayload>(
        &self,
        producer: &str,
        aggregate_id: &str,
        payload: &P,
    ) -> (BusMessage, EventEnvelope) {
        let envelope = events::envelope(producer, aggregate_id, payload);
        let message = BusMessage {
            topic: self.topic(&format!("{producer}.events")),
            key: aggregate_id.to_owned(),
            headers: vec![(EVENT_TYPE_HEADER.to_owned(), P::EVENT_TYPE.to_owned())],
            payload: envelope.encode_to_vec(),
        };
        (message, envelope)
    }

    /// A bus client of this test's backend, for publishing and reading events directly.
    pub(crate) async fn bus(&self) -> Arc<dyn EventBus> {
        let infra = self.loader.infra().unwrap();
        match &infra.kafka.brokers {
            Some(brokers) => Arc::new(KafkaBus::new(brokers, &infra.kafka).unwrap()),
            None => Arc::new(
                EmbeddedBus::open(&infra.data_dir.join("bus.db"))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// A service's own database, for asserting what was (not) stored.
    pub(crate) async fn database(&self, service: &str) -> Database {
        Database::connect(&self.loader.infra().unwrap(), service)
            .await
            .unwrap()
    }
}

/// A fresh random 32-byte key in base64, as keys are configured.
fn random_key() -> String {
    SecretKey::generate().to_base64().expose_secret().to_owned()
}

/// `kid:x` of the public half of a signing seed, as a service that trusts it is configured.
fn keys_of(seed: &SecretKey) -> [String; 1] {
    [TokenSigner::from_seed(seed, None)
        .unwrap()
        .public_key()
        .to_string()]
}

fn init_telemetry() {
    static GUARD: OnceLock<TelemetryGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let config = mi_platform::config::TelemetryConfig {
            log_filter: "warn".into(),
            ..Default::default()
        };
        telemetry::init(&config, "mi-e2e").unwrap()
    });
}

/// The whole platform, running in this test.
#[derive(Debug)]
pub(crate) struct TestPlatform {
    pub config: TestConfig,
    pub addresses: Addresses,
    /// The Prometheus endpoint, when the test set `metrics.listen_addr`.
    pub metrics_address: Option<std::net::SocketAddr>,
    ephemeral: Arc<dyn EphemeralStore>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestPlatform {
    /// Starts the platform on fresh, isolated storage.
    pub(crate) async fn start(backends: Backends) -> Self {
        Self::start_with(TestConfig::new(backends)).await
    }

    /// Starts the platform for account tests: [`TestConfig::with_repeatable_codes`].
    pub(crate) async fn start_for_identity(backends: Backends) -> Self {
        Self::start_with(TestConfig::new(backends).with_repeatable_codes()).await
    }

    /// Starts the platform with a given configuration (e.g. to restart on the same data).
    pub(crate) async fn start_with(config: TestConfig) -> Self {
        init_telemetry();
        let platform = Platform::connect(config.loader.infra().unwrap())
            .await
            .unwrap();
        let ephemeral = Arc::clone(&platform.ephemeral);
        let metrics_address = platform.metrics_address;
        let services = BoundServices::bind(&config.loader).await.unwrap();
        let addresses = services.addresses().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(services.run(platform, shutdown.clone()));
        Self {
            config,
            addresses,
            metrics_address,
            ephemeral,
            shutdown,
            task,
        }
    }

    /// Why the platform refuses to start with `config` (the whole error chain); fails the test
    /// if it starts.
    pub(crate) async fn refusal_to_start(config: TestConfig, what: &str) -> String {
        init_telemetry();
        let platform = Platform::connect(config.loader.infra().unwrap())
            .await
            .unwrap();
        let services = BoundServices::bind(&config.loader).await.unwrap();
        let error = services
            .run(platform, CancellationToken::new())
            .await
            .expect_err(what);
        format!("{error:#}")
    }

    /// Stops every service and waits for them; returns the configuration for a restart.
    pub(crate) async fn stop(self) -> TestConfig {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("platform did not stop within 30 s")
            .unwrap()
            .unwrap();
        self.config
    }

    pub(crate) async fn verification(&self) -> VerificationServiceClient<Channel> {
        VerificationServiceClient::new(channel(self.addresses.verification).await)
    }

    pub(crate) async fn notification(&self) -> NotificationServiceClient<Channel> {
        NotificationServiceClient::new(channel(self.addresses.notification).await)
    }

    /// A CAPTCHA created over gRPC and solved by reading its answer from the store the
    /// service keeps it in (and putting it back), since a test cannot read the image.
    pub(crate) async fn solved_captcha(&self) -> CaptchaAnswer {
        let captcha = self
            .verification()
            .await
            .create_captcha(CreateCaptchaRequest {})
            .await
            .unwrap()
            .into_inner();
        let key = format!("captcha:{}", captcha.captcha_id);
        let answer = self
            .ephemeral
            .take(&key)
            .await
            .unwrap()
            .expect("captcha answer stored");
        self.ephemeral
            .put(&key, &answer, Duration::from_secs(60))
            .await
            .unwrap();
        CaptchaAnswer {
            captcha_id: captcha.captcha_id,
            answer: String::from_utf8(answer).unwrap(),
            ..CaptchaAnswer::default()
        }
    }

    /// A sign-up SendCode request with a solved CAPTCHA.
    pub(crate) async fn sign_up_request(
        &self,
        destination: &str,
        channel: CodeChannel,
    ) -> SendCodeRequest {
        SendCodeRequest {
            target: Some(Target::Destination(destination.to_owned())),
            channel: channel.into(),
            purpose: Purpose::SignUp.into(),
            locale: "en".into(),
            captcha: Some(self.solved_captcha().await),
        }
    }

    /// Sends a sign-up code (with a solved CAPTCHA) and returns the reply.
    pub(crate) async fn sign_up(
        &self,
        destination: &str,
        channel: CodeChannel,
    ) -> SendCodeResponse {
        let request = self.sign_up_request(destination, channel).await;
        self.verification()
            .await
            .send_code(request)
            .await
            .unwrap()
            .into_inner()
    }

    /// Checks a code.
    pub(crate) async fn check(
        &self,
        verification_id: &str,
        code: &str,
    ) -> Result<CheckCodeResponse, tonic::Status> {
        let request = CheckCodeRequest {
            verification_id: verification_id.to_owned(),
            code: code.to_owned(),
        };
        Ok(self
            .verification()
            .await
            .check_code(request)
            .await?
            .into_inner())
    }

    /// The first event on one of this test's topics (e.g. `notification.events`) that
    /// `matches` accepts, read by a consumer group of its own.
    pub(crate) async fn first_event(
        &self,
        topic: &str,
        matches: impl Fn(&EventEnvelope) -> bool,
    ) -> EventEnvelope {
        let bus = self.config.bus().await;
        let topic = self.config.topic(topic);
        bus.create_topics(std::slice::from_ref(&topic))
            .await
            .unwrap();
        let group = self.config.topic(&testing::unique_name("reader-"));
        let mut reader = bus.subscribe(&group, &[topic]).await.unwrap();
        loop {
            let delivery = tokio::time::timeout(DELIVERY_TIMEOUT, reader.next())
                .await
                .unwrap()
                .unwrap();
            let event = EventEnvelope::decode(delivery.message.payload.as_slice()).unwrap();
            if matches(&event) {
                reader.close().await.unwrap();
                return event;
            }
        }
    }
}

/// A gRPC channel to a local address.
pub(crate) async fn channel(address: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}
