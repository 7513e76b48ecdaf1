//! The gRPC face of the device registry.

use std::sync::Arc;

use mi_platform::{ServiceError, clock, paging};
use mi_proto::device::v1 as api;
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryService;
use tonic::{Request, Response, Status};

use crate::storage::DeviceStore;

/// Serves `mi.device.v1.DeviceRegistryService`.
#[derive(Debug)]
pub struct DeviceRegistryHandler {
    devices: Arc<dyn DeviceStore>,
}

impl DeviceRegistryHandler {
    /// A handler over the device store.
    pub fn new(devices: Arc<dyn DeviceStore>) -> Self {
        Self { devices }
    }
}

#[tonic::async_trait]
impl DeviceRegistryService for DeviceRegistryHandler {
    async fn list_devices(
        &self,
        request: Request<api::ListDevicesRequest>,
    ) -> Result<Response<api::ListDevicesResponse>, Status> {
        let request = request.into_inner();
        let mi_id = i64::try_from(request.mi_id)
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| ServiceError::invalid_field("mi_id", "must be a Mi ID"))?;
        let page_size = paging::page_size(request.page_size)?;
        // The page token is the number of devices already returned.
        let offset = match request.page_token.as_str() {
            "" => 0,
            token => token
                .parse::<i64>()
                .ok()
                .filter(|offset| *offset >= 0)
                .ok_or_else(|| {
                    ServiceError::invalid_field(
                        "page_token",
                        "is not a token this service returned",
                    )
                })?,
        };
        let mut devices = self
            .devices
            .list(mi_id, offset, page_size + 1)
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let has_more = devices.len() as i64 > page_size;
        devices.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
        let next_page_token = if has_more {
            (offset + page_size).to_string()
        } else {
            String::new()
        };
        Ok(Response::new(api::ListDevicesResponse {
            devices: devices
                .into_iter()
                .map(|device| api::Device {
                    device_id: device.device_id,
                    mi_id: device.mi_id,
                    model: device.model,
                    os: device.os,
                    name: device.name,
                    link_time: Some(clock::millis_to_timestamp(device.linked_at)),
                })
                .collect(),
            next_page_token,
        }))
    }
}
