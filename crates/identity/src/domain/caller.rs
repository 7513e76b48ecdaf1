//! The signed-in caller of an authenticated RPC, as the sessions family found it.

use std::time::Duration;

use mi_contracts::{MiId, UnixMillis};

/// The signed-in caller of an authenticated RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Whose account.
    pub mi_id: MiId,
    /// The session of the access token.
    pub session_id: String,
    /// When the session last proved a password or second factor.
    pub auth_time: UnixMillis,
    /// The account's locale, in which the caller's errors are written.
    pub locale: String,
}

impl Caller {
    /// Whether the caller proved a password or second factor within `window`: sensitive
    /// changes ask for it.
    pub fn authenticated_within(&self, window: Duration) -> bool {
        self.auth_time.saturating_add(window) > UnixMillis::now()
    }
}
