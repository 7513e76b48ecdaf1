//! Server-side verification of third-party CAPTCHA tokens: hCaptcha, Cloudflare Turnstile and
//! reCAPTCHA share one "siteverify" shape, a form POST of `secret`, `response` (the widget's
//! token) and `remoteip`, answered with JSON whose `success` says whether the token is good.

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::{CaptchaProvider, ClientAddress};

/// The provider's siteverify endpoint and this site's secret with it.
#[derive(Debug)]
pub(crate) struct SiteVerify {
    client: reqwest::Client,
    url: String,
    secret: SecretString,
}

/// The part of the answer every provider shares.
#[derive(Debug, Deserialize)]
struct Answer {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

impl SiteVerify {
    /// A client of `url` (e.g. `https://challenges.cloudflare.com/turnstile/v0/siteverify`)
    /// that gives up after `timeout`.
    pub(crate) fn new(
        url: String,
        secret: SecretString,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot build the captcha provider client")?;
        Ok(Self {
            client,
            url,
            secret,
        })
    }
}

#[async_trait::async_trait]
impl CaptchaProvider for SiteVerify {
    async fn verify(&self, token: &str, client: &ClientAddress) -> anyhow::Result<bool> {
        let form = [
            ("secret", self.secret.expose_secret()),
            ("response", token),
            ("remoteip", client.0.as_str()),
        ];
        let answer: Answer = self
            .client
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .context("captcha provider unreachable")?
            .error_for_status()
            .context("captcha provider refused the request")?
            .json()
            .await
            .context("captcha provider answered something other than siteverify JSON")?;
        if !answer.success {
            tracing::info!(errors = ?answer.error_codes, "captcha provider refused a token");
        }
        Ok(answer.success)
    }
}
