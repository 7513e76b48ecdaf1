//! The device registry: which devices are linked to which account.
//!
//! Devices are linked when identity reports a sign-in (`SignedIn` on the identity topic) and
//! listed over gRPC; Find Device builds on the same layers (`grpc` → `domain` → `storage` +
//! outbox → the device topic).

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

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

    async fn run(
        platform: Platform,
        _settings: Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        // The relay creates the device topic now; device events arrive with Find Device.
        let (mut host, database, _outbox) = ServiceHost::start(
            Self::NAME,
            platform,
            sqlx::migrate!("./migrations"),
            shutdown,
        )
        .await?;
        let devices = Arc::new(SqlDeviceStore::new(database, host.consumer_group()));
        host.spawn_consumer(
            &["identity"],
            Arc::new(events::IdentityEventsHandler::new(Arc::clone(&devices) as _)),
        );
        let server = DeviceRegistryServiceServer::new(grpc::DeviceRegistryHandler::new(devices));
        host.serve(
            listener,
            Routes::new(server),
            &[DeviceRegistryServiceServer::<grpc::DeviceRegistryHandler>::NAME],
        )
        .await
    }
}
