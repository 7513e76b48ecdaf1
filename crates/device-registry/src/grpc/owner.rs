//! The owner-side calls: the account and session come from the access token, never from the
//! request; another account's device is NOT_FOUND, like one that does not exist.

use mi_contracts::text;
use mi_contracts::{DeviceInfo, MiId, Reason, UnixMillis};
use mi_platform::auth::AccessClaims;
use mi_platform::paging::PageRequest;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::contracts::{device_from_wire, device_length_limits};
use mi_proto::device::v1 as api;
use tonic::{Request, Response, Status};

use super::{DeviceRegistryHandler, client_address, convert};
use crate::domain::{
    Device, DevicePosition, EnrollError, GetDeviceError, Owner, RemoveDeviceError,
};

impl DeviceRegistryHandler {
    /// The owner of an owner-side call, from its access token.
    pub(super) fn owner<T>(&self, request: &Request<T>) -> Result<Owner, ServiceError> {
        let claims = self.access_tokens.authenticate(request.metadata())?;
        owner_of(&claims, client_address(request))
    }

    pub(super) async fn list(
        &self,
        request: Request<api::ListDevicesRequest>,
    ) -> Result<Response<api::ListDevicesResponse>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        let page =
            PageRequest::<DevicePosition>::from_wire(request.page_size, &request.page_token)?;
        let devices = self
            .registry
            .list_devices(owner.mi_id, page.after.as_ref(), page.fetch_limit())
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let page = page.page(devices, Device::position);
        Ok(Response::new(api::ListDevicesResponse {
            devices: page.items.into_iter().map(convert::device).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    pub(super) async fn get(
        &self,
        request: Request<api::GetDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        let owner = self.owner(&request)?;
        let device_id = request.into_inner().device_id;
        check_device_id(&device_id)?;
        let device = self
            .registry
            .get_device(owner.mi_id, &device_id)
            .await
            .map_err(|error| match error {
                GetDeviceError::NotFound => not_found(),
                GetDeviceError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(convert::device(device)))
    }

    pub(super) async fn enroll(
        &self,
        request: Request<api::EnrollDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        text::check_lengths(&device_length_limits(request.device.as_ref()))
            .map_err(ServiceError::from)?;
        let info: DeviceInfo = device_from_wire(request.device)
            .map_err(|(field, problem)| ServiceError::invalid_field(field, problem))?;
        let device = self
            .registry
            .enroll(&owner, info)
            .await
            .map_err(|error| match error {
                EnrollError::InvalidDevice { field, problem } => {
                    ServiceError::invalid_field(field, problem)
                }
                EnrollError::ReauthenticationRequired => ServiceError::reauthentication_required(),
                EnrollError::ReactivationLocked => ServiceError::failed_precondition(
                    Reason::ReactivationLocked,
                    "device.hardware_id",
                    "this hardware belongs to an erased device of another account; its owner \
                     must remove that device first",
                ),
                EnrollError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(convert::device(device)))
    }

    pub(super) async fn remove(
        &self,
        request: Request<api::RemoveDeviceRequest>,
    ) -> Result<Response<api::RemoveDeviceResponse>, Status> {
        let owner = self.owner(&request)?;
        let device_id = request.into_inner().device_id;
        check_device_id(&device_id)?;
        self.registry
            .remove_device(&owner, &device_id)
            .await
            .map_err(|error| match error {
                RemoveDeviceError::NotFound => not_found(),
                RemoveDeviceError::ReauthenticationRequired => {
                    ServiceError::reauthentication_required()
                }
                RemoveDeviceError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(api::RemoveDeviceResponse {}))
    }
}

/// The owner an access token names, calling from `client_address`.
pub(super) fn owner_of(
    claims: &AccessClaims,
    client_address: String,
) -> Result<Owner, ServiceError> {
    let mi_id = claims
        .mi_id()
        .and_then(|mi_id| MiId::new(mi_id).ok())
        .ok_or_else(|| {
            ServiceError::unauthenticated(
                Reason::InvalidAccessToken,
                "the access token names no account",
            )
        })?;
    Ok(Owner {
        mi_id,
        session_id: claims.sid.clone(),
        auth_time: UnixMillis::from_i64(claims.auth_time.saturating_mul(1000)),
        client_address,
        amr: claims.amr.clone(),
    })
}

/// A device id in a request: at most as long as a device id may be.
pub(super) fn check_device_id(device_id: &str) -> Result<(), ServiceError> {
    text::check_lengths(&[("device_id", device_id, DeviceInfo::MAX_FIELD_CHARS)])?;
    Ok(())
}

pub(super) fn not_found() -> ServiceError {
    ServiceError::new(ErrorCode::NotFound, "the account has no such device")
}
