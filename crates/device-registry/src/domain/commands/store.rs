//! What the command queue needs from storage; `storage/sql_commands.rs` implements it. Every
//! change of a command is a conditional write (only from an unfinished state), so two
//! replicas, or a retry, never finish a command twice; each change wakes the device's channel
//! and the command's watchers.

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::{Command, CommandPosition, CommandState};
use crate::domain::events::Actor;
use crate::domain::{Location, LostMode};

/// How an insert went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IssueOutcome {
    /// Queued, and `CommandIssued` recorded.
    Issued(Command),
    /// The device has a command of that id already: this one.
    Existing(Command),
    /// The device has an unfinished erase already.
    ErasePending,
}

/// What finishing a command changes on its device, in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// The device's last known location.
    Located(Location),
    /// Lost Mode on, confirmed now (`since` is set): `LostModeChanged`.
    LostModeOn(LostMode),
    /// Lost Mode off: `LostModeChanged`.
    LostModeOff,
    /// Erased at the finish time: `Erased` with the hardware id; Lost Mode is kept, to be
    /// restored when the device enrolls again.
    Erased,
}

/// A command's finish.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finish {
    /// Succeeded, failed, expired or canceled.
    pub state: CommandState,
    /// When.
    pub at: UnixMillis,
    /// A done Locate's location.
    pub location: Option<Location>,
    /// A failed command's error code and message.
    pub error: Option<(String, String)>,
    /// What it changes on the device.
    pub effect: Option<Effect>,
}

/// Stores commands and the devices' open channels.
#[async_trait]
pub(crate) trait CommandStore: Send + Sync + std::fmt::Debug {
    /// Queues `command` (its sequence is chosen here) unless the device has a command of that
    /// id or an unfinished erase; records `CommandIssued` by `actor`, with the device's push
    /// token when it has no live channel on any replica (a heartbeat within `channel_stale`).
    async fn issue(
        &self,
        command: &Command,
        actor: &Actor,
        channel_stale: std::time::Duration,
    ) -> anyhow::Result<IssueOutcome>;

    /// One command of a device.
    async fn get(
        &self,
        mi_id: MiId,
        device_id: &str,
        command_id: &str,
    ) -> anyhow::Result<Option<Command>>;

    /// At most `limit` of a device's commands, newest first, after `after`.
    async fn list(
        &self,
        mi_id: MiId,
        device_id: &str,
        after: Option<&CommandPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Command>>;

    /// Finishes `command` if it is unfinished, with its effect, `CommandCompleted` by `actor`
    /// and the effect's event; false if it had finished.
    async fn finish(
        &self,
        command: &Command,
        finish: &Finish,
        actor: &Actor,
    ) -> anyhow::Result<bool>;

    /// Records a not-now of an unfinished command: due again at `next_attempt_at`; false if it
    /// had finished.
    async fn not_now(&self, command: &Command, next_attempt_at: UnixMillis)
    -> anyhow::Result<bool>;

    /// Marks an unfinished command delivered at `at`; false if it had finished.
    async fn mark_delivered(&self, command: &Command, at: UnixMillis) -> anyhow::Result<bool>;

    /// A device's unfinished commands due at `now`, in issue order, and when the next one
    /// that is not yet due (a not-now's backoff) falls due.
    async fn due(
        &self,
        mi_id: MiId,
        device_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<(Vec<Command>, Option<UnixMillis>)>;

    /// At most `limit` unfinished commands whose expiry is at or before `now`.
    async fn expired(&self, now: UnixMillis, limit: i64) -> anyhow::Result<Vec<Command>>;

    /// Makes `channel_id` the device's open channel (an older one then ends), alive at `now`.
    async fn open_channel(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<()>;

    /// Marks channel `channel_id` alive at `now`; false if another channel replaced it.
    async fn channel_heartbeat(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<bool>;

    /// Whether `channel_id` is still the device's open channel (a read: no heartbeat).
    async fn channel_open(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
    ) -> anyhow::Result<bool>;

    /// Forgets channel `channel_id` unless another replaced it.
    async fn close_channel(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
    ) -> anyhow::Result<()>;
}
