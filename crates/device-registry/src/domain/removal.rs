//! RemoveDevice: the owner unlinks a device; identity then ends every session it holds.

use super::{DeviceRegistry, Owner};

/// Why RemoveDevice was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoveDeviceError {
    /// The account has no such device.
    #[error("device not found")]
    NotFound,
    /// The access token's authentication is not recent.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DeviceRegistry {
    /// Unlinks the owner's device `device_id`: its key stops working at once, its
    /// reactivation lock goes, and `DeviceRemoved` asks identity to revoke its sessions.
    pub(crate) async fn remove_device(
        &self,
        owner: &Owner,
        device_id: &str,
    ) -> Result<(), RemoveDeviceError> {
        if !self.is_recent(owner) {
            return Err(RemoveDeviceError::ReauthenticationRequired);
        }
        if !self
            .store
            .remove(owner.mi_id, device_id, &owner.actor())
            .await?
        {
            return Err(RemoveDeviceError::NotFound);
        }
        tracing::info!(mi_id = %owner.mi_id, device_id, "device removed");
        Ok(())
    }
}
