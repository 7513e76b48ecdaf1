//! The signed-in caller of an authenticated RPC, as the sessions family found it.

use std::time::Duration;

use mi_platform::clock;

use super::MiId;

/// The signed-in caller of an authenticated RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Whose account.
    pub mi_id: MiId,
    /// The session of the access token.
    pub session_id: String,
    /// When the session last proved a password or second factor, milliseconds since the epoch.
    pub auth_time: i64,
}

impl Caller {
    /// Whether the caller proved a password or second factor within `window`: sensitive
    /// changes ask for it.
    pub fn authenticated_within(&self, window: Duration) -> bool {
        clock::add_millis(self.auth_time, window) > clock::now_millis()
    }
}
