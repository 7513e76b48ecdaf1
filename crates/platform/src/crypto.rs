//! Sealing of verification codes inside events, and the 32-byte keys behind it.
//!
//! A code crosses Kafka sealed with XChaCha20-Poly1305 under a key that only the verification
//! and notification services hold; the verification id is the associated data, so a sealed code
//! cannot be replayed into another verification's event.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};

const NONCE_LEN: usize = 24;

/// A 32-byte secret key.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Parses a key written as standard base64 of exactly 32 bytes.
    pub fn parse_base64(encoded: &SecretString) -> anyhow::Result<Self> {
        let bytes = BASE64
            .decode(encoded.expose_secret().trim())
            .context("key is not valid base64")?;
        Self::from_bytes(&bytes)
    }

    /// A key from exactly 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("key must be 32 bytes, got {}", bytes.len()))?;
        Ok(Self(key))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// The configured key, or in development a key kept in a file under the data directory.
    ///
    /// Two processes sharing a data directory (the services run one by one) share the key.
    pub fn configured_or_dev(
        configured: Option<&SecretString>,
        dev_key_file: Option<&Path>,
        setting: &str,
    ) -> anyhow::Result<Self> {
        if let Some(encoded) = configured {
            return Self::parse_base64(encoded).with_context(|| format!("invalid {setting}"));
        }
        let Some(path) = dev_key_file else {
            anyhow::bail!("{setting} must be set when PostgreSQL is configured (32 bytes, base64)");
        };
        if let Ok(existing) = std::fs::read_to_string(path) {
            return Self::parse_base64(&SecretString::from(existing))
                .with_context(|| format!("invalid development key in {}", path.display()));
        }
        let parent = path.parent().unwrap_or(Path::new("."));
        private_directory(parent)
            .with_context(|| format!("cannot create key directory {}", parent.display()))?;
        // Write a private temporary file, then link it into place: linking fails if another
        // service won the race, and then both use the winner's key.
        let key = Self::generate();
        let temporary = parent.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
        write_private(&temporary, BASE64.encode(key.0).as_bytes())
            .with_context(|| format!("cannot write development key {}", temporary.display()))?;
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                tracing::warn!(path = %path.display(), setting, "generated a development key");
                Ok(key)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::configured_or_dev(None, Some(path), setting)
            }
            Err(error) => Err(error)
                .with_context(|| format!("cannot write development key {}", path.display())),
        }
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as base64, the format configuration takes.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(BASE64.encode(self.0))
    }
}

/// Creates `directory` (and its parents) readable by this user only (0700), and narrows it to
/// 0700 if it exists already: development keys live there.
fn private_directory(directory: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = directory.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(directory) {
        Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
}

/// Writes a new file readable and writable by this user only (0600), from its creation on.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents)
}

/// Compares two secrets in time that depends on their length only, not on where they differ.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// Seals and opens verification codes carried in events.
#[derive(Clone)]
pub struct CodeCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for CodeCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CodeCipher(..)")
    }
}

impl CodeCipher {
    /// A cipher under the given key.
    pub fn new(key: &SecretKey) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.as_bytes().into()),
        }
    }

    /// Returns a random nonce followed by the ciphertext of `plaintext`, bound to `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`CodeCipher::seal`] produced for the same context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            anyhow::bail!("sealed value is too short");
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key and context"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_code_opens_only_in_its_context() {
        let cipher = CodeCipher::new(&SecretKey::generate());
        let sealed = cipher.seal("verification-1", b"123456").expect("seal");
        assert_eq!(
            cipher.open("verification-1", &sealed).expect("open"),
            b"123456"
        );
        assert!(cipher.open("verification-2", &sealed).is_err());
        let other = CodeCipher::new(&SecretKey::generate());
        assert!(other.open("verification-1", &sealed).is_err());
    }

    #[test]
    fn development_keys_are_private_to_their_user() {
        use std::os::unix::fs::PermissionsExt;
        let data_dir = tempfile::tempdir().expect("tempdir");
        let directory = data_dir.path().join("dev-keys");
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        let generated = SecretKey::configured_or_dev(None, Some(&directory.join("a.key")), "a")
            .expect("generated");
        assert_eq!(mode(&directory), 0o700, "key directory");
        assert_eq!(mode(&directory.join("a.key")), 0o600, "key file");
        let again = SecretKey::configured_or_dev(None, Some(&directory.join("a.key")), "a")
            .expect("read back");
        assert_eq!(again.as_bytes(), generated.as_bytes());

        // A directory an older version left open is narrowed when a key is added.
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        SecretKey::configured_or_dev(None, Some(&directory.join("b.key")), "b").expect("generated");
        assert_eq!(mode(&directory), 0o700);
        assert_eq!(mode(&directory.join("b.key")), 0o600);
    }

    #[test]
    fn key_round_trips_through_base64() {
        let key = SecretKey::generate();
        let parsed = SecretKey::parse_base64(&key.to_base64()).expect("parse");
        assert_eq!(parsed.as_bytes(), key.as_bytes());
        assert!(SecretKey::parse_base64(&SecretString::from("c2hvcnQ=")).is_err());
    }
}
