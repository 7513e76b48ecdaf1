//! The verifier: everything needed to send and check codes.

use std::sync::Arc;

use mi_platform::crypto::CodeCipher;
use mi_platform::limiter::RateLimiter;

use super::CodeHasher;
use crate::config::Settings;
use crate::storage::VerificationStore;

/// Sends and checks codes; see [`Verifier::send_code`] and [`Verifier::check_code`].
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(super) store: Arc<dyn VerificationStore>,
    pub(super) limiter: Arc<dyn RateLimiter>,
    pub(super) hasher: CodeHasher,
    pub(super) cipher: CodeCipher,
    pub(super) settings: Settings,
}

impl Verifier {
    /// A verifier over its store, the shared limiter and its keys.
    pub fn new(
        store: Arc<dyn VerificationStore>,
        limiter: Arc<dyn RateLimiter>,
        hasher: CodeHasher,
        cipher: CodeCipher,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            limiter,
            hasher,
            cipher,
            settings,
        }
    }
}
