//! SetFindDevice: the device's own switch. Turning it off carries the owner's access token in
//! the request, verified as any access token is; the domain decides whether it is proof
//! enough.

use mi_contracts::{Reason, text};
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::device::v1 as api;
use tonic::{Request, Response, Status};

use super::device_side::device_auth_error;
use super::owner::owner_of;
use super::{DeviceRegistryHandler, client_address, convert};
use crate::domain::{DeviceAuthError, SetFindDeviceError};

/// The longest `owner_access_token` accepted (the proto's maximum).
const MAX_OWNER_TOKEN_CHARS: usize = 4096;

impl DeviceRegistryHandler {
    pub(super) async fn switch_find_device(
        &self,
        request: Request<api::SetFindDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        // Bad input is refused before the device token's jti is spent.
        let owner_token = request.get_ref().owner_access_token.trim().to_owned();
        text::check_lengths(&[(
            "owner_access_token",
            owner_token.as_str(),
            MAX_OWNER_TOKEN_CHARS,
        )])
        .map_err(ServiceError::from)?;
        let device = self.device(&request).await?;
        let enabled = request.get_ref().enabled;
        // Turning it on needs no proof: the token is ignored then, as the proto says.
        let proof = match (enabled, owner_token.as_str()) {
            (false, token) if !token.is_empty() => {
                let claims = self.access_tokens.verify(token).map_err(|_| {
                    ServiceError::unauthenticated(
                        Reason::InvalidAccessToken,
                        "the owner_access_token is invalid or expired; refresh it",
                    )
                })?;
                Some(owner_of(&claims, client_address(&request))?)
            }
            _ => None,
        };
        let device = self
            .registry
            .set_find_device(&device, enabled, proof, &client_address(&request))
            .await
            .map_err(set_find_device_error)?;
        Ok(Response::new(convert::device(device)))
    }
}

fn set_find_device_error(error: SetFindDeviceError) -> ServiceError {
    match error {
        SetFindDeviceError::ProofRequired => ServiceError::invalid_field(
            "owner_access_token",
            "is required to turn Find Device off: an access token of the device's account",
        ),
        SetFindDeviceError::NotTheOwner => ServiceError::new(
            ErrorCode::PermissionDenied,
            "the owner_access_token is not of the account this device belongs to",
        ),
        SetFindDeviceError::ReauthenticationRequired => ServiceError::reauthentication_required(),
        SetFindDeviceError::DeviceGone => {
            device_auth_error(DeviceAuthError::Invalid("no enrolled key"))
        }
        SetFindDeviceError::Unexpected(error) => ServiceError::internal(&error),
    }
}
