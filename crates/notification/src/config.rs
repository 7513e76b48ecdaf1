//! The `notification` config section.

use std::net::SocketAddr;
use std::time::Duration;

use mi_platform::config::InfraConfig;
use mi_platform::service::ServiceSettings;
use secrecy::SecretString;
use serde::Deserialize;

/// Settings of the notification service (`MI_NOTIFICATION__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// How email leaves: `dev-inbox` or `smtp`.
    pub email_transport: EmailTransport,
    /// How SMS leaves: `dev-inbox` or `http`.
    pub sms_transport: ProviderTransport,
    /// How voice calls are placed: `dev-inbox` or `http`.
    pub voice_transport: ProviderTransport,
    /// The SMTP server, for `email_transport = "smtp"`.
    pub smtp: SmtpSettings,
    /// The SMS and voice provider, for `http` transports.
    pub http_provider: HttpProviderSettings,
    /// How device wake-ups are pushed: `dev-inbox` or `http`.
    pub push_transport: ProviderTransport,
    /// The push provider (FCM's HTTP v1 send shape), for `push_transport = "http"`.
    pub push_provider: HttpProviderSettings,
    /// How long a finished delivery record is kept. It is also what keeps a redelivered event
    /// from sending its message twice, so at least `kafka.retention` (checked at start); a
    /// month, so support can tell whether a message left and through which provider.
    #[serde(with = "humantime_serde")]
    pub delivery_retention: Duration,
    /// How long the dev inbox keeps a message: a week of development, no longer, since
    /// messages there hold codes and alerts in clear.
    #[serde(with = "humantime_serde")]
    pub inbox_retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50053)),
            email_transport: EmailTransport::DevInbox,
            sms_transport: ProviderTransport::DevInbox,
            voice_transport: ProviderTransport::DevInbox,
            smtp: SmtpSettings::default(),
            http_provider: HttpProviderSettings::default(),
            push_transport: ProviderTransport::DevInbox,
            push_provider: HttpProviderSettings::default(),
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
            inbox_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// Refuses transports without the settings they need.
    fn validate(&self) -> anyhow::Result<()> {
        let needs_http = self.sms_transport == ProviderTransport::Http
            || self.voice_transport == ProviderTransport::Http;
        anyhow::ensure!(
            !needs_http || self.http_provider.url.is_some(),
            "invalid configuration: notification.http_provider.url is required for the http transport"
        );
        anyhow::ensure!(
            self.push_transport != ProviderTransport::Http || self.push_provider.url.is_some(),
            "invalid configuration: notification.push_provider.url is required for the http push transport"
        );
        anyhow::ensure!(
            self.email_transport != EmailTransport::Smtp || !self.smtp.host.is_empty(),
            "invalid configuration: notification.smtp.host is required for the smtp transport"
        );
        Ok(())
    }
}

impl Settings {
    /// Refuses a `delivery_retention` shorter than the topics keep events: a delivery record
    /// forgotten while its event can still come back would let the message go out twice.
    pub fn check_delivery_retention(&self, infra: &InfraConfig) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.delivery_retention >= infra.kafka.retention,
            "invalid configuration: notification.delivery_retention must be at least \
             kafka.retention: a delivery record is what keeps a redelivered event from sending \
             its message twice"
        );
        Ok(())
    }

    /// Whether the dev inbox is served (`ListInboxMessages`). Refuses dev-inbox transports with
    /// PostgreSQL unless `dev.allow_dev_inbox` is set, which is then logged as a warning: the
    /// inbox shows every code and alert to anyone who reaches the service.
    pub fn dev_inbox(&self, infra: &InfraConfig) -> anyhow::Result<bool> {
        let transports = [
            (
                "email_transport",
                self.email_transport == EmailTransport::DevInbox,
            ),
            (
                "sms_transport",
                self.sms_transport == ProviderTransport::DevInbox,
            ),
            (
                "voice_transport",
                self.voice_transport == ProviderTransport::DevInbox,
            ),
            (
                "push_transport",
                self.push_transport == ProviderTransport::DevInbox,
            ),
        ];
        let to_inbox: Vec<&str> = transports
            .into_iter()
            .filter_map(|(setting, to_inbox)| to_inbox.then_some(setting))
            .collect();
        if infra.is_embedded() {
            return Ok(true);
        }
        if !infra.dev_inbox_allowed() {
            anyhow::ensure!(
                to_inbox.is_empty(),
                "invalid configuration: notification.{} is dev-inbox with postgres.url set; the dev \
                 inbox lets anyone read every code: use smtp and http, or for development set \
                 dev.allow_dev_inbox (MI_DEV__ALLOW_DEV_INBOX=true)",
                to_inbox.join(", notification.")
            );
            return Ok(false);
        }
        tracing::warn!(
            dev_inbox_transports = to_inbox.join(","),
            "DEVELOPMENT ONLY: the dev inbox is on with PostgreSQL (dev.allow_dev_inbox): anyone \
             who reaches the notification service reads every code with ListInboxMessages"
        );
        Ok(true)
    }
}

/// How email leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailTransport {
    /// Into the dev inbox, readable over gRPC.
    DevInbox,
    /// Through an SMTP server.
    Smtp,
}

/// How SMS, voice calls and device pushes leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderTransport {
    /// Into the dev inbox, readable over gRPC.
    DevInbox,
    /// Through the channel's HTTP provider.
    Http,
}

/// TLS towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain text (local relays and tests only).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// The SMTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// Login user, if the server wants one.
    pub username: Option<String>,
    /// Login password.
    pub password: Option<SecretString>,
    /// The From address, e.g. `Mi Account <noreply@example.com>`.
    pub from: String,
    /// How long one delivery may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "Mi Account <noreply@mi-account.local>".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// An HTTP provider: the SMS and voice one, or the push one.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpProviderSettings {
    /// The endpoint messages are POSTed to.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<SecretString>,
    /// How long one request may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for HttpProviderSettings {
    fn default() -> Self {
        Self {
            url: None,
            api_key: None,
            timeout: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use mi_platform::config::InfraConfig;

    use mi_platform::service::ServiceSettings;

    use super::{EmailTransport, HttpProviderSettings, ProviderTransport, Settings};

    fn server_mode(allow_dev_inbox: bool) -> InfraConfig {
        let mut infra = InfraConfig::default();
        infra.postgres.url = Some("postgres://db:5432".into());
        infra.dev.allow_dev_inbox = allow_dev_inbox;
        infra
    }

    #[test]
    fn delivery_records_outlive_the_topics() {
        let infra = InfraConfig::default();
        let settings = Settings {
            delivery_retention: infra.kafka.retention,
            ..Settings::default()
        };
        settings
            .check_delivery_retention(&infra)
            .expect("as long as the topics is enough");
        let shorter = Settings {
            delivery_retention: infra.kafka.retention / 2,
            ..Settings::default()
        };
        let error = shorter
            .check_delivery_retention(&infra)
            .expect_err("shorter than the topics");
        assert!(
            error
                .to_string()
                .contains("notification.delivery_retention"),
            "{error}"
        );
    }

    #[test]
    fn the_dev_inbox_needs_the_switch_with_postgres() {
        let inbox = Settings::default();
        let error = inbox.dev_inbox(&server_mode(false)).expect_err("refused");
        assert!(
            error.to_string().contains("MI_DEV__ALLOW_DEV_INBOX"),
            "{error}"
        );
        assert!(inbox.dev_inbox(&server_mode(true)).expect("allowed"));
        assert!(inbox.dev_inbox(&InfraConfig::default()).expect("embedded"));

        let real_transports = Settings {
            email_transport: EmailTransport::Smtp,
            sms_transport: ProviderTransport::Http,
            voice_transport: ProviderTransport::Http,
            push_transport: ProviderTransport::Http,
            ..Settings::default()
        };
        let served = real_transports
            .dev_inbox(&server_mode(false))
            .expect("no inbox transport");
        assert!(!served, "the inbox RPC is off in server mode");
        let one_left = Settings {
            voice_transport: ProviderTransport::DevInbox,
            ..real_transports.clone()
        };
        let error = one_left
            .dev_inbox(&server_mode(false))
            .expect_err("refused");
        assert!(
            error.to_string().contains("notification.voice_transport"),
            "{error}"
        );
        let push_left = Settings {
            push_transport: ProviderTransport::DevInbox,
            ..real_transports
        };
        let error = push_left
            .dev_inbox(&server_mode(false))
            .expect_err("refused");
        assert!(
            error.to_string().contains("notification.push_transport"),
            "{error}"
        );
    }

    #[test]
    fn the_http_push_transport_needs_its_url() {
        let without_url = Settings {
            push_transport: ProviderTransport::Http,
            ..Settings::default()
        };
        let error = without_url.validate().expect_err("refused");
        assert!(
            error.to_string().contains("notification.push_provider.url"),
            "{error}"
        );
        let with_url = Settings {
            push_provider: HttpProviderSettings {
                url: Some("http://127.0.0.1:1/send".into()),
                ..HttpProviderSettings::default()
            },
            ..without_url
        };
        with_url.validate().expect("valid");
    }
}
