//! Signed tokens (EdDSA JWTs) that other services verify offline, and the JWK set that
//! publishes the public keys with their key ids so keys can rotate.

use std::collections::HashMap;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::crypto::SecretKey;

/// An Ed25519 public key as published: its key id and the JWK `x` (base64url).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct PublicKey {
    /// The JWK `kid`, carried in every token's header.
    pub key_id: String,
    /// The JWK `x`: the raw public key, base64url without padding.
    pub x: String,
}

impl PublicKey {
    /// Parses `kid:x`, the form configuration takes.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (key_id, x) = text
            .split_once(':')
            .context("a public key is written as key_id:x (x is base64url)")?;
        let bytes = BASE64_URL.decode(x.trim()).context("x is not base64url")?;
        anyhow::ensure!(bytes.len() == 32, "an Ed25519 public key is 32 bytes");
        Ok(Self {
            key_id: key_id.trim().to_owned(),
            x: x.trim().to_owned(),
        })
    }

    /// The keys another service's tokens are trusted with: `configured` (`kid:x` each) when
    /// set; otherwise, in embedded mode, the public half of that service's development key at
    /// `dev_key_file`, which whichever service starts first creates. `setting` names the
    /// configuration key in errors.
    pub fn configured_or_dev(
        configured: &[String],
        dev_key_file: Option<&std::path::Path>,
        setting: &str,
    ) -> anyhow::Result<Vec<Self>> {
        if !configured.is_empty() {
            return configured
                .iter()
                .map(|text| Self::parse(text))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("invalid {setting}"));
        }
        let Some(dev_key_file) = dev_key_file else {
            anyhow::bail!(
                "{setting} must be set when PostgreSQL is configured (kid:x of each trusted key)"
            );
        };
        let seed = SecretKey::configured_or_dev(None, Some(dev_key_file), setting)?;
        Ok(vec![
            TokenSigner::from_seed(&seed, None)?.public_key().clone(),
        ])
    }
}

/// `kid:x`, the form [`PublicKey::parse`] reads.
impl std::fmt::Display for PublicKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.key_id, self.x)
    }
}

/// The JWK set (RFC 7517) of some Ed25519 public keys, as JSON.
pub fn jwk_set_json(keys: &[PublicKey]) -> String {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": key.key_id, "x": key.x,
            })
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// Signs tokens with one Ed25519 key.
#[derive(Clone)]
pub struct TokenSigner {
    encoding_key: EncodingKey,
    public_key: PublicKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenSigner")
            .field("key_id", &self.public_key.key_id)
            .finish()
    }
}

impl TokenSigner {
    /// A signer from a 32-byte Ed25519 seed; the key id defaults to a hash of the public key.
    pub fn from_seed(seed: &SecretKey, key_id: Option<&str>) -> anyhow::Result<Self> {
        let signing_key = SigningKey::from_bytes(seed.as_bytes());
        let der = signing_key
            .to_pkcs8_der()
            .context("cannot encode the signing key")?;
        let public = signing_key.verifying_key().to_bytes();
        let key_id = match key_id {
            Some(key_id) => key_id.to_owned(),
            None => Sha256::digest(public)
                .iter()
                .take(8)
                .map(|byte| format!("{byte:02x}"))
                .collect(),
        };
        Ok(Self {
            encoding_key: EncodingKey::from_ed_der(der.as_bytes()),
            public_key: PublicKey {
                key_id,
                x: BASE64_URL.encode(public),
            },
        })
    }

    /// Signs `claims` as a compact JWS with `alg: EdDSA` and this key's `kid`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.public_key.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key).context("cannot sign token")
    }

    /// The public half, for the JWK set.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Expired, badly signed, for another audience or issuer, or malformed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Signed with a key id this verifier does not trust.
    #[error("token signed with an unknown key")]
    UnknownKey,
}

/// Verifies tokens against a set of trusted public keys, offline.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenVerifier")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenVerifier {
    /// Trusts `keys`, and only tokens from `issuer` for `audience`.
    pub fn new(keys: &[PublicKey], issuer: &str, audience: &str) -> anyhow::Result<Self> {
        let keys = keys
            .iter()
            .map(|key| Ok((key.key_id.clone(), DecodingKey::from_ed_components(&key.x)?)))
            .collect::<anyhow::Result<HashMap<_, _>>>()?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = 5;
        Ok(Self { keys, validation })
    }

    /// The claims of a valid token.
    pub fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| TokenError::Invalid(error.to_string()))?;
        let key = header
            .kid
            .as_deref()
            .and_then(|key_id| self.keys.get(key_id))
            .ok_or(TokenError::UnknownKey)?;
        jsonwebtoken::decode::<C>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| TokenError::Invalid(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
    struct Claims {
        iss: String,
        aud: String,
        sub: String,
        exp: u64,
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            iss: "mi-verification".into(),
            aud: "mi-account".into(),
            sub: "+8613800138000".into(),
            exp,
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs()
    }

    #[test]
    fn signed_tokens_verify_with_the_published_key_only() {
        let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let expires = now() + 600;
        let token = signer.sign(&claims(expires)).expect("sign");
        let verifier = TokenVerifier::new(
            &[signer.public_key().clone()],
            "mi-verification",
            "mi-account",
        )
        .expect("verifier");
        assert_eq!(
            verifier.verify::<Claims>(&token).expect("valid"),
            claims(expires)
        );

        let stranger =
            TokenSigner::from_seed(&SecretKey::generate(), Some(&signer.public_key().key_id))
                .expect("signer");
        assert!(
            verifier
                .verify::<Claims>(&stranger.sign(&claims(now() + 600)).expect("sign"))
                .is_err()
        );
        let other_kid = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        assert!(matches!(
            verifier.verify::<Claims>(&other_kid.sign(&claims(now() + 600)).expect("sign")),
            Err(TokenError::UnknownKey)
        ));
        assert!(
            verifier
                .verify::<Claims>(&signer.sign(&claims(now() - 60)).expect("sign"))
                .is_err(),
            "expired"
        );
        let other_audience = TokenVerifier::new(
            &[signer.public_key().clone()],
            "mi-verification",
            "elsewhere",
        )
        .expect("verifier");
        assert!(other_audience.verify::<Claims>(&token).is_err());
    }

    #[test]
    fn public_keys_round_trip_through_config_text_and_jwks() {
        let signer = TokenSigner::from_seed(&SecretKey::generate(), Some("k1")).expect("signer");
        let key = signer.public_key();
        assert_eq!(
            PublicKey::parse(&format!("{}:{}", key.key_id, key.x)).expect("parse"),
            *key
        );
        assert!(PublicKey::parse("k1:short").is_err());
        let jwks: serde_json::Value =
            serde_json::from_str(&jwk_set_json(std::slice::from_ref(key))).expect("json");
        assert_eq!(jwks["keys"][0]["kid"], "k1");
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    }

    /// The same key id and `x` as the openssl recipe in deploy/secrets/README.md gives.
    #[test]
    fn public_key_matches_the_documented_openssl_derivation() {
        let seed = SecretKey::parse_base64(&secrecy::SecretString::from(
            "LsklO1/bawHtrT6eQMLpNEX1g2Sfi1Mlnaj2Hu1iHC8=",
        ))
        .expect("seed");
        let key = TokenSigner::from_seed(&seed, None)
            .expect("signer")
            .public_key()
            .clone();
        assert_eq!(
            format!("{}:{}", key.key_id, key.x),
            "1fe676842529442a:cGJCjPaPjc6tqjPsVscjmHKHVeGX5EW2uhA_BP8e4ts"
        );
    }
}
