//! Verification tokens: the signed proof that a destination was verified for a purpose.

use std::time::Duration;

use mi_contracts::UnixMillis;
use mi_platform::auth::{
    VERIFICATION_TOKEN_AUDIENCE, VERIFICATION_TOKEN_ISSUER, VerificationClaims,
};
use mi_platform::tokens::{PublicKey, TokenSigner};

use super::Verification;

/// Issues tokens and lists the keys that verify them.
#[derive(Debug, Clone)]
pub struct VerificationTokens {
    signer: TokenSigner,
    previous_keys: Vec<PublicKey>,
    ttl: Duration,
}

impl VerificationTokens {
    /// Tokens signed by `signer`, valid for `ttl`; `previous_keys` stay published for rotation.
    pub fn new(signer: TokenSigner, previous_keys: Vec<PublicKey>, ttl: Duration) -> Self {
        Self {
            signer,
            previous_keys,
            ttl,
        }
    }

    /// A token for an approved verification, with its expiry.
    pub fn issue(
        &self,
        verification: &Verification,
        now: UnixMillis,
    ) -> anyhow::Result<(String, UnixMillis)> {
        let expires_at = now.saturating_add(self.ttl);
        let claims = VerificationClaims {
            iss: VERIFICATION_TOKEN_ISSUER.to_owned(),
            aud: VERIFICATION_TOKEN_AUDIENCE.to_owned(),
            sub: verification.destination.canonical(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now.as_i64() / 1000,
            exp: expires_at.as_i64() / 1000,
            vid: verification.verification_id.clone(),
            channel: verification.channel,
            purpose: verification.purpose,
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
