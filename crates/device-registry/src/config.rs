//! The `device` config section.

use std::net::SocketAddr;
use std::time::Duration;

use mi_platform::service::ServiceSettings;
use serde::Deserialize;

/// Settings of the device registry (`MI_DEVICE__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// Identity's public keys that sign access tokens, as `kid:x` (what identity's
    /// ListSigningKeys returns), the current key and every previous one still signing live
    /// tokens (`MI_DEVICE__ACCESS_TOKEN_KEYS`, or `..._FILE`). Required with PostgreSQL; in
    /// embedded mode, by default, the public half of identity's development key.
    pub access_token_keys: Vec<String>,
    /// How long after a password or second factor (the access token's `auth_time`) the owner
    /// may enroll or remove a device; as identity's `recent_auth_window`.
    #[serde(with = "humantime_serde")]
    pub recent_auth_window: Duration,
    /// How long the owner's audit trail keeps an entry (`MI_DEVICE__AUDIT_RETENTION`); the
    /// retention job deletes older ones. 400 days: a year of history, and then some.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50054)),
            access_token_keys: Vec::new(),
            recent_auth_window: Duration::from_secs(300),
            audit_retention: Duration::from_secs(400 * 24 * 3600),
        }
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }
}
