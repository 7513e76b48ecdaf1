//! The `verification` config section.

use std::net::SocketAddr;
use std::time::Duration;

use mi_platform::host::ServiceSettings;
use secrecy::SecretString;
use serde::Deserialize;

/// Settings of the verification service (`MI_VERIFICATION__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// How long a code is accepted after it is sent.
    #[serde(with = "humantime_serde")]
    pub code_ttl: Duration,
    /// The shortest time between two sends to one destination.
    #[serde(with = "humantime_serde")]
    pub send_cooldown: Duration,
    /// Wrong codes allowed before the verification locks.
    pub max_check_attempts: u32,
    /// HMAC key for stored code hashes (base64, 32 bytes); generated in embedded mode.
    pub code_hash_key: Option<SecretString>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50052)),
            code_ttl: Duration::from_secs(600),
            send_cooldown: Duration::from_secs(60),
            max_check_attempts: 5,
            code_hash_key: None,
        }
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }
}

impl Settings {
    /// Refuses settings that would make the service unsafe or useless.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.code_ttl.is_zero(),
            "invalid configuration: verification.code_ttl must be positive"
        );
        anyhow::ensure!(
            self.max_check_attempts >= 1,
            "invalid configuration: verification.max_check_attempts must be at least 1"
        );
        Ok(())
    }
}
