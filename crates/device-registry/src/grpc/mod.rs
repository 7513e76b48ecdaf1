//! The gRPC face of the device registry: wire ↔ domain.

use mi_contracts::Reason;
use mi_platform::ServiceError;
use mi_platform::auth::AccessTokenVerifier;
use mi_platform::paging::PageRequest;
use mi_proto::device::v1 as api;
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryService;
use tonic::{Request, Response, Status};

use crate::domain::{Device, DevicePosition, DeviceRegistry, ListDevicesError};

/// Serves `mi.device.v1.DeviceRegistryService`.
#[derive(Debug)]
pub(crate) struct DeviceRegistryHandler {
    registry: DeviceRegistry,
    access_tokens: AccessTokenVerifier,
}

impl DeviceRegistryHandler {
    /// A handler over the registry, trusting access tokens `access_tokens` verifies.
    pub(crate) fn new(registry: DeviceRegistry, access_tokens: AccessTokenVerifier) -> Self {
        Self {
            registry,
            access_tokens,
        }
    }
}

#[tonic::async_trait]
impl DeviceRegistryService for DeviceRegistryHandler {
    async fn list_devices(
        &self,
        request: Request<api::ListDevicesRequest>,
    ) -> Result<Response<api::ListDevicesResponse>, Status> {
        // The account is the caller's, never one the request names.
        let caller = self.access_tokens.authenticate(request.metadata())?;
        let request = request.into_inner();
        let page =
            PageRequest::<DevicePosition>::from_wire(request.page_size, &request.page_token)?;
        let devices = self
            .registry
            .list_devices(
                caller.mi_id().unwrap_or_default(),
                page.after.as_ref(),
                page.fetch_limit(),
            )
            .await
            .map_err(list_devices_error)?;
        let page = page.page(devices, Device::position);
        Ok(Response::new(api::ListDevicesResponse {
            devices: page.items.into_iter().map(to_wire).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

fn list_devices_error(error: ListDevicesError) -> ServiceError {
    match error {
        ListDevicesError::InvalidMiId => ServiceError::unauthenticated(
            Reason::InvalidAccessToken,
            "the access token names no account",
        ),
        ListDevicesError::Unexpected(error) => ServiceError::internal(&error),
    }
}

fn to_wire(device: Device) -> api::Device {
    api::Device {
        device_id: device.device_id,
        mi_id: device.mi_id.get(),
        model: device.model,
        os: device.os,
        name: device.name,
        link_time: Some(device.linked_at.to_timestamp()),
    }
}
