//! Verification tokens and CAPTCHA passes from the verification service, checked offline:
//! signature, type, issuer, audience, expiry, and the purpose or identifier. Spending one
//! (once) is the store's job for tokens, brute-force protection's for passes.

use mi_contracts::{Purpose, UnixMillis};
use mi_platform::auth::VerificationTokenVerifier;
use mi_platform::send_token::SendTokenSealer;
use mi_platform::tokens::PublicKey;

use super::ContactValue;

/// A contact proven by a valid token, with what is needed to spend the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedContact {
    /// The proven phone number or email address.
    pub contact: ContactValue,
    /// The token's unique id.
    pub token_id: String,
    /// When the token expires (its spent record may go then).
    pub expires_at: UnixMillis,
}

/// A CAPTCHA pass that checked out, with what is needed to spend it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptchaPassId {
    /// The pass's unique id.
    pub pass_id: String,
    /// When it expires.
    pub expires_at: UnixMillis,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    /// Badly signed, expired, malformed or for another purpose.
    #[error("the verification token is invalid, expired or for another purpose")]
    Invalid,
}

/// Checks verification tokens against the verification service's public keys.
#[derive(Debug, Clone)]
pub struct VerificationTokens {
    verifier: VerificationTokenVerifier,
    /// Opens the sealed subject of a token for a contact the client saw only masked.
    subjects: SendTokenSealer,
}

impl VerificationTokens {
    /// Trusts tokens signed by `keys`, whose sealed subjects `subjects` opens.
    pub fn new(keys: &[PublicKey], subjects: SendTokenSealer) -> anyhow::Result<Self> {
        Ok(Self {
            verifier: VerificationTokenVerifier::new(keys)?,
            subjects,
        })
    }

    /// The contact a token proves for `purpose`.
    pub fn verify(&self, token: &str, purpose: Purpose) -> Result<VerifiedContact, TokenProblem> {
        let claims = self
            .verifier
            .verify(token.trim())
            .map_err(|_| TokenProblem::Invalid)?;
        if claims.purpose != purpose || claims.jti.is_empty() {
            return Err(TokenProblem::Invalid);
        }
        let subject = match &claims.sealed_sub {
            Some(sealed) => self
                .subjects
                .open_subject(sealed)
                .ok_or(TokenProblem::Invalid)?,
            None => claims.sub,
        };
        let contact = ContactValue::parse(&subject).map_err(|_| TokenProblem::Invalid)?;
        Ok(VerifiedContact {
            contact,
            token_id: claims.jti,
            expires_at: UnixMillis::from_i64(claims.exp.saturating_mul(1000)),
        })
    }

    /// A CAPTCHA pass, if it was issued for `identifier` (canonical, as the pass carries it).
    pub fn verify_captcha_pass(
        &self,
        pass: &str,
        identifier: &str,
    ) -> Result<CaptchaPassId, TokenProblem> {
        let claims = self
            .verifier
            .verify_captcha_pass(pass.trim())
            .map_err(|_| TokenProblem::Invalid)?;
        if claims.sub != identifier || claims.jti.is_empty() {
            return Err(TokenProblem::Invalid);
        }
        Ok(CaptchaPassId {
            pass_id: claims.jti,
            expires_at: UnixMillis::from_i64(claims.exp.saturating_mul(1000)),
        })
    }
}
