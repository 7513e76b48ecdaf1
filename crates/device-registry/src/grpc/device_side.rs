//! The device-side calls: the device proves who it is with a device token signed by the key
//! it enrolled; every refusal of the token says the same, so a caller learns nothing about
//! which devices exist.

use mi_contracts::Reason;
use mi_platform::ServiceError;
use mi_platform::auth::bearer_token_of;
use mi_proto::device::v1 as api;
use tonic::{Request, Response, Status};

use super::{DeviceRegistryHandler, convert};
use crate::domain::{DeviceAuthError, DeviceCaller, StatusReport};

impl DeviceRegistryHandler {
    /// The device of a device-side call.
    pub(super) async fn device<T>(
        &self,
        request: &Request<T>,
    ) -> Result<DeviceCaller, ServiceError> {
        let token = bearer_token_of(request.metadata())?;
        self.registry
            .authenticate_device(token)
            .await
            .map_err(device_auth_error)
    }

    pub(super) async fn report_status(
        &self,
        request: Request<api::ReportDeviceStatusRequest>,
    ) -> Result<Response<api::ReportDeviceStatusResponse>, Status> {
        // Bad input is refused before the token's jti is spent, so the device may retry it.
        let report = status_report(request.get_ref())?;
        let device = self.device(&request).await?;
        let seen_at = self
            .registry
            .report_status(&device, report)
            .await
            .map_err(device_auth_error)?;
        Ok(Response::new(api::ReportDeviceStatusResponse {
            last_seen_time: Some(seen_at.to_timestamp()),
        }))
    }
}

fn status_report(request: &api::ReportDeviceStatusRequest) -> Result<StatusReport, ServiceError> {
    if request.battery_percent.is_some_and(|percent| percent > 100) {
        return Err(ServiceError::invalid_field(
            "battery_percent",
            "must be 0 to 100",
        ));
    }
    let network = convert::network_from_wire(request.network_type).map_err(|()| {
        ServiceError::invalid_field("network_type", "must be a known network type")
    })?;
    Ok(StatusReport {
        battery_percent: request.battery_percent,
        network,
    })
}

pub(super) fn device_auth_error(error: DeviceAuthError) -> ServiceError {
    match error {
        DeviceAuthError::Invalid(why) => {
            tracing::debug!(why, "device token refused");
            ServiceError::unauthenticated(
                Reason::DeviceTokenInvalid,
                "the device token is invalid, expired or spent; sign a new one with the enrolled key",
            )
        }
        DeviceAuthError::Unexpected(error) => ServiceError::internal(&error),
    }
}
