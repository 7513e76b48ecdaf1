//! The device key: an Ed25519 key the agent makes at its first sign-in, whose public half the
//! registry stores and whose private half never leaves the state file. Each device-side call
//! carries a fresh device token signed with it, exactly as the registry verifies them
//! ([`mi_platform::auth::DeviceClaims`]).

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64_URL};
use mi_contracts::UnixMillis;
use mi_platform::auth::{DEVICE_TOKEN_AUDIENCE, DeviceClaims};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::{DeviceCredential, DeviceKeyAlgorithm};
use secrecy::ExposeSecret;

/// How long a device token lives: one call, with room for a slow network, well under the
/// registry's cap of five minutes.
const TOKEN_LIFETIME_SECS: i64 = 60;

/// A device's signing key.
#[derive(Clone)]
pub struct DeviceKey {
    seed: SecretKey,
    signer: TokenSigner,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DeviceKey")
            .field("public_key", &self.signer.public_key().x)
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self::from_seed(SecretKey::generate())
    }

    /// The key saved as [`Self::to_base64`].
    pub fn from_base64(encoded: &str) -> anyhow::Result<Self> {
        let bytes = BASE64
            .decode(encoded.trim())
            .context("the device key is not base64")?;
        Ok(Self::from_seed(SecretKey::from_bytes(&bytes)?))
    }

    fn from_seed(seed: SecretKey) -> Self {
        // from_seed fails only for a key it cannot encode, which an Ed25519 seed never is.
        let signer = TokenSigner::from_seed(&seed, None)
            .unwrap_or_else(|error| unreachable!("an Ed25519 seed always encodes: {error}"));
        Self { seed, signer }
    }

    /// The seed, base64, for the state file.
    pub fn to_base64(&self) -> String {
        self.seed.to_base64().expose_secret().to_owned()
    }

    /// The raw 32-byte public key (RFC 8032).
    pub fn public_key(&self) -> Vec<u8> {
        BASE64_URL
            .decode(&self.signer.public_key().x)
            .unwrap_or_else(|error| unreachable!("the signer's own key is base64url: {error}"))
    }

    /// The credential to enroll: this key, and the push token if any.
    pub fn credential(&self, push_token: &str) -> DeviceCredential {
        DeviceCredential {
            algorithm: DeviceKeyAlgorithm::Ed25519.into(),
            public_key: self.public_key(),
            push_token: push_token.to_owned(),
        }
    }

    /// A device token for one call of device `device_id` of account `mi_id`, issued now.
    pub fn device_token(&self, mi_id: u64, device_id: &str) -> anyhow::Result<String> {
        let now_secs = UnixMillis::now().as_i64() / 1000;
        self.signer.sign(&DeviceClaims {
            aud: DEVICE_TOKEN_AUDIENCE.to_owned(),
            sub: device_id.to_owned(),
            mi_id,
            iat: now_secs,
            exp: now_secs + TOKEN_LIFETIME_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_against_the_enrolled_public_key_as_the_registry_checks_them() {
        let key = DeviceKey::generate();
        let credential = mi_contracts::DeviceCredential {
            algorithm: mi_contracts::DeviceKeyAlgorithm::Ed25519,
            public_key: key.public_key(),
            push_token: String::new(),
        };
        mi_platform::auth::check_device_key(&credential).unwrap();
        let now_secs = UnixMillis::now().as_i64() / 1000;

        let token = key.device_token(4_070_000_001, "phone-1").unwrap();
        let claims = DeviceClaims::verify(&token, &credential, now_secs).unwrap();
        assert_eq!(claims.sub, "phone-1");
        assert_eq!(claims.mi_id, 4_070_000_001);
        assert!(claims.exp - claims.iat <= mi_platform::auth::DEVICE_TOKEN_MAX_LIFETIME_SECS);

        let again = key.device_token(4_070_000_001, "phone-1").unwrap();
        let again = DeviceClaims::verify(&again, &credential, now_secs).unwrap();
        assert_ne!(again.jti, claims.jti, "each call spends its own token");

        let other = DeviceKey::generate()
            .device_token(4_070_000_001, "phone-1")
            .unwrap();
        assert!(DeviceClaims::verify(&other, &credential, now_secs).is_err());
    }

    #[test]
    fn the_key_survives_the_state_file() {
        let key = DeviceKey::generate();
        let restored = DeviceKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(restored.public_key(), key.public_key());
        assert_eq!(key.public_key().len(), 32);
        assert!(DeviceKey::from_base64("not base64!").is_err());
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }
}
