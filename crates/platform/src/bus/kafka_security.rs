//! How the Kafka clients reach the brokers: the librdkafka settings of TLS and SASL, set on
//! the producer, the consumers and the admin client alike.

use secrecy::ExposeSecret;

use crate::config::KafkaConfig;

/// The librdkafka settings for `config.security_protocol`, the SASL password among them (so
/// the result is never logged).
pub(super) fn settings(config: &KafkaConfig) -> Vec<(&'static str, String)> {
    let protocol = config.security_protocol;
    let mut settings = vec![("security.protocol", protocol.as_str().to_owned())];
    if protocol.uses_sasl() {
        settings.push(("sasl.mechanism", config.sasl_mechanism.as_str().to_owned()));
        if let Some(username) = &config.sasl_username {
            settings.push(("sasl.username", username.clone()));
        }
        if let Some(password) = &config.sasl_password {
            settings.push(("sasl.password", password.expose_secret().to_owned()));
        }
    }
    if protocol.uses_tls() {
        // librdkafka's default since 1.9, set so that no build or override turns it off.
        settings.push(("ssl.endpoint.identification.algorithm", "https".to_owned()));
        if let Some(ca) = &config.ssl_ca_location {
            settings.push(("ssl.ca.location", ca.display().to_string()));
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use rdkafka::ClientConfig;
    use rdkafka::producer::BaseProducer;

    use super::*;
    use crate::config::{KafkaSecurityProtocol, SaslMechanism};

    fn sasl_ssl() -> KafkaConfig {
        KafkaConfig {
            security_protocol: KafkaSecurityProtocol::SaslSsl,
            sasl_mechanism: SaslMechanism::ScramSha256,
            sasl_username: Some("mi".into()),
            sasl_password: Some("s3cret".into()),
            ssl_ca_location: Some("/run/kafka-ca.pem".into()),
            ..KafkaConfig::default()
        }
    }

    #[test]
    fn plaintext_sets_only_the_protocol() {
        assert_eq!(
            settings(&KafkaConfig::default()),
            [("security.protocol", "plaintext".to_owned())]
        );
    }

    #[test]
    fn sasl_ssl_sets_the_mechanism_credentials_and_ca() {
        let expected: Vec<(&str, String)> = [
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "mi"),
            ("sasl.password", "s3cret"),
            ("ssl.endpoint.identification.algorithm", "https"),
            ("ssl.ca.location", "/run/kafka-ca.pem"),
        ]
        .map(|(key, value)| (key, value.to_owned()))
        .into();
        assert_eq!(settings(&sasl_ssl()), expected);
    }

    #[test]
    fn sasl_plaintext_has_no_tls_settings() {
        let config = KafkaConfig {
            security_protocol: KafkaSecurityProtocol::SaslPlaintext,
            sasl_mechanism: SaslMechanism::Plain,
            ..sasl_ssl()
        };
        let keys: Vec<&str> = settings(&config).iter().map(|(key, _)| *key).collect();
        assert_eq!(
            keys,
            [
                "security.protocol",
                "sasl.mechanism",
                "sasl.username",
                "sasl.password"
            ]
        );
    }

    /// librdkafka itself accepts every protocol and mechanism: it refuses `ssl` and SCRAM
    /// when built without OpenSSL, and a CA file that does not exist.
    #[test]
    fn librdkafka_accepts_every_combination() -> anyhow::Result<()> {
        let ca = tempfile::NamedTempFile::new()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&rcgen::KeyPair::generate()?)?;
        std::fs::write(ca.path(), ca_cert.pem())?;
        for protocol in [
            KafkaSecurityProtocol::Plaintext,
            KafkaSecurityProtocol::Ssl,
            KafkaSecurityProtocol::SaslPlaintext,
            KafkaSecurityProtocol::SaslSsl,
        ] {
            for mechanism in [
                SaslMechanism::ScramSha256,
                SaslMechanism::ScramSha512,
                SaslMechanism::Plain,
            ] {
                let config = KafkaConfig {
                    security_protocol: protocol,
                    sasl_mechanism: mechanism,
                    ssl_ca_location: Some(ca.path().to_owned()),
                    ..sasl_ssl()
                };
                let mut client = ClientConfig::new();
                client.set("bootstrap.servers", "127.0.0.1:1");
                for (key, value) in settings(&config) {
                    client.set(key, value);
                }
                let created = client.create::<BaseProducer>();
                assert!(
                    created.is_ok(),
                    "{protocol:?} {mechanism:?}: {:?}",
                    created.err()
                );
            }
        }
        Ok(())
    }
}
