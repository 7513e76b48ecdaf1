//! The device registry: which devices are linked to which account.
//!
//! This first version lists devices; linking on sign-in and Find Device build on the same
//! layers (`grpc` → `domain` → `storage` + outbox → the device topic).

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use mi_platform::Platform;
use mi_platform::host::{Service, ServiceHost};
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::config::Settings;
use crate::storage::SqlDeviceStore;

/// The device registry, as the platform runs it.
#[derive(Debug)]
pub struct DeviceRegistryService;

#[async_trait::async_trait]
impl Service for DeviceRegistryService {
    const NAME: &'static str = "device";
    type Settings = Settings;

    fn listen_addr(settings: &Settings) -> SocketAddr {
        settings.listen_addr
    }

    async fn run(
        platform: Platform,
        _settings: Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut host = ServiceHost::new(Self::NAME, platform, shutdown);
        let database = host.database(sqlx::migrate!("./migrations")).await?;
        // The relay creates the device topic now; device events arrive with linking.
        host.spawn_relay(&host.outbox(), &database);
        let devices = Arc::new(SqlDeviceStore::new(database));
        let server = DeviceRegistryServiceServer::new(grpc::DeviceRegistryHandler::new(devices));
        host.serve(
            listener,
            Routes::new(server),
            &[DeviceRegistryServiceServer::<grpc::DeviceRegistryHandler>::NAME],
        )
        .await
    }
}
