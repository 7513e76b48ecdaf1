//! CreateCaptcha: a new image challenge, limited per client so that nobody can farm images
//! (to train a solver) or fill the challenge store.

use std::time::Duration;

use mi_platform::client::limit_key;
use mi_platform::limiter::Limit;

use super::{ClientAddress, NewCaptcha, Verifier};

const HOUR: Duration = Duration::from_secs(3600);

/// Why no challenge was created.
#[derive(Debug, thiserror::Error)]
pub enum CreateCaptchaError {
    /// The client created too many challenges.
    #[error("too many captchas from this client")]
    RateLimited {
        /// When a challenge could be created.
        retry_after: Duration,
    },
    /// Anything else, the limiter being unreachable included.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Verifier {
    /// Creates a CAPTCHA challenge for `client`, counted against its hourly limit.
    pub async fn create_captcha(
        &self,
        client: &ClientAddress,
    ) -> Result<NewCaptcha, CreateCaptchaError> {
        let limit = Limit::new(
            format!("captcha:client-hour:{}", limit_key(&client.0)),
            self.policy.limits.captchas_per_client_per_hour,
            HOUR,
        );
        let decision = self.limiter.acquire(&[limit]).await?;
        if !decision.allowed {
            return Err(CreateCaptchaError::RateLimited {
                retry_after: decision.retry_after,
            });
        }
        Ok(self.captchas.create().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::LimitSettings;
    use super::super::testing::Fixture;
    use super::*;

    #[tokio::test]
    async fn each_client_creates_a_limited_number_of_captchas_an_hour() {
        let fixture = Fixture::with_limits(LimitSettings {
            captchas_per_client_per_hour: 2,
            ..LimitSettings::default()
        });
        let client = ClientAddress("192.0.2.7".into());
        for _ in 0..2 {
            fixture
                .verifier
                .create_captcha(&client)
                .await
                .expect("created");
        }
        let refused = fixture.verifier.create_captcha(&client).await;
        assert!(
            matches!(refused, Err(CreateCaptchaError::RateLimited { retry_after }) if !retry_after.is_zero()),
            "{refused:?}"
        );
        let other = ClientAddress("192.0.2.8".into());
        fixture
            .verifier
            .create_captcha(&other)
            .await
            .expect("another client");
    }
}
