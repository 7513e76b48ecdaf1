//! ListDevices: an account's devices, a page at a time.

use mi_contracts::MiId;

use super::{Device, DevicePosition, DeviceRegistry};

/// Why devices were not listed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ListDevicesError {
    /// The Mi ID is 0 or beyond what accounts are numbered with.
    #[error("not a Mi ID")]
    InvalidMiId,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DeviceRegistry {
    /// At most `limit` devices of account `mi_id`, most recently linked first, after `after`.
    pub(crate) async fn list_devices(
        &self,
        mi_id: u64,
        after: Option<&DevicePosition>,
        limit: i64,
    ) -> Result<Vec<Device>, ListDevicesError> {
        let mi_id = MiId::new(mi_id).map_err(|_| ListDevicesError::InvalidMiId)?;
        Ok(self.store.list(mi_id, after, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::{MemoryDeviceStore, device};
    use super::*;

    #[tokio::test]
    async fn ids_outside_the_mi_id_range_are_refused() {
        let registry = DeviceRegistry::new(Arc::new(MemoryDeviceStore::default()));
        for mi_id in [0, u64::MAX, 1 << 63] {
            let listed = registry.list_devices(mi_id, None, 10).await;
            assert!(
                matches!(listed, Err(ListDevicesError::InvalidMiId)),
                "{mi_id} accepted"
            );
        }
    }

    #[tokio::test]
    async fn pages_follow_on_from_the_last_device_of_the_previous_one() {
        let store = Arc::new(MemoryDeviceStore::default());
        let registry = DeviceRegistry::new(Arc::clone(&store) as _);
        for (event, device_id, linked_at) in [("e1", "a", 10), ("e2", "b", 30), ("e3", "c", 20)] {
            registry
                .link(event, device(7, device_id, linked_at))
                .await
                .expect("link");
        }
        registry
            .link("e4", device(8, "other", 40))
            .await
            .expect("link");

        let first = registry.list_devices(7, None, 2).await.expect("first");
        let ids: Vec<&str> = first.iter().map(|d| d.device_id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        let after = first.last().map(Device::position);
        let second = registry
            .list_devices(7, after.as_ref(), 2)
            .await
            .expect("second");
        let ids: Vec<&str> = second.iter().map(|d| d.device_id.as_str()).collect();
        assert_eq!(ids, ["a"]);
    }
}
