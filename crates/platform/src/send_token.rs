//! Send tokens: how a client asks for a code to a contact it only sees masked.
//!
//! Identity knows an account's contacts; verification sends codes and must not read identity's
//! data or call it. So when identity shows a contact masked (a sign-in challenge, a password
//! reset started from a Mi ID), it hands the client an opaque token sealed under a key only
//! identity and verification hold (`send_token_key`): the challenge, the contact's id within
//! it, the full destination, the purpose, the account and an expiry. The client passes the
//! token back to SendCode with the challenge and contact ids; verification opens it, checks it
//! belongs to those ids and that purpose and is unexpired, and sends to the destination inside
//! it. The client never holds the number in the clear, and a token cannot be altered or made
//! up without the key (XChaCha20-Poly1305, an AEAD).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use mi_contracts::{MiId, Purpose, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::crypto::{CodeCipher, SecretKey};

/// The associated data every send token is sealed with: a value sealed for another use under
/// the same key never opens as a send token.
const CONTEXT: &str = "mi-account send token v1";

/// The associated data of a destination sealed into a verification token's `sealed_sub`.
const SUBJECT_CONTEXT: &str = "mi-account sealed subject v1";

/// The most characters a send token may have (a sealed token of the longest destination is
/// about 600); the gRPC edge refuses longer ones before opening anything.
pub const MAX_SEND_TOKEN_CHARS: usize = 1024;

/// What a send token holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendTokenClaims {
    /// The sign-in challenge or password reset the contact was offered in.
    pub challenge_id: String,
    /// The contact's id within that challenge.
    pub contact_id: String,
    /// The normalized phone number or email address the code goes to.
    pub destination: String,
    /// What the code will prove.
    pub purpose: Purpose,
    /// Whose contact it is.
    pub mi_id: MiId,
    /// After this the token is refused.
    pub expires_at: UnixMillis,
}

impl std::fmt::Debug for SendTokenClaims {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SendTokenClaims")
            .field("challenge_id", &self.challenge_id)
            .field("contact_id", &self.contact_id)
            .field("destination", &crate::contact::mask(&self.destination))
            .field("purpose", &self.purpose)
            .field("mi_id", &self.mi_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a send token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendTokenRefusal {
    /// Not a token sealed with this key: forged, altered, truncated or of another deployment.
    #[error("the send token is not valid")]
    Invalid,
    /// A genuine token past its expiry.
    #[error("the send token has expired")]
    Expired,
}

/// Seals send tokens (identity) and opens them (verification).
#[derive(Clone)]
pub struct SendTokenSealer {
    cipher: CodeCipher,
}

impl std::fmt::Debug for SendTokenSealer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SendTokenSealer(..)")
    }
}

impl SendTokenSealer {
    /// A sealer under the shared key.
    pub fn new(key: &SecretKey) -> Self {
        Self {
            cipher: CodeCipher::new(key),
        }
    }

    /// The token for `claims`: base64url (no padding) of a random nonce and the ciphertext.
    pub fn seal(&self, claims: &SendTokenClaims) -> anyhow::Result<String> {
        let plaintext = serde_json::to_vec(claims)?;
        Ok(BASE64URL.encode(self.cipher.seal(CONTEXT, &plaintext)?))
    }

    /// The claims of a token this key sealed, if it has not expired at `now`.
    pub fn open(&self, token: &str, now: UnixMillis) -> Result<SendTokenClaims, SendTokenRefusal> {
        let token = token.trim();
        if token.len() > MAX_SEND_TOKEN_CHARS {
            return Err(SendTokenRefusal::Invalid);
        }
        let sealed = BASE64URL
            .decode(token)
            .map_err(|_| SendTokenRefusal::Invalid)?;
        let plaintext = self
            .cipher
            .open(CONTEXT, &sealed)
            .map_err(|_| SendTokenRefusal::Invalid)?;
        let claims: SendTokenClaims =
            serde_json::from_slice(&plaintext).map_err(|_| SendTokenRefusal::Invalid)?;
        if claims.expires_at <= now {
            return Err(SendTokenRefusal::Expired);
        }
        Ok(claims)
    }

    /// `destination` sealed for the verification token of a code sent to a contact the client
    /// saw only masked: a signed token is readable by whoever holds it, so its subject must
    /// not give the number away (verification seals, identity opens).
    pub fn seal_subject(&self, destination: &str) -> anyhow::Result<String> {
        Ok(BASE64URL.encode(self.cipher.seal(SUBJECT_CONTEXT, destination.as_bytes())?))
    }

    /// The destination [`Self::seal_subject`] sealed, if this key sealed it.
    pub fn open_subject(&self, sealed: &str) -> Option<String> {
        if sealed.len() > MAX_SEND_TOKEN_CHARS {
            return None;
        }
        let sealed = BASE64URL.decode(sealed).ok()?;
        let plaintext = self.cipher.open(SUBJECT_CONTEXT, &sealed).ok()?;
        String::from_utf8(plaintext).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn claims(expires_at: UnixMillis) -> SendTokenClaims {
        SendTokenClaims {
            challenge_id: "0b7e0f4e-2d1c-4c59-9a47-5d1f0c1e2a3b".into(),
            contact_id: "1".into(),
            destination: "+8613800138000".into(),
            purpose: Purpose::SignInSecondFactor,
            mi_id: MiId::new(4_071_234_567).expect("mi id"),
            expires_at,
        }
    }

    #[test]
    fn a_sealed_subject_opens_only_with_its_key_and_never_as_a_send_token() {
        let sealer = SendTokenSealer::new(&SecretKey::generate());
        let sealed = sealer.seal_subject("+8613800138000").expect("seal");
        assert!(!sealed.contains("138"), "{sealed}");
        assert_eq!(
            sealer.open_subject(&sealed).as_deref(),
            Some("+8613800138000")
        );
        let other = SendTokenSealer::new(&SecretKey::generate());
        assert_eq!(other.open_subject(&sealed), None);
        assert_eq!(
            sealer.open(&sealed, UnixMillis::now()),
            Err(SendTokenRefusal::Invalid)
        );
    }

    #[test]
    fn a_sealed_token_opens_with_its_key_until_it_expires() {
        let sealer = SendTokenSealer::new(&SecretKey::generate());
        let now = UnixMillis::now();
        let sealed = claims(now.saturating_add(Duration::from_secs(300)));
        let token = sealer.seal(&sealed).expect("seal");
        assert!(
            !token.contains("8613800138000"),
            "the number is not readable"
        );
        assert!(token.len() <= MAX_SEND_TOKEN_CHARS);
        assert_eq!(sealer.open(&token, now), Ok(sealed));

        let expired = sealer.seal(&claims(now)).expect("seal");
        assert_eq!(sealer.open(&expired, now), Err(SendTokenRefusal::Expired));
    }

    #[test]
    fn forged_altered_and_foreign_tokens_are_invalid() {
        let key = SecretKey::generate();
        let sealer = SendTokenSealer::new(&key);
        let now = UnixMillis::now();
        let genuine = claims(now.saturating_add(Duration::from_secs(300)));
        let token = sealer.seal(&genuine).expect("seal");
        let mut altered = token.clone().into_bytes();
        let middle = altered.len() / 2;
        altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
        let foreign = SendTokenSealer::new(&SecretKey::generate());
        for refused in [
            String::from_utf8(altered).expect("ascii"),
            "not a token".to_owned(),
            String::new(),
            token[..token.len() - 4].to_owned(),
            "A".repeat(MAX_SEND_TOKEN_CHARS + 1),
        ] {
            assert_eq!(
                sealer.open(&refused, now),
                Err(SendTokenRefusal::Invalid),
                "{refused}"
            );
        }
        assert_eq!(foreign.open(&token, now), Err(SendTokenRefusal::Invalid));
        // The same claims sealed for another use under the same key are no send token.
        let json = serde_json::to_vec(&genuine).expect("json");
        let sealed = CodeCipher::new(&key).seal("verification-1", &json);
        let other_use = BASE64URL.encode(sealed.expect("seal"));
        assert_eq!(sealer.open(&other_use, now), Err(SendTokenRefusal::Invalid));
    }

    #[test]
    fn claims_print_the_destination_masked() {
        let printed = format!("{:?}", claims(UnixMillis::EPOCH));
        assert!(!printed.contains("8613800138000"), "{printed}");
        assert!(printed.contains("138****8000"), "{printed}");
    }
}
