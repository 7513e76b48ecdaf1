//! Verification tokens: the signed proof that a destination was verified for a purpose.

use std::time::Duration;

use mi_platform::clock;
use mi_platform::tokens::{PublicKey, TokenSigner};
use serde::{Deserialize, Serialize};

use super::Verification;

/// The token's issuer.
pub const ISSUER: &str = "mi-verification";
/// The token's audience: the services of the account platform.
pub const AUDIENCE: &str = "mi-account";

/// What a verification token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The verified destination.
    pub sub: String,
    /// Unique token id; a consumer spends it once.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// The verification id.
    pub vid: String,
    /// `sms`, `voice` or `email`.
    pub channel: String,
    /// What the verification proves, e.g. `sign_up`.
    pub purpose: String,
}

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

    /// A token for an approved verification, with its expiry in milliseconds since the epoch.
    pub fn issue(&self, verification: &Verification, now: i64) -> anyhow::Result<(String, i64)> {
        let expires_at = clock::add_millis(now, self.ttl);
        let claims = TokenClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: verification.destination.as_str().to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now / 1000,
            exp: expires_at / 1000,
            vid: verification.verification_id.clone(),
            channel: verification.channel.as_str().to_owned(),
            purpose: verification.purpose.as_str().to_owned(),
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
