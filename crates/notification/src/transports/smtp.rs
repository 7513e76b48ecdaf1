//! Email through an SMTP server (lettre), with the TLS mode the settings ask for.

use anyhow::Context;
use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tracing::Instrument;

use crate::config::{SmtpSettings, SmtpTls};
use crate::domain::{ExternalTransport, OutgoingMessage};

/// Sends email through one SMTP server (connections are pooled).
#[derive(Debug)]
pub(crate) struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server, for the spans.
    host: String,
    port: u16,
}

impl SmtpMailer {
    /// A mailer for the configured server.
    pub(crate) fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let builder = match settings.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .context("invalid notification.smtp.host")?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .context("invalid notification.smtp.host")?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let (Some(username), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: settings
                .from
                .parse()
                .context("invalid notification.smtp.from")?,
            host: settings.host.clone(),
            port: settings.port,
        })
    }
}

#[async_trait]
impl ExternalTransport for SmtpMailer {
    fn name(&self) -> &'static str {
        "smtp"
    }

    /// Sends one message; its Message-ID derives from the idempotency key, so a repeat is
    /// recognizable downstream.
    async fn send(&self, message: &OutgoingMessage, idempotency_key: &str) -> anyhow::Result<()> {
        let email = Message::builder()
            .from(self.from.clone())
            .to(message
                .destination
                .parse()
                .context("invalid email destination")?)
            .subject(&message.subject)
            .message_id(Some(format!("<{idempotency_key}@mi-account>")))
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .context("cannot build the email")?;
        // A CLIENT span with the server only: the recipient and the text stay out of traces.
        let span = tracing::info_span!(
            "smtp send",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            network.protocol.name = "smtp",
            server.address = %self.host,
            server.port = self.port,
        );
        let sent = self.transport.send(email).instrument(span.clone()).await;
        if sent.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        sent.context("smtp delivery failed")?;
        Ok(())
    }
}
