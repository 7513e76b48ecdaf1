//! Signed tokens (EdDSA JWTs) that other services verify offline, and the JWK set that
//! publishes the public keys with their key ids so keys can rotate.
//!
//! Following RFC 8725 (JWT best practices), every token names its kind in the header `typ`
//! and carries `iss`, `aud` and `exp`; a verifier refuses a token that lacks any of them or is
//! of another kind, so a token minted for one purpose is never accepted for another.

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

/// The claims of one kind of signed token, named by the JWT header `typ` it is signed with.
pub trait TokenKind: Serialize + DeserializeOwned {
    /// The header `typ`, e.g. `at+jwt` for access tokens (RFC 9068).
    const TYP: &'static str;
}

/// Whether a header `typ` names `expected`: media types compare case-insensitively and may
/// carry the `application/` prefix (RFC 7515 §4.1.9).
fn is_type(typ: &str, expected: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/")
        .unwrap_or(&typ)
        .eq_ignore_ascii_case(expected)
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

    /// Signs `claims` as a compact JWS with `alg: EdDSA`, this key's `kid` and the claims'
    /// `typ`.
    pub fn sign<C: TokenKind>(&self, claims: &C) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.public_key.key_id.clone());
        header.typ = Some(C::TYP.to_owned());
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
    /// Expired, badly signed, for another audience or issuer, of another kind, missing a
    /// required claim, or malformed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Signed with a key id this verifier does not trust.
    #[error("token signed with an unknown key")]
    UnknownKey,
}

/// How far a verifier lets token times drift, in seconds, for clocks that disagree.
pub(crate) const LEEWAY_SECS: i64 = 5;

/// The claims of a token of kind `C` signed by `key` with `algorithm` (the only one accepted) for
/// `audience`, which must say when it expires; for tokens whose signer is known by another way
/// than a key id.
pub(crate) fn verify_with_key<C: TokenKind>(
    token: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
    audience: &str,
) -> Result<C, TokenError> {
    check_type::<C>(token)?;
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    validation.leeway = LEEWAY_SECS.unsigned_abs();
    jsonwebtoken::decode::<C>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|error| TokenError::Invalid(error.to_string()))
}

/// The header of `token` if its `typ` names kind `C`.
fn check_type<C: TokenKind>(token: &str) -> Result<Header, TokenError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|error| TokenError::Invalid(error.to_string()))?;
    match header.typ.as_deref() {
        Some(typ) if is_type(typ, C::TYP) => Ok(header),
        other => Err(TokenError::Invalid(format!(
            "token type {other:?} is not {:?}",
            C::TYP
        ))),
    }
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
    /// Trusts `keys`, and only tokens from `issuer` for `audience` that say when they expire.
    pub fn new(keys: &[PublicKey], issuer: &str, audience: &str) -> anyhow::Result<Self> {
        let keys = keys
            .iter()
            .map(|key| Ok((key.key_id.clone(), DecodingKey::from_ed_components(&key.x)?)))
            .collect::<anyhow::Result<HashMap<_, _>>>()?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Without this, jsonwebtoken checks `iss` and `aud` only when a token carries them.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        Ok(Self { keys, validation })
    }

    /// The claims of a valid token of kind `C`.
    pub fn verify<C: TokenKind>(&self, token: &str) -> Result<C, TokenError> {
        let header = check_type::<C>(token)?;
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
mod tests;
