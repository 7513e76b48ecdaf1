//! CAPTCHA challenges: a PNG of distorted characters, its answer kept for one check; or,
//! as an alternative, a third-party CAPTCHA whose tokens its provider checks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use captcha::Captcha;
use captcha::filters::{Dots, Noise, Wave};
use mi_contracts::UnixMillis;
use mi_platform::ephemeral::EphemeralStore;

use super::ClientAddress;

/// A new challenge to show.
#[derive(Debug, Clone)]
pub struct NewCaptcha {
    /// Identifies the challenge in the answer.
    pub captcha_id: String,
    /// The image.
    pub image_png: Vec<u8>,
    /// When the answer stops being accepted.
    pub expires_at: UnixMillis,
}

/// An answer as the client sent it.
#[derive(Clone, PartialEq, Eq)]
pub enum CaptchaAnswer {
    /// The built-in image CAPTCHA: the challenge and what the person typed.
    Image {
        /// The challenge.
        captcha_id: String,
        /// What the person typed.
        answer: String,
    },
    /// The token a third-party CAPTCHA widget gave the person.
    ProviderToken(String),
}

impl std::fmt::Debug for CaptchaAnswer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Image { captcha_id, .. } => formatter
                .debug_struct("Image")
                .field("captcha_id", captcha_id)
                .finish_non_exhaustive(),
            Self::ProviderToken(_) => formatter.write_str("ProviderToken(..)"),
        }
    }
}

/// A third-party CAPTCHA service (hCaptcha, Cloudflare Turnstile, reCAPTCHA): whether its
/// widget's token is good, asked of the service itself.
#[async_trait::async_trait]
pub trait CaptchaProvider: Send + Sync + std::fmt::Debug {
    /// Whether the provider vouches for `token`, solved by someone at `client`; spent either way.
    async fn verify(&self, token: &str, client: &ClientAddress) -> anyhow::Result<bool>;
}

/// Creates challenges and checks answers, once each.
#[derive(Debug, Clone)]
pub struct Captchas {
    store: Arc<dyn EphemeralStore>,
    ttl: Duration,
    length: u32,
    provider: Option<Arc<dyn CaptchaProvider>>,
}

impl Captchas {
    /// Challenges of `length` characters, answerable for `ttl`, answers kept in `store`.
    pub fn new(store: Arc<dyn EphemeralStore>, ttl: Duration, length: u32) -> Self {
        Self {
            store,
            ttl,
            length,
            provider: None,
        }
    }

    /// Also accepts tokens of a third-party CAPTCHA, checked by `provider`.
    pub fn with_provider(mut self, provider: Arc<dyn CaptchaProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Draws a new challenge (on a blocking thread: drawing is CPU work) and keeps its answer.
    pub async fn create(&self) -> anyhow::Result<NewCaptcha> {
        let length = self.length;
        let (answer, image_png) = tokio::task::spawn_blocking(move || {
            Captcha::new()
                .add_chars(length)
                .apply_filter(Noise::new(0.3))
                .apply_filter(Wave::new(2.0, 12.0).horizontal())
                .apply_filter(Wave::new(2.0, 8.0).vertical())
                .view(220, 100)
                .apply_filter(Dots::new(12))
                .as_tuple()
        })
        .await?
        .context("captcha image could not be encoded")?;
        let captcha_id = uuid::Uuid::new_v4().to_string();
        self.store
            .put(
                &key(&captcha_id),
                answer.to_lowercase().as_bytes(),
                self.ttl,
            )
            .await?;
        Ok(NewCaptcha {
            captcha_id,
            image_png,
            expires_at: UnixMillis::now().saturating_add(self.ttl),
        })
    }

    /// Whether the answer is right; the challenge is spent either way. A provider token
    /// without a configured provider is wrong.
    pub async fn check(
        &self,
        answer: &CaptchaAnswer,
        client: &ClientAddress,
    ) -> anyhow::Result<bool> {
        match answer {
            CaptchaAnswer::Image { captcha_id, answer } => {
                let Some(expected) = self.store.take(&key(captcha_id)).await? else {
                    return Ok(false);
                };
                Ok(expected == answer.trim().to_lowercase().as_bytes())
            }
            CaptchaAnswer::ProviderToken(token) => match &self.provider {
                Some(provider) => provider.verify(token, client).await,
                None => Ok(false),
            },
        }
    }
}

fn key(captcha_id: &str) -> String {
    format!("captcha:{captcha_id}")
}

#[cfg(test)]
mod tests {
    use mi_platform::ephemeral::MemoryEphemeralStore;

    use super::*;

    /// Vouches for one token.
    #[derive(Debug)]
    struct OneGoodToken;

    #[async_trait::async_trait]
    impl CaptchaProvider for OneGoodToken {
        async fn verify(&self, token: &str, _client: &ClientAddress) -> anyhow::Result<bool> {
            Ok(token == "good")
        }
    }

    #[tokio::test]
    async fn provider_tokens_are_the_providers_to_judge_and_wrong_without_one() {
        let store = Arc::new(MemoryEphemeralStore::new());
        let images_only = Captchas::new(store, Duration::from_secs(60), 5);
        let with_provider = images_only.clone().with_provider(Arc::new(OneGoodToken));
        let client = ClientAddress("192.0.2.1".into());
        let token = |text: &str| CaptchaAnswer::ProviderToken(text.into());

        assert!(
            !images_only
                .check(&token("good"), &client)
                .await
                .expect("checked")
        );
        assert!(
            with_provider
                .check(&token("good"), &client)
                .await
                .expect("checked")
        );
        assert!(
            !with_provider
                .check(&token("bad"), &client)
                .await
                .expect("checked")
        );
    }
}
