//! The `notification` config section.

use std::net::SocketAddr;
use std::time::Duration;

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
    pub sms_transport: PhoneTransport,
    /// How voice calls are placed: `dev-inbox` or `http`.
    pub voice_transport: PhoneTransport,
    /// The SMTP server, for `email_transport = "smtp"`.
    pub smtp: SmtpSettings,
    /// The SMS and voice provider, for `http` transports.
    pub http_provider: HttpProviderSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50053)),
            email_transport: EmailTransport::DevInbox,
            sms_transport: PhoneTransport::DevInbox,
            voice_transport: PhoneTransport::DevInbox,
            smtp: SmtpSettings::default(),
            http_provider: HttpProviderSettings::default(),
        }
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// Refuses transports without the settings they need.
    fn validate(&self) -> anyhow::Result<()> {
        let needs_http = self.sms_transport == PhoneTransport::Http
            || self.voice_transport == PhoneTransport::Http;
        anyhow::ensure!(
            !needs_http || self.http_provider.url.is_some(),
            "invalid configuration: notification.http_provider.url is required for the http transport"
        );
        anyhow::ensure!(
            self.email_transport != EmailTransport::Smtp || !self.smtp.host.is_empty(),
            "invalid configuration: notification.smtp.host is required for the smtp transport"
        );
        Ok(())
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

/// How SMS and voice calls leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhoneTransport {
    /// Into the dev inbox, readable over gRPC.
    DevInbox,
    /// Through the HTTP provider.
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

/// The SMS and voice HTTP provider.
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
