//! The Find Device switch on the device: turning it on is the device's own call; turning it
//! off needs the owner's proof in the same call (as on Apple devices), so a thief holding the
//! phone cannot make it unfindable. Off forgets the device's last location.

use mi_contracts::MiId;

use super::events::Actor;
use super::{Device, DeviceCaller, DeviceRegistry, Owner};

/// The `amr` values (RFC 8176, as identity writes them) that prove a second factor.
const SECOND_FACTOR_METHODS: [&str; 5] = ["mfa", "otp", "rec", "sms", "email"];

/// Why SetFindDevice was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetFindDeviceError {
    /// Turning it off without the owner's access token.
    #[error("the owner's access token is required")]
    ProofRequired,
    /// The access token is another account's.
    #[error("the access token is not the device owner's")]
    NotTheOwner,
    /// The owner's proof is not recent, or lacks the account's second factor.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The device was removed meanwhile.
    #[error("device gone")]
    DeviceGone,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DeviceRegistry {
    /// Turns Find Device on or off on the calling `device` (from `client_address`); off needs
    /// `proof`, the owner of an access token the device passed on. Records `FindDeviceChanged`
    /// when the switch moves. Returns the device.
    pub(crate) async fn set_find_device(
        &self,
        device: &DeviceCaller,
        enabled: bool,
        proof: Option<Owner>,
        client_address: &str,
    ) -> Result<Device, SetFindDeviceError> {
        if !enabled {
            let proof = proof.ok_or(SetFindDeviceError::ProofRequired)?;
            self.check_owner_proof(device.mi_id, &proof).await?;
        }
        let actor = Actor::Device {
            client_address: client_address.to_owned(),
        };
        let device = self
            .store
            .set_find_device(device.mi_id, &device.device_id, enabled, &actor)
            .await?
            .ok_or(SetFindDeviceError::DeviceGone)?;
        tracing::info!(mi_id = %device.mi_id, device_id = %device.info.device_id, enabled, "Find Device switched");
        Ok(device)
    }

    /// Whether `proof` is the owner's, recent, and with the second factor the account has.
    async fn check_owner_proof(
        &self,
        mi_id: MiId,
        proof: &Owner,
    ) -> Result<(), SetFindDeviceError> {
        if proof.mi_id != mi_id {
            return Err(SetFindDeviceError::NotTheOwner);
        }
        if !proof.authenticated_within(self.recent_auth_window) {
            return Err(SetFindDeviceError::ReauthenticationRequired);
        }
        let second_factor_proven = proof
            .amr
            .iter()
            .any(|method| SECOND_FACTOR_METHODS.contains(&method.as_str()));
        if !second_factor_proven && self.store.has_second_factor(mi_id).await? {
            return Err(SetFindDeviceError::ReauthenticationRequired);
        }
        Ok(())
    }
}
