//! ListDevices and GetDevice: an account's devices, a page at a time, or one.

use mi_contracts::MiId;

use super::{Device, DevicePosition, DeviceRegistry};

/// Why GetDevice was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GetDeviceError {
    /// The account has no such device (another account's device is not told apart).
    #[error("device not found")]
    NotFound,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DeviceRegistry {
    /// At most `limit` devices of account `mi_id`, most recently linked first, after `after`.
    pub(crate) async fn list_devices(
        &self,
        mi_id: MiId,
        after: Option<&DevicePosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Device>> {
        self.store.list(mi_id, after, limit).await
    }

    /// A device of account `mi_id`.
    pub(crate) async fn get_device(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> Result<Device, GetDeviceError> {
        self.store
            .get(mi_id, device_id)
            .await?
            .ok_or(GetDeviceError::NotFound)
    }
}
