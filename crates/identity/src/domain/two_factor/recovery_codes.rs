//! One-time recovery codes: ten random codes shown once, stored as keyed hashes.

use hmac::{Hmac, Mac};
use mi_platform::crypto::SecretKey;
use sha2::Sha256;

/// Codes per set.
pub(super) const CODES_PER_SET: usize = 10;
/// Letters and digits that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Makes and hashes recovery codes.
#[derive(Clone)]
pub struct RecoveryCodes {
    key: SecretKey,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RecoveryCodes(..)")
    }
}

impl RecoveryCodes {
    /// Codes hashed with `key`.
    pub fn new(key: SecretKey) -> Self {
        Self { key }
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
        let hashes = codes.iter().map(|code| self.hash(code)).collect();
        (codes, hashes)
    }

    /// The stored form of a typed code (case, spaces and dashes ignored).
    pub fn hash(&self, typed: &str) -> String {
        let normalized: String = typed
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_bytes())
            .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
        mac.update(b"recovery-code:");
        mac.update(normalized.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
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
        assert_eq!(codes.hash(&typed), hashes[0]);
    }
}
