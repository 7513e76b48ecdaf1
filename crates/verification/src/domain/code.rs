//! The 6-digit code and its keyed hash.

use hmac::{Hmac, Mac};
use mi_platform::crypto::SecretKey;
use rand::{Rng, TryRngCore};
use sha2::Sha256;

/// A 6-digit one-time code. Its `Debug` hides the digits, so it cannot end up in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("VerificationCode(******)")
    }
}

impl VerificationCode {
    /// A new code from the operating system's CSPRNG (uniform over 000000..=999999).
    pub fn generate() -> Self {
        let value: u32 = rand::rngs::OsRng.unwrap_err().random_range(0..1_000_000);
        Self(format!("{value:06}"))
    }

    /// Accepts exactly 6 ASCII digits.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() != 6 || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err("must be the 6 digits that were sent".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The digits, for sealing into the event.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Hashes codes with HMAC-SHA256 under a server key, bound to their verification.
#[derive(Clone)]
pub struct CodeHasher {
    key: SecretKey,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CodeHasher(..)")
    }
}

impl CodeHasher {
    /// A hasher under `key`.
    pub fn new(key: &SecretKey) -> Self {
        Self { key: key.clone() }
    }

    fn mac(&self, verification_id: &str, code: &VerificationCode) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_bytes())
            .expect("hmac takes any key length");
        mac.update(verification_id.as_bytes());
        mac.update(b":");
        mac.update(code.0.as_bytes());
        mac
    }

    /// The hash to store.
    pub fn hash(&self, verification_id: &str, code: &VerificationCode) -> Vec<u8> {
        self.mac(verification_id, code)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Whether `code` matches `stored_hash`, compared in constant time.
    pub fn matches(
        &self,
        verification_id: &str,
        code: &VerificationCode,
        stored_hash: &[u8],
    ) -> bool {
        self.mac(verification_id, code)
            .verify_slice(stored_hash)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200)
            .map(|_| VerificationCode::generate().expose().to_owned())
            .collect();
        assert!(
            codes
                .iter()
                .all(|code| code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 190, "codes repeat too often: {}", codes.len());
    }

    #[test]
    fn codes_parse_only_as_six_digits() {
        assert!(VerificationCode::parse("012345").is_ok());
        for raw in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert!(VerificationCode::parse(raw).is_err(), "{raw} accepted");
        }
    }

    #[test]
    fn hash_matches_only_the_same_code_and_verification() {
        let hasher = CodeHasher::new(&SecretKey::generate());
        let code = VerificationCode::parse("123456").expect("code");
        let hash = hasher.hash("v1", &code);
        assert!(hasher.matches("v1", &code, &hash));
        assert!(!hasher.matches("v2", &code, &hash));
        assert!(!hasher.matches(
            "v1",
            &VerificationCode::parse("123457").expect("code"),
            &hash
        ));
        assert!(!format!("{code:?}").contains("123456"));
    }
}
