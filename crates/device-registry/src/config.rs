//! The `device` config section.

use std::net::SocketAddr;

use mi_platform::service::ServiceSettings;
use serde::Deserialize;

/// Settings of the device registry (`MI_DEVICE__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50054)),
        }
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }
}
