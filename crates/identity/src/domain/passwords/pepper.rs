//! The keys derived from the pepper with HKDF-SHA256, one `info` string per use, so password
//! hashes and recovery codes never share a key. What was made before the derivation keeps the
//! pepper itself as its key: a password hash without this key id in its PHC parameters
//! (`hasher.rs`, rehashed at the next right password), a recovery code that only matches its
//! pepper hash (`RecoveryCodes::hashes`).

use hkdf::Hkdf;
use mi_platform::crypto::SecretKey;
use secrecy::zeroize::Zeroizing;
use sha2::Sha256;

/// The Argon2 `keyid` of hashes made with the derived password key; hashes without one were
/// made with the pepper itself.
pub(super) const PASSWORD_KEY_ID: &[u8] = b"hkdf1";

/// The key mixed into new password hashes.
pub(super) fn password_key(pepper: &SecretKey) -> SecretKey {
    derive(pepper, b"mi-identity password hashing v1")
}

/// The key of new recovery-code hashes.
pub fn recovery_code_key(pepper: &SecretKey) -> SecretKey {
    derive(pepper, b"mi-identity recovery codes v1")
}

fn derive(pepper: &SecretKey, info: &[u8]) -> SecretKey {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, pepper.as_bytes())
        .expand(info, &mut key[..])
        .unwrap_or_else(|_| unreachable!("HKDF-SHA256 expands to 32 bytes"));
    SecretKey::from_bytes(&key[..]).unwrap_or_else(|_| unreachable!("32 bytes are a key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_use_gets_its_own_key_and_the_same_pepper_the_same_keys() {
        let pepper = SecretKey::generate();
        let (password, recovery) = (password_key(&pepper), recovery_code_key(&pepper));
        assert_ne!(password.as_bytes(), recovery.as_bytes());
        assert_ne!(password.as_bytes(), pepper.as_bytes());
        assert_ne!(recovery.as_bytes(), pepper.as_bytes());
        assert_eq!(password_key(&pepper).as_bytes(), password.as_bytes());
    }
}
