//! PassCaptcha: a solved CAPTCHA traded for a short-lived signed pass naming one sign-in
//! identifier, which identity asks for after failed sign-ins. The services never call each
//! other: the client carries the pass, and identity checks it offline with this service's
//! public keys and spends it once.

use mi_contracts::UnixMillis;
use mi_platform::contact;

use super::{CaptchaAnswer, ClientAddress, Verifier};

/// A CAPTCHA pass and when it stops being accepted.
#[derive(Clone)]
pub struct CaptchaPass {
    /// The signed pass.
    pub token: String,
    /// When it expires.
    pub expires_at: UnixMillis,
}

impl std::fmt::Debug for CaptchaPass {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CaptchaPass")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why no pass was issued.
#[derive(Debug, thiserror::Error)]
pub enum PassCaptchaError {
    /// A field is missing or malformed.
    #[error("invalid {field}: {problem}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The answer is wrong, or its challenge expired or was answered before.
    #[error("the CAPTCHA answer is wrong")]
    WrongAnswer,
    /// The CAPTCHA store or provider cannot be reached.
    #[error("captcha check unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Verifier {
    /// Checks `answer` (spent either way) and signs a pass for the canonical form of
    /// `subject`, the identifier the person means to sign in with.
    pub async fn pass_captcha(
        &self,
        answer: Option<&CaptchaAnswer>,
        subject: &str,
        client: &ClientAddress,
    ) -> Result<CaptchaPass, PassCaptchaError> {
        let subject = contact::canonical_identifier(subject).map_err(|problem| {
            PassCaptchaError::InvalidRequest {
                field: "subject",
                problem,
            }
        })?;
        let answer = answer.ok_or_else(|| PassCaptchaError::InvalidRequest {
            field: "captcha",
            problem: "a solved CAPTCHA is required".into(),
        })?;
        if !self
            .captchas
            .check(answer, client)
            .await
            .map_err(PassCaptchaError::Unavailable)?
        {
            return Err(PassCaptchaError::WrongAnswer);
        }
        let (token, expires_at) = self
            .tokens
            .issue_captcha_pass(&subject, UnixMillis::now())?;
        Ok(CaptchaPass { token, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mi_platform::auth::VerificationTokenVerifier;

    use super::super::CaptchaProvider;
    use super::super::testing::Fixture;
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
    async fn a_solved_captcha_buys_a_pass_for_the_canonical_identifier_only() {
        let mut fixture = Fixture::new();
        fixture.verifier.captchas = fixture
            .verifier
            .captchas
            .clone()
            .with_provider(Arc::new(OneGoodToken));
        let verifier = &fixture.verifier;
        let client = ClientAddress("192.0.2.1".into());
        let good = CaptchaAnswer::ProviderToken("good".into());

        let pass = verifier
            .pass_captcha(Some(&good), " Alice@Example.COM ", &client)
            .await
            .expect("a pass");
        let claims = VerificationTokenVerifier::new(&verifier.public_keys())
            .expect("verifier")
            .verify_captcha_pass(&pass.token)
            .expect("a valid pass");
        assert_eq!(claims.sub, "alice@example.com");
        assert!(claims.exp * 1000 >= pass.expires_at.as_i64() - 1000);

        let wrong = CaptchaAnswer::ProviderToken("bad".into());
        let refused = verifier
            .pass_captcha(Some(&wrong), "alice@example.com", &client)
            .await;
        assert!(
            matches!(refused, Err(PassCaptchaError::WrongAnswer)),
            "{refused:?}"
        );
        for (answer, subject, field) in [
            (None, "alice@example.com", "captcha"),
            (Some(&good), "nobody", "subject"),
        ] {
            let refused = verifier.pass_captcha(answer, subject, &client).await;
            assert!(
                matches!(refused, Err(PassCaptchaError::InvalidRequest { field: named, .. }) if named == field),
                "{refused:?}"
            );
        }
    }
}
