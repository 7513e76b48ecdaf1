//! What the registry needs from storage; `storage/sql.rs` implements it.

use async_trait::async_trait;
use mi_contracts::{DeviceCredential, DeviceInfo, MiId, UnixMillis};

use super::events::Actor;
use super::{AccountNews, AuditEntry, AuditPosition, Device, DevicePosition, DeviceStatus};

/// A link to make.
#[derive(Debug, Clone)]
pub(crate) struct NewLink<'a> {
    /// The event that asks for it (a sign-in), applied once; `None` for EnrollDevice.
    pub event_id: Option<&'a str>,
    /// Whose device.
    pub mi_id: MiId,
    /// The device, with the key it brings, if any.
    pub info: &'a DeviceInfo,
    /// When.
    pub linked_at: UnixMillis,
    /// Who links it.
    pub actor: Actor,
    /// What the event says of the account (its audience, and whether it has a second factor),
    /// stored with the link; the `DeviceLinked` of such a link (a sign-in) alerts nobody, as
    /// identity alerted that sign-in itself.
    pub account: Option<&'a AccountNews>,
    /// The id of the enable_lost_mode command that shows a restored Lost Mode on the device
    /// again (an erased device of the account, set up anew on the same hardware). Like an
    /// erase it waits for the device however long that takes: a lost phone must lock again
    /// whenever it comes back.
    pub restore_command_id: String,
}

/// How a link went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkOutcome {
    /// The event that asked for it was applied before: nothing changed.
    AlreadyApplied,
    /// The hardware id belongs to an erased device of another account (reactivation lock):
    /// nothing linked.
    ReactivationLocked,
    /// Linked; `new_device` when the account had no such device.
    Linked {
        /// The account had no such device.
        new_device: bool,
        /// A new install on the hardware of an erased device of the same account took over
        /// the Lost Mode set before the erase; the device is to be told again.
        lost_mode_restored: bool,
    },
}

/// Links and reads devices. Changes driven by events are applied once per event: the
/// processed-event record is written in the same transaction; so are the events a change
/// records (`DeviceLinked`, `DeviceRemoved`, ...), through the outbox, each with its audit
/// entry and its account's audience.
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
    /// `event_id` when an event asks for it, storing the audience it carries. Refuses hardware
    /// an erased device of another account holds; a new device on the hardware of an erased
    /// device of the same account takes over its Lost Mode. Records `DeviceLinked` when the
    /// device is new or brings a key.
    async fn link(&self, link: &NewLink<'_>) -> anyhow::Result<LinkOutcome>;

    /// Unlinks a device and records `DeviceRemoved` by `actor`; false if the account has no
    /// such device.
    async fn remove(&self, mi_id: MiId, device_id: &str, actor: &Actor) -> anyhow::Result<bool>;

    /// Unlinks every device of an account and forgets the account (its audience and audit
    /// trail), for event `event_id`; false if it was applied.
    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool>;

    /// Stores what event `event_id` says about an account; false if it was applied.
    async fn apply_account_news(
        &self,
        event_id: &str,
        mi_id: MiId,
        news: &AccountNews,
    ) -> anyhow::Result<bool>;

    /// Whether the account has a second factor, as identity's events last said.
    async fn has_second_factor(&self, mi_id: MiId) -> anyhow::Result<bool>;

    /// Turns Find Device on or off on a device (off forgets its last location) and records
    /// `FindDeviceChanged` by `actor` when the switch moves; `None` if the device is gone.
    async fn set_find_device(
        &self,
        mi_id: MiId,
        device_id: &str,
        enabled: bool,
        actor: &Actor,
    ) -> anyhow::Result<Option<Device>>;

    /// At most `limit` entries of an account's audit trail, newest first (then by entry id,
    /// descending), starting after `after`.
    async fn list_audit(
        &self,
        mi_id: MiId,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditEntry>>;

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
