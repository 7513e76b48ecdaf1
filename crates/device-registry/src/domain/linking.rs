//! Linking: a sign-in links its device to the account, an account deletion unlinks every
//! device of the account. Both are driven by identity's events, each applied once.

use mi_contracts::MiId;

use super::{Device, DeviceRegistry};

impl DeviceRegistry {
    /// Links `device` because of event `event_id`; false if that event was applied before.
    pub(crate) async fn link(&self, event_id: &str, device: Device) -> anyhow::Result<bool> {
        let linked = self.store.link(event_id, &device).await?;
        if linked {
            tracing::info!(mi_id = %device.mi_id, device_id = %device.device_id, "device linked");
        }
        Ok(linked)
    }

    /// Unlinks every device of account `mi_id` because of event `event_id`; false if that event
    /// was applied before.
    pub(crate) async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool> {
        let unlinked = self.store.unlink_account(event_id, mi_id).await?;
        if unlinked {
            tracing::info!(%mi_id, "devices of a deleted account unlinked");
        }
        Ok(unlinked)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mi_contracts::UnixMillis;

    use super::super::testing::{MemoryDeviceStore, device, mi_id};
    use super::*;

    #[tokio::test]
    async fn a_relink_keeps_the_first_link_time_and_deletion_unlinks_once() {
        let registry = DeviceRegistry::new(Arc::new(MemoryDeviceStore::default()));
        assert!(
            registry
                .link("e1", device(7, "phone", 10))
                .await
                .expect("link")
        );
        assert!(
            !registry
                .link("e1", device(7, "phone", 10))
                .await
                .expect("again")
        );
        let renamed = Device {
            name: "renamed".into(),
            ..device(7, "phone", 50)
        };
        assert!(registry.link("e2", renamed).await.expect("relink"));
        registry
            .link("e3", device(8, "other", 20))
            .await
            .expect("link");

        let listed = registry.list_devices(7, None, 10).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].linked_at),
            ("renamed", UnixMillis::from_i64(10))
        );

        assert!(
            registry
                .unlink_account("e4", mi_id(7))
                .await
                .expect("unlink")
        );
        assert!(
            !registry
                .unlink_account("e4", mi_id(7))
                .await
                .expect("again")
        );
        assert!(
            registry
                .list_devices(7, None, 10)
                .await
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            registry
                .list_devices(8, None, 10)
                .await
                .expect("list")
                .len(),
            1
        );
    }
}
