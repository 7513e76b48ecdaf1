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

/// The answer that passes every image CAPTCHA in test mode (`verification.captcha.test_mode`,
/// embedded mode only), as reCAPTCHA, hCaptcha and Turnstile publish test keys: a program can
/// drive sign-up. It has a `-`, which no drawn challenge does, so it never is a real answer.
pub const TEST_ANSWER: &str = "test-captcha";

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
    test_mode: bool,
}

impl Captchas {
    /// Challenges of `length` characters, answerable for `ttl`, answers kept in `store`.
    pub fn new(store: Arc<dyn EphemeralStore>, ttl: Duration, length: u32) -> Self {
        Self {
            store,
            ttl,
            length,
            provider: None,
            test_mode: false,
        }
    }

    /// Also accepts [`TEST_ANSWER`] for every challenge (still spent once, as any answer).
    pub fn with_test_answer(mut self) -> Self {
        self.test_mode = true;
        self
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
                let typed = answer.trim().to_lowercase();
                Ok(expected == typed.as_bytes() || (self.test_mode && typed == TEST_ANSWER))
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
    async fn the_test_answer_passes_only_in_test_mode_and_spends_the_challenge() {
        let store = Arc::new(MemoryEphemeralStore::new());
        let normal = Captchas::new(store, Duration::from_secs(60), 5);
        let test_mode = normal.clone().with_test_answer();
        let client = ClientAddress("192.0.2.1".into());
        let answered = |captcha_id: &str, answer: &str| CaptchaAnswer::Image {
            captcha_id: captcha_id.into(),
            answer: answer.into(),
        };

        let shown = normal.create().await.expect("created");
        let test_answer = answered(&shown.captcha_id, TEST_ANSWER);
        assert!(!normal.check(&test_answer, &client).await.expect("checked"));
        let shown = test_mode.create().await.expect("created");
        let test_answer = answered(&shown.captcha_id, " TEST-CAPTCHA ");
        assert!(
            test_mode
                .check(&test_answer, &client)
                .await
                .expect("checked")
        );
        assert!(
            !test_mode
                .check(&test_answer, &client)
                .await
                .expect("checked"),
            "spent once, like any answer"
        );
        let unknown = answered("no-such-captcha", TEST_ANSWER);
        assert!(!test_mode.check(&unknown, &client).await.expect("checked"));
        let shown = test_mode.create().await.expect("created");
        let wrong = answered(&shown.captcha_id, "wrong");
        assert!(!test_mode.check(&wrong, &client).await.expect("checked"));
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
