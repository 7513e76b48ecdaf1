//! CAPTCHA challenges: a PNG of distorted characters, its answer kept for one check.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use captcha::Captcha;
use captcha::filters::{Dots, Noise, Wave};
use mi_contracts::UnixMillis;
use mi_platform::ephemeral::EphemeralStore;

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
pub struct CaptchaAnswer {
    /// The challenge.
    pub captcha_id: String,
    /// What the person typed.
    pub answer: String,
}

impl std::fmt::Debug for CaptchaAnswer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CaptchaAnswer")
            .field("captcha_id", &self.captcha_id)
            .finish_non_exhaustive()
    }
}

/// Creates challenges and checks answers, once each.
#[derive(Debug, Clone)]
pub struct Captchas {
    store: Arc<dyn EphemeralStore>,
    ttl: Duration,
    length: u32,
}

impl Captchas {
    /// Challenges of `length` characters, answerable for `ttl`, answers kept in `store`.
    pub fn new(store: Arc<dyn EphemeralStore>, ttl: Duration, length: u32) -> Self {
        Self { store, ttl, length }
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

    /// Whether the answer is right; the challenge is spent either way.
    pub async fn check(&self, answer: &CaptchaAnswer) -> anyhow::Result<bool> {
        let Some(expected) = self.store.take(&key(&answer.captcha_id)).await? else {
            return Ok(false);
        };
        Ok(expected == answer.answer.trim().to_lowercase().as_bytes())
    }
}

fn key(captcha_id: &str) -> String {
    format!("captcha:{captcha_id}")
}
