//! The gRPC face of the device registry: wire ↔ domain. `owner` serves the owner-side calls
//! (access token), `device_side` the device's own (device token), `convert` the messages.

mod convert;
mod device_side;
mod owner;

use mi_platform::auth::AccessTokenVerifier;
use mi_proto::device::v1 as api;
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryService;
use tonic::{Request, Response, Status};

use crate::domain::DeviceRegistry;

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
        self.list(request).await
    }

    async fn get_device(
        &self,
        request: Request<api::GetDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        self.get(request).await
    }

    async fn enroll_device(
        &self,
        request: Request<api::EnrollDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        self.enroll(request).await
    }

    async fn remove_device(
        &self,
        request: Request<api::RemoveDeviceRequest>,
    ) -> Result<Response<api::RemoveDeviceResponse>, Status> {
        self.remove(request).await
    }

    async fn report_device_status(
        &self,
        request: Request<api::ReportDeviceStatusRequest>,
    ) -> Result<Response<api::ReportDeviceStatusResponse>, Status> {
        self.report_status(request).await
    }
}
