//! One HTTP provider endpoint, as the SMS/voice and push providers both call theirs: a JSON
//! `POST` with the message's idempotency key and, when set, the API key as a bearer token.

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::HttpProviderSettings;

/// Where one provider's requests go, with its key and timeout.
#[derive(Debug)]
pub(super) struct Endpoint {
    client: reqwest::Client,
    url: String,
    api_key: Option<SecretString>,
}

impl Endpoint {
    /// The endpoint `settings` name; `section` (e.g. `notification.push_provider`) names them
    /// in the error when the URL is missing.
    pub(super) fn new(settings: &HttpProviderSettings, section: &str) -> anyhow::Result<Self> {
        let url = settings
            .url
            .clone()
            .with_context(|| format!("{section}.url is not set"))?;
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
        let mut request = self
            .client
            .post(&self.url)
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        if let Some(api_key) = &self.api_key {
            request = request.bearer_auth(api_key.expose_secret());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{provider} provider unreachable"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "{provider} provider answered {status}");
        Ok(())
    }
}
