//! One-time recovery codes: ten random codes shown once, stored as keyed hashes.

use hmac::{Hmac, Mac};
use mi_platform::crypto::SecretKey;
use sha2::Sha256;

use crate::domain::passwords::recovery_code_key;

/// Codes per set.
pub(super) const CODES_PER_SET: usize = 10;
/// Letters and digits that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Makes and hashes recovery codes.
#[derive(Clone)]
pub struct RecoveryCodes {
    /// Derived from the pepper for recovery codes alone: new codes.
    key: SecretKey,
    /// The pepper itself: codes made before the derived key.
    pepper: SecretKey,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RecoveryCodes(..)")
    }
}

impl RecoveryCodes {
    /// Codes hashed with a key derived from `pepper`.
    pub fn new(pepper: SecretKey) -> Self {
        Self {
            key: recovery_code_key(&pepper),
            pepper,
        }
    }

    /// A fresh set: the codes to show (`xxxxx-xxxxx`, about 50 bits each) and their hashes.
    pub fn generate(&self) -> (Vec<String>, Vec<String>) {
        let codes: Vec<String> = (0..CODES_PER_SET)
            .map(|_| {
                let characters: String = (0..10)
                    .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
                    .collect();
                format!("{}-{}", &characters[..5], &characters[5..])
            })
            .collect();
        let hashes = codes.iter().map(|code| hash(&self.key, code)).collect();
        (codes, hashes)
    }

    /// The forms a typed code may be stored in (case, spaces and dashes ignored): hashed with
    /// the derived key, then with the pepper, as codes made before the derived key were.
    pub fn hashes(&self, typed: &str) -> [String; 2] {
        [hash(&self.key, typed), hash(&self.pepper, typed)]
    }
}

/// A typed code hashed with `key`.
fn hash(key: &SecretKey, typed: &str) -> String {
    let normalized: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
    mac.update(b"recovery-code:");
    mac.update(normalized.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_hash_the_same_however_typed() {
        let codes = RecoveryCodes::new(SecretKey::generate());
        let (shown, hashes) = codes.generate();
        assert_eq!(shown.len(), CODES_PER_SET);
        let distinct: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), CODES_PER_SET);
        let typed = format!(" {} ", shown[0].to_uppercase().replace('-', " "));
        assert_eq!(codes.hashes(&typed)[0], hashes[0]);
    }

    #[test]
    fn codes_made_with_the_pepper_itself_still_match_their_second_form() {
        let pepper = SecretKey::generate();
        let codes = RecoveryCodes::new(pepper.clone());
        let before = hash(&pepper, "abcde-fghjk");
        let [derived, with_pepper] = codes.hashes("ABCDE FGHJK");
        assert_eq!(with_pepper, before);
        assert_ne!(derived, before, "new codes do not use the pepper");
    }
}
