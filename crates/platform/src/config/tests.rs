//! The configuration loader: layering, secret files, and unknown keys refused or warned about.

use std::time::Duration;

use mi_test_support::CapturedLogs;
use serde::Deserialize;

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

/// A service section, as a service would declare it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Section {
    code_ttl: Option<String>,
}

/// Log lines written while `body` runs.
fn logged<T>(body: impl FnOnce() -> T) -> (T, String) {
    let captured = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, body);
    (result, captured.text())
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn misspelt_variables_are_refused_in_server_mode_with_the_closest_name() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("MI_POSTGRES__URL", "postgres://db:5432");
        jail.set_env("MI_KAFKA__BROKRS", "kafka:9092");
        jail.set_env("MI_IDENTTY__LISTEN_ADDR", "0.0.0.0:50051");
        jail.set_env("MI_IDENTITY__LISTEN_ADDR", "0.0.0.0:50051");
        // Not settings: they belong to the tests, the scripts and the hashing workers.
        jail.set_env("MI_TEST_POSTGRES_URL", "postgres://127.0.0.1:5432");
        jail.set_env("MI_CPU_WORKER", "argon2");
        let loader = ConfigLoader::from_env().expect("load");
        let error = loader
            .check_top_level(&["identity"])
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains(
                "unknown configuration key kafka.brokrs (MI_KAFKA__BROKRS): \
                 did you mean kafka.brokers (MI_KAFKA__BROKERS)?"
            ),
            "{error}"
        );
        assert!(
            error.contains("identty (MI_IDENTTY): did you mean identity (MI_IDENTITY)?"),
            "{error}"
        );
        assert!(!error.contains("test_"), "{error}");
        assert!(!error.contains("cpu_worker"), "{error}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn unknown_keys_are_warned_about_in_embedded_mode() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("mi-account.toml", "[kafka]\nbrokrs = \"kafka:9092\"\n")?;
        jail.set_env("MI_VERIFICATION__CODE_TLL", "1s");
        let loader = ConfigLoader::from_env().expect("load");
        let (checked, log) = logged(|| {
            loader.check_top_level(&["verification"])?;
            loader.section::<Section>("verification")
        });
        checked.expect("embedded mode only warns");
        assert!(
            log.contains(
                "unknown configuration key kafka.brokrs set by TOML file mi-account.toml: \
                 did you mean kafka.brokers?"
            ),
            "{log}"
        );
        assert!(
            log.contains(
                "unknown configuration key verification.code_tll (MI_VERIFICATION__CODE_TLL): \
                 did you mean verification.code_ttl (MI_VERIFICATION__CODE_TTL)?"
            ),
            "{log}"
        );
        Ok(())
    });
}

#[test]
fn a_mistyped_override_is_refused_naming_its_line() {
    let loader = ConfigLoader::from_figment(Figment::new())
        .with_value("postgres.url", "postgres://db:5432")
        .with_value("verification.code_tl", "1s");
    let error = loader
        .section::<Section>("verification")
        .expect_err("refused")
        .to_string();
    let line = format!("set at {}:", file!());
    assert!(error.contains("verification.code_tl"), "{error}");
    assert!(error.contains(&line), "{error}");
    assert!(
        error.contains("did you mean verification.code_ttl?"),
        "{error}"
    );
    assert!(
        loader.check_top_level(&["verification"]).is_ok(),
        "the section itself is known"
    );
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn a_misspelt_secret_file_variable_is_named() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("pepper", "s3cret")?;
        jail.set_env("MI_POSTGRES__URL", "postgres://db:5432");
        jail.set_env("MI_CODE_ENCRYPTON_KEY_FILE", "pepper");
        let error = ConfigLoader::from_env()
            .expect("load")
            .check_top_level(&[])
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains(
                "code_encrypton_key set by MI_CODE_ENCRYPTON_KEY_FILE pepper: \
                 did you mean code_encryption_key?"
            ),
            "{error}"
        );
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn connection_security_settings_load_and_are_validated() {
    figment::Jail::expect_with(|jail| {
        let password = jail.directory().join("kafka-password");
        std::fs::write(&password, "s3cret\n").expect("write");
        jail.set_env("MI_KAFKA__SECURITY_PROTOCOL", "sasl_ssl");
        jail.set_env("MI_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256");
        jail.set_env("MI_KAFKA__SASL_USERNAME", "mi");
        let error = ConfigLoader::from_env().expect("load").infra();
        let error = error.expect_err("SASL without a password");
        assert!(error.to_string().contains("kafka.sasl_password"), "{error}");
        jail.set_env(
            "MI_KAFKA__SASL_PASSWORD_FILE",
            password.display().to_string(),
        );
        jail.set_env("MI_KAFKA__SSL_CA_LOCATION", "/run/kafka-ca.pem");
        jail.set_env("MI_POSTGRES__SSL_MODE", "verify-full");
        let infra = ConfigLoader::from_env()
            .expect("load")
            .infra()
            .expect("valid");
        assert_eq!(
            infra.kafka.security_protocol,
            KafkaSecurityProtocol::SaslSsl
        );
        assert_eq!(infra.kafka.sasl_mechanism, SaslMechanism::ScramSha256);
        let shown = format!("{infra:?}");
        assert!(
            !shown.contains("s3cret"),
            "the SASL password is shown: {shown}"
        );

        // A certificate read by MI_TLS__CERT_FILE without its key is refused.
        jail.set_env("MI_TLS__CERT_FILE", password.display().to_string());
        let error = ConfigLoader::from_env().expect("load").infra();
        let error = error.expect_err("a certificate without a key");
        assert!(error.to_string().contains("tls.key"), "{error}");

        jail.set_env("MI_TLS__KEY_FILE", password.display().to_string());
        jail.set_env("MI_POSTGRES__SSL_MODE", "verify");
        let error = ConfigLoader::from_env().expect("load").infra();
        let error = error.expect_err("an unknown sslmode");
        assert!(error.to_string().contains("postgres.ssl_mode"), "{error}");
        Ok(())
    });
}

#[test]
fn embedded_only_conveniences_are_refused_in_server_mode_and_logged_otherwise() {
    let embedded = InfraConfig::default();
    let (allowed, logs) =
        logged(|| embedded.embedded_only("verification.captcha.test_mode", "anyone passes"));
    allowed.expect("allowed in embedded mode");
    assert!(
        logs.lines().any(|line| line.contains("WARN")
            && line.contains("DEVELOPMENT ONLY: verification.captcha.test_mode is on")),
        "{logs}"
    );

    let mut server = InfraConfig::default();
    server.postgres.url = Some("postgres://db:5432".into());
    let refused = server
        .embedded_only("verification.captcha.test_mode", "anyone passes")
        .expect_err("server mode")
        .to_string();
    assert!(
        refused.contains("MI_VERIFICATION__CAPTCHA__TEST_MODE")
            && refused.contains("embedded mode only"),
        "{refused}"
    );
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn processed_events_must_outlive_the_topics() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("MI_KAFKA__RETENTION", "7days");
        jail.set_env("MI_RETENTION__PROCESSED_EVENTS", "7days");
        let infra = ConfigLoader::from_env()
            .expect("load")
            .infra()
            .expect("as long as the topics is enough");
        assert_eq!(
            infra.retention.processed_events,
            Duration::from_secs(7 * 24 * 3600)
        );

        jail.set_env("MI_RETENTION__PROCESSED_EVENTS", "6days");
        let error = ConfigLoader::from_env()
            .expect("load")
            .infra()
            .expect_err("shorter than the topics");
        assert!(
            error.to_string().contains("retention.processed_events"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn redis_cluster_settings_load_and_are_validated() {
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "MI_REDIS__CLUSTER_URLS",
            "redis://:s3cret@10.0.0.1:6379, redis://:s3cret@10.0.0.2:6379",
        );
        let infra = ConfigLoader::from_env()
            .expect("load")
            .infra()
            .expect("valid");
        assert!(infra.redis.is_set());
        assert_eq!(
            infra.redis.cluster_nodes(),
            Some(vec![
                "redis://:s3cret@10.0.0.1:6379",
                "redis://:s3cret@10.0.0.2:6379"
            ])
        );
        let shown = format!("{infra:?}");
        assert!(!shown.contains("s3cret"), "a password is shown: {shown}");

        jail.set_env("MI_REDIS__URL", "redis://10.0.0.1:6379");
        let error = ConfigLoader::from_env().expect("load").infra();
        let error = error.expect_err("a server and a cluster");
        assert!(error.to_string().contains("not both"), "{error}");

        jail.clear_env();
        jail.set_env("MI_REDIS__CLUSTER_URLS", "10.0.0.1:6379");
        let error = ConfigLoader::from_env().expect("load").infra();
        let error = error.expect_err("no scheme");
        assert!(error.to_string().contains("redis.cluster_urls"), "{error}");

        jail.set_env("MI_REDIS__CLUSTER_URLS", "redis://10.0.0.1:6379");
        jail.set_env("MI_REDIS__KEY_PREFIX", "{mi}:");
        let error = ConfigLoader::from_env().expect("load").infra();
        let error = error.expect_err("a hash tag in the prefix");
        assert!(error.to_string().contains("redis.key_prefix"), "{error}");
        Ok(())
    });
}
