//! The all-in-one process: the four services side by side on their own ports, sharing one
//! bus and one limiter.

use std::net::SocketAddr;

use mi_device_registry::DeviceRegistryService;
use mi_identity::IdentityService;
use mi_notification::NotificationService;
use mi_platform::Platform;
use mi_platform::config::ConfigLoader;
use mi_platform::service::{BoundService, Service};
use mi_verification::VerificationService;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Where each service listens.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// `mi.identity.v1.IdentityService`.
    pub identity: SocketAddr,
    /// `mi.verification.v1.VerificationService`.
    pub verification: SocketAddr,
    /// `mi.notification.v1.NotificationService`.
    pub notification: SocketAddr,
    /// `mi.device.v1.DeviceRegistryService`.
    pub device: SocketAddr,
}

/// The four services with their listeners bound.
#[derive(Debug)]
pub struct BoundServices {
    identity: BoundService<IdentityService>,
    verification: BoundService<VerificationService>,
    notification: BoundService<NotificationService>,
    device: BoundService<DeviceRegistryService>,
}

impl BoundServices {
    /// Reads each service's section and binds its listen address. Keys that none of the four
    /// nor the shared settings read are refused in server mode.
    pub async fn bind(loader: &ConfigLoader) -> anyhow::Result<Self> {
        loader.check_top_level(&[
            IdentityService::NAME,
            VerificationService::NAME,
            NotificationService::NAME,
            DeviceRegistryService::NAME,
        ])?;
        Ok(Self {
            identity: BoundService::bind(loader).await?,
            verification: BoundService::bind(loader).await?,
            notification: BoundService::bind(loader).await?,
            device: BoundService::bind(loader).await?,
        })
    }

    /// The bound addresses.
    pub fn addresses(&self) -> anyhow::Result<Addresses> {
        Ok(Addresses {
            identity: self.identity.local_addr()?,
            verification: self.verification.local_addr()?,
            notification: self.notification.local_addr()?,
            device: self.device.local_addr()?,
        })
    }

    /// Runs all four until `shutdown`; if one fails, the others are stopped too.
    pub async fn run(self, platform: Platform, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addresses = self.addresses()?;
        tracing::info!(
            identity = %addresses.identity,
            verification = %addresses.verification,
            notification = %addresses.notification,
            device = %addresses.device,
            "mi-account is running"
        );
        let mut services = JoinSet::new();
        services.spawn(self.identity.run(platform.clone(), shutdown.clone()));
        services.spawn(self.verification.run(platform.clone(), shutdown.clone()));
        services.spawn(self.notification.run(platform.clone(), shutdown.clone()));
        services.spawn(self.device.run(platform, shutdown.clone()));
        let mut first_error = None;
        while let Some(joined) = services.join_next().await {
            let outcome = joined
                .map_err(anyhow::Error::from)
                .and_then(|result| result);
            if let Err(error) = outcome {
                shutdown.cancel();
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
