//! Verification tokens, the signed proof that a destination was verified for a purpose, and
//! CAPTCHA passes, the signed proof that a CAPTCHA was solved to sign in as someone: one key
//! signs both, each kind under its own header `typ`.

use std::time::Duration;

use mi_contracts::UnixMillis;
use mi_platform::auth::{
    CaptchaPassClaims, VERIFICATION_TOKEN_AUDIENCE, VERIFICATION_TOKEN_ISSUER, VerificationClaims,
};
use mi_platform::send_token::SendTokenSealer;
use mi_platform::tokens::{PublicKey, TokenSigner};

use super::Verification;

/// Issues tokens and passes and lists the keys that verify them.
#[derive(Debug, Clone)]
pub struct VerificationTokens {
    signer: TokenSigner,
    previous_keys: Vec<PublicKey>,
    ttl: Duration,
    pass_ttl: Duration,
    /// Seals the subject of a token for a destination the client saw only masked.
    subjects: SendTokenSealer,
}

impl VerificationTokens {
    /// Tokens signed by `signer`, valid for `ttl`, and CAPTCHA passes valid for `pass_ttl`;
    /// `previous_keys` stay published for rotation.
    pub fn new(
        signer: TokenSigner,
        previous_keys: Vec<PublicKey>,
        ttl: Duration,
        pass_ttl: Duration,
        subjects: SendTokenSealer,
    ) -> Self {
        Self {
            signer,
            previous_keys,
            ttl,
            pass_ttl,
            subjects,
        }
    }

    /// A token for an approved verification, with its expiry.
    pub fn issue(
        &self,
        verification: &Verification,
        now: UnixMillis,
    ) -> anyhow::Result<(String, UnixMillis)> {
        let expires_at = now.saturating_add(self.ttl);
        let destination = verification.destination.canonical();
        // A client that asked through a challenge contact holds only the masked form; the
        // token it carries to identity must not tell it more.
        let (sub, sealed_sub) = if verification.destination_hidden {
            let sealed = self.subjects.seal_subject(&destination)?;
            (verification.verification_id.clone(), Some(sealed))
        } else {
            (destination, None)
        };
        let claims = VerificationClaims {
            iss: VERIFICATION_TOKEN_ISSUER.to_owned(),
            aud: VERIFICATION_TOKEN_AUDIENCE.to_owned(),
            sub,
            sealed_sub,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now.as_i64() / 1000,
            exp: expires_at.as_i64() / 1000,
            vid: verification.verification_id.clone(),
            channel: verification.channel,
            purpose: verification.purpose,
        };
        Ok((self.signer.sign(&claims)?, expires_at))
    }

    /// A CAPTCHA pass for a canonical sign-in identifier, with its expiry.
    pub fn issue_captcha_pass(
        &self,
        subject: &str,
        now: UnixMillis,
    ) -> anyhow::Result<(String, UnixMillis)> {
        let expires_at = now.saturating_add(self.pass_ttl);
        let claims = CaptchaPassClaims {
            iss: VERIFICATION_TOKEN_ISSUER.to_owned(),
            aud: VERIFICATION_TOKEN_AUDIENCE.to_owned(),
            sub: subject.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now.as_i64() / 1000,
            exp: expires_at.as_i64() / 1000,
        };
        Ok((self.signer.sign(&claims)?, expires_at))
    }

    /// The current key first, then the retired ones still trusted.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        std::iter::once(self.signer.public_key().clone())
            .chain(self.previous_keys.iter().cloned())
            .collect()
    }
}
