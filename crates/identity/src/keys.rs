//! The keys identity holds: its token signing key, the password pepper, the TOTP key, and the
//! verification service's public keys. Configured in production; generated into the data
//! directory in embedded mode.

use anyhow::Context;
use hmac::{Hmac, Mac};
use mi_platform::config::InfraConfig;
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::{PublicKey, TokenSigner, jwk_set_json};
use sha2::Sha256;

use crate::config::Settings;
use crate::domain::TokenIssuer;

/// The keys, loaded and checked.
#[derive(Debug)]
pub(crate) struct ServiceKeys {
    /// Signs access tokens.
    pub issuer: TokenIssuer,
    /// Mixed into password hashes and recovery-code hashes.
    pub pepper: SecretKey,
    /// Seals TOTP secrets.
    pub totp_key: SecretKey,
    /// Verify verification tokens.
    pub verification_keys: Vec<PublicKey>,
}

impl ServiceKeys {
    /// Loads every key, failing with the setting's name when one is missing or malformed.
    pub(crate) fn load(infra: &InfraConfig, settings: &Settings) -> anyhow::Result<Self> {
        let key = |configured, dev_name: &str, setting: &str| {
            SecretKey::configured_or_dev(
                configured,
                infra.dev_key_file(dev_name).as_deref(),
                setting,
            )
        };
        let signing_seed = key(
            settings.tokens.signing_key.as_ref(),
            "identity-token",
            "identity.tokens.signing_key",
        )?;
        let previous_keys = parse_keys(&settings.tokens.previous_public_keys)
            .context("invalid identity.tokens.previous_public_keys")?;
        let issuer = TokenIssuer::new(
            TokenSigner::from_seed(&signing_seed, settings.tokens.key_id.as_deref())?,
            previous_keys,
            settings.tokens.lifetimes(),
            successor_key(&signing_seed),
        );
        Ok(Self {
            issuer,
            pepper: key(
                settings.password.pepper.as_ref(),
                "password-pepper",
                "identity.password.pepper",
            )?,
            totp_key: key(
                settings.totp_encryption_key.as_ref(),
                "totp-encryption",
                "identity.totp_encryption_key",
            )?,
            verification_keys: verification_keys(infra, settings)?,
        })
    }

    /// Writes the JWK set where services that read keys from a file look for it; a failure
    /// is logged, since the ListSigningKeys RPC serves the same keys.
    pub(crate) fn write_jwks(&self, infra: &InfraConfig, settings: &Settings) {
        let path = settings
            .tokens
            .jwks_path
            .clone()
            .unwrap_or_else(|| infra.data_dir.join("identity-jwks.json"));
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, jwk_set_json(&self.issuer.public_keys())));
        match written {
            Ok(()) => tracing::info!(path = %path.display(), "access token keys written"),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot write the access token keys")
            }
        }
    }
}

fn parse_keys(texts: &[String]) -> anyhow::Result<Vec<PublicKey>> {
    texts.iter().map(|text| PublicKey::parse(text)).collect()
}

/// The configured verification keys; in embedded mode, by default, the public half of the
/// verification service's development key in the shared data directory.
fn verification_keys(infra: &InfraConfig, settings: &Settings) -> anyhow::Result<Vec<PublicKey>> {
    if !settings.verification_public_keys.is_empty() {
        return parse_keys(&settings.verification_public_keys)
            .context("invalid identity.verification_public_keys");
    }
    let Some(dev_key_file) = infra.dev_key_file("verification-token") else {
        anyhow::bail!(
            "identity.verification_public_keys must be set when PostgreSQL is configured (kid:x of the verification service's keys)"
        );
    };
    let seed =
        SecretKey::configured_or_dev(None, Some(&dev_key_file), "verification.token.signing_key")?;
    Ok(vec![
        TokenSigner::from_seed(&seed, None)?.public_key().clone(),
    ])
}

/// The key refresh-token successors are derived with: its own key, derived from the token
/// signing seed (which rotating it replaces; a refresh in flight then just needs a new
/// sign-in if it races), never the seed itself.
fn successor_key(signing_seed: &SecretKey) -> SecretKey {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_seed.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"mi-account identity refresh-token successor v1");
    SecretKey::from_bytes(&mac.finalize().into_bytes()).expect("32 bytes")
}
