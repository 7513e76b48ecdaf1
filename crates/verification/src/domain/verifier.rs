//! The verifier: everything needed to send and check codes.

use std::sync::Arc;

use mi_platform::crypto::CodeCipher;
use mi_platform::limiter::RateLimiter;
use mi_platform::send_token::SendTokenSealer;

use super::{Captchas, CodeHasher, Policy, VerificationStore, VerificationTokens};

/// Sends and checks codes; see [`Verifier::send_code`], [`Verifier::resend_code`] and
/// [`Verifier::check_code`].
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(super) store: Arc<dyn VerificationStore>,
    pub(super) limiter: Arc<dyn RateLimiter>,
    pub(super) captchas: Captchas,
    pub(super) hasher: CodeHasher,
    pub(super) cipher: CodeCipher,
    pub(super) send_tokens: SendTokenSealer,
    pub(super) tokens: VerificationTokens,
    pub(super) policy: Policy,
}

/// What a verifier is built from.
#[derive(Debug)]
pub struct VerifierParts {
    /// Verifications and their events.
    pub store: Arc<dyn VerificationStore>,
    /// The shared rate limiter.
    pub limiter: Arc<dyn RateLimiter>,
    /// CAPTCHA challenges.
    pub captchas: Captchas,
    /// Hashes stored codes.
    pub hasher: CodeHasher,
    /// Seals codes into events.
    pub cipher: CodeCipher,
    /// Opens the send tokens of challenge contacts, which identity seals.
    pub send_tokens: SendTokenSealer,
    /// Signs verification tokens.
    pub tokens: VerificationTokens,
    /// The limits it enforces.
    pub policy: Policy,
}

impl Verifier {
    /// A verifier over its parts.
    pub fn new(parts: VerifierParts) -> Self {
        let VerifierParts {
            store,
            limiter,
            captchas,
            hasher,
            cipher,
            send_tokens,
            tokens,
            policy,
        } = parts;
        Self {
            store,
            limiter,
            captchas,
            hasher,
            cipher,
            send_tokens,
            tokens,
            policy,
        }
    }

    /// The public keys that verify this service's tokens.
    pub fn public_keys(&self) -> Vec<mi_platform::tokens::PublicKey> {
        self.tokens.public_keys()
    }
}
