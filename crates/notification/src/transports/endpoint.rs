//! One HTTP provider endpoint, as the SMS/voice and push providers both call theirs: a JSON
//! `POST` with the message's idempotency key and, when set, the API key as a bearer token.

use anyhow::Context;
use mi_platform::telemetry;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tracing::Instrument;

use crate::config::HttpProviderSettings;

/// Where one provider's requests go, with its key and timeout.
#[derive(Debug)]
pub(super) struct Endpoint {
    client: reqwest::Client,
    url: reqwest::Url,
    api_key: Option<SecretString>,
}

impl Endpoint {
    /// The endpoint `settings` name; `section` (e.g. `notification.push_provider`) names them
    /// in the error when the URL is missing.
    pub(super) fn new(settings: &HttpProviderSettings, section: &str) -> anyhow::Result<Self> {
        let url = settings
            .url
            .as_deref()
            .with_context(|| format!("{section}.url is not set"))?;
        let url = reqwest::Url::parse(url).with_context(|| format!("invalid {section}.url"))?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .context("cannot build the http client")?;
        Ok(Self {
            client,
            url,
            api_key: settings.api_key.clone(),
        })
    }

    /// Posts `body` under `idempotency_key`; any 2xx answer means accepted. `provider` names
    /// the provider in errors.
    pub(super) async fn post(
        &self,
        body: &Value,
        idempotency_key: &str,
        provider: &str,
    ) -> anyhow::Result<()> {
        let span = self.client_span();
        let mut request = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        // The provider may continue the trace.
        for (name, value) in telemetry::trace_headers_of(&span) {
            request = request.header(name, value);
        }
        if let Some(api_key) = &self.api_key {
            request = request.bearer_auth(api_key.expose_secret());
        }
        let response = match request.send().instrument(span.clone()).await {
            Ok(response) => response,
            Err(error) => {
                span.record("otel.status_code", "ERROR");
                return Err(error).with_context(|| format!("{provider} provider unreachable"));
            }
        };
        let status = response.status();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if !status.is_success() {
            span.record("otel.status_code", "ERROR");
        }
        anyhow::ensure!(status.is_success(), "{provider} provider answered {status}");
        Ok(())
    }

    /// A CLIENT span for one request by OpenTelemetry's HTTP conventions. Only the server's
    /// address goes in it: the path may carry an account id and the body a phone number and
    /// a code, so neither does.
    fn client_span(&self) -> tracing::Span {
        tracing::info_span!(
            "POST",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = "POST",
            server.address = self.url.host_str().unwrap_or_default(),
            server.port = self.url.port_or_known_default().map(i64::from),
            http.response.status_code = tracing::field::Empty,
        )
    }
}
