//! Verification tokens from the verification service, checked offline: signature, issuer,
//! audience, expiry and purpose. Spending one (once) is the store's job.

use mi_platform::tokens::{PublicKey, TokenVerifier};
use serde::Deserialize;

use super::ContactValue;

/// The verification service's token issuer.
const ISSUER: &str = "mi-verification";
/// The audience of verification tokens.
const AUDIENCE: &str = "mi-account";

/// What a verification token may prove, as its `purpose` claim names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationPurpose {
    /// Creating an account.
    SignUp,
    /// The second step of signing in.
    SignInSecondFactor,
    /// Resetting a forgotten password.
    PasswordReset,
    /// Adding a recovery contact.
    AddRecoveryContact,
}

impl VerificationPurpose {
    fn claim(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignInSecondFactor => "sign_in_second_factor",
            Self::PasswordReset => "password_reset",
            Self::AddRecoveryContact => "add_recovery_contact",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    jti: String,
    exp: i64,
    purpose: String,
}

/// A contact proven by a valid token, with what is needed to spend the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedContact {
    /// The proven phone number or email address.
    pub contact: ContactValue,
    /// The token's unique id.
    pub token_id: String,
    /// When the token expires, milliseconds since the epoch (its spent record may go then).
    pub expires_at: i64,
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
    verifier: TokenVerifier,
}

impl VerificationTokens {
    /// Trusts tokens signed by `keys`.
    pub fn new(keys: &[PublicKey]) -> anyhow::Result<Self> {
        Ok(Self {
            verifier: TokenVerifier::new(keys, ISSUER, AUDIENCE)?,
        })
    }

    /// The contact a token proves for `purpose`.
    pub fn verify(
        &self,
        token: &str,
        purpose: VerificationPurpose,
    ) -> Result<VerifiedContact, TokenProblem> {
        let claims: Claims = self
            .verifier
            .verify(token.trim())
            .map_err(|_| TokenProblem::Invalid)?;
        if claims.purpose != purpose.claim() || claims.jti.is_empty() {
            return Err(TokenProblem::Invalid);
        }
        let contact = ContactValue::parse(&claims.sub).map_err(|_| TokenProblem::Invalid)?;
        Ok(VerifiedContact {
            contact,
            token_id: claims.jti,
            expires_at: claims.exp.saturating_mul(1000),
        })
    }
}
