//! What the registry needs from storage; `storage/sql.rs` implements it.

use async_trait::async_trait;
use mi_contracts::{DeviceCredential, DeviceInfo, MiId, UnixMillis};

use super::{Device, DevicePosition, DeviceStatus};

/// How a link went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkOutcome {
    /// The event that asked for it was applied before: nothing changed.
    AlreadyApplied,
    /// Linked; `new_device` when the account had no such device.
    Linked {
        /// The account had no such device.
        new_device: bool,
    },
}

/// Links and reads devices. Changes driven by events are applied once per event: the
/// processed-event record is written in the same transaction; so are the events a change
/// records (`DeviceLinked`, `DeviceRemoved`), through the outbox.
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

    /// One device of an account.
    async fn get(&self, mi_id: MiId, device_id: &str) -> anyhow::Result<Option<Device>>;

    /// The key and push token a device of the account enrolled, if any.
    async fn credential(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> anyhow::Result<Option<DeviceCredential>>;

    /// Links a device to its account at `linked_at` (a known device gets its new description,
    /// keeps its first link time, and keeps its key unless `info` brings one), once for
    /// `event_id` when an event asks for it. Records `DeviceLinked` when the device is new or
    /// brings a key.
    async fn link(
        &self,
        event_id: Option<&str>,
        mi_id: MiId,
        info: &DeviceInfo,
        linked_at: UnixMillis,
    ) -> anyhow::Result<LinkOutcome>;

    /// Unlinks a device and records `DeviceRemoved` for session `session_id`; false if the
    /// account has no such device.
    async fn remove(&self, mi_id: MiId, device_id: &str, session_id: &str) -> anyhow::Result<bool>;

    /// Unlinks every device of an account, for event `event_id`; false if it was applied.
    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool>;

    /// Remembers device token `jti` of a device until `expires_at`; false if it was spent.
    async fn spend_token(
        &self,
        mi_id: MiId,
        device_id: &str,
        jti: &str,
        expires_at: UnixMillis,
    ) -> anyhow::Result<bool>;

    /// Stores what a device reported; false if the device is gone.
    async fn report_status(
        &self,
        mi_id: MiId,
        device_id: &str,
        status: &DeviceStatus,
    ) -> anyhow::Result<bool>;
}
