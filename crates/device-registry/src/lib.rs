//! The device registry: which devices are linked to which account.
//!
//! Following one request, each step at most three hops from the last:
//! - `ListDevices` (`proto/mi/device/v1/device.proto`) → `grpc/mod.rs` (wire ↔ domain, paging
//!   by `mi_platform::paging`) → `domain/listing.rs` → the [`domain::DeviceStore`] trait in
//!   `domain/store.rs` → its SQL in `storage/sql.rs`.
//! - Identity's `SignedIn` and `AccountDeleted` (the identity topic) → `consume/mod.rs`
//!   (protobuf → domain) → `domain/linking.rs` → `storage/sql.rs`, which applies each event
//!   once.
//! - Nothing is published yet, so there is no `publish.rs`: the relay creates the device topic
//!   now, and Find Device adds its events there through the outbox, mapped in a `publish.rs`.

pub mod config;
pub mod consume;
pub mod domain;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use mi_platform::host::ServiceHost;
use mi_platform::service::{GrpcServices, Service};
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryServiceServer;
use sqlx::migrate::Migrator;

use crate::config::Settings;
use crate::domain::DeviceRegistry;
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
        let registry = DeviceRegistry::new(Arc::new(SqlDeviceStore::new(
            host.database().clone(),
            host.consumer_group(),
        )));
        host.spawn_consumer(
            &["identity"],
            Arc::new(consume::IdentityEventsHandler::new(registry.clone())),
        );
        Ok(GrpcServices::new(DeviceRegistryServiceServer::new(
            grpc::DeviceRegistryHandler::new(registry),
        )))
    }
}
