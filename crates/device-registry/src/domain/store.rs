//! What the registry needs from storage; `storage/sql.rs` implements it.

use async_trait::async_trait;
use mi_contracts::MiId;

use super::{Device, DevicePosition};

/// Links and reads devices. Changes driven by events are applied once per event: the
/// processed-event record is written in the same transaction.
#[async_trait]
pub(crate) trait DeviceStore: Send + Sync + std::fmt::Debug {
    /// At most `limit` of an account's devices, most recently linked first (then by device
    /// id), starting after `after`.
    async fn list(
        &self,
        mi_id: MiId,
        after: Option<&DevicePosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Device>>;

    /// Links a device to its account (a known device gets its new model, OS and name, and
    /// keeps its first link time), for event `event_id`; false if that event was applied.
    async fn link(&self, event_id: &str, device: &Device) -> anyhow::Result<bool>;

    /// Unlinks every device of an account, for event `event_id`; false if it was applied.
    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool>;
}
