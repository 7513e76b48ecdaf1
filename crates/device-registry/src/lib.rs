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

use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::storage::SqlDeviceStore;

/// The device registry, as the platform runs it.
#[derive(Debug)]
pub struct DeviceRegistryService;

#[async_trait::async_trait]
impl Service for DeviceRegistryService {
    const NAME: &'static str = "device";
    const MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
    type Settings = Settings;

    async fn build(_settings: Settings, host: &mut ServiceHost) -> anyhow::Result<GrpcServices> {
        // The relay creates the device topic now; device events arrive with Find Device.
        let devices = Arc::new(SqlDeviceStore::new(
            host.database().clone(),
            host.consumer_group(),
        ));
        host.spawn_consumer(
            &["identity"],
            Arc::new(events::IdentityEventsHandler::new(Arc::clone(&devices) as _)),
        );
        Ok(GrpcServices::new(DeviceRegistryServiceServer::new(
            grpc::DeviceRegistryHandler::new(devices),
        )))
    }
}
