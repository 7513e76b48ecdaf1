//! The Find Device command queue: the owner issues a command to a device, the device receives
//! it on its command channel and acknowledges it; the command finishes done, failed, expired or
//! canceled. `issue` is IssueCommand's rules, `read` GetCommand and ListCommands, `cancel`
//! CancelCommand, `acknowledge` the device's answer and its effects, `channel` what the
//! command channel reads and marks, `expiry` the sweep; `store` is what they need from
//! storage.

mod acknowledge;
mod cancel;
mod channel;
mod expiry;
mod issue;
mod read;
mod store;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{DeviceCapability, MiId, UnixMillis};
use serde::{Deserialize, Serialize};

use super::sync_settings::{SyncDelivery, SyncSettings};
use super::{DeviceStore, Location, LostMode};

pub(crate) use acknowledge::{AcknowledgeError, Acknowledgement};
pub(crate) use cancel::CancelCommandError;
pub(crate) use channel::ChannelError;
pub(crate) use issue::IssueCommandError;
pub(crate) use read::GetCommandError;
pub(crate) use store::{CommandStore, Effect, Finish, IssueOutcome};

/// What a command asks a device to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Report a fresh location.
    Locate,
    /// Play a sound at full volume for 5 minutes.
    Ring,
    /// Lock the screen with a message (its `since` is `None`).
    EnableLostMode(LostMode),
    /// Unlock the screen Lost Mode locked.
    DisableLostMode,
    /// Erase all content and settings.
    Erase,
    /// Take the sync settings the owner chose (queued by UpdateSyncSettings, never by
    /// IssueCommand).
    ApplySyncSettings(SyncSettings),
}

impl Action {
    /// Its snake_case name, as stored and put in events.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Locate => "locate",
            Self::Ring => "ring",
            Self::EnableLostMode(_) => "enable_lost_mode",
            Self::DisableLostMode => "disable_lost_mode",
            Self::Erase => "erase",
            Self::ApplySyncSettings(_) => "apply_sync_settings",
        }
    }

    /// What the device must support to carry it out: ending Lost Mode needs the lock that
    /// started it; every device takes its sync settings.
    pub(crate) fn capability(&self) -> Option<DeviceCapability> {
        match self {
            Self::Locate => Some(DeviceCapability::Locate),
            Self::Ring => Some(DeviceCapability::Ring),
            Self::EnableLostMode(_) | Self::DisableLostMode => Some(DeviceCapability::Lock),
            Self::Erase => Some(DeviceCapability::Erase),
            Self::ApplySyncSettings(_) => None,
        }
    }
}

/// Where a command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum CommandState {
    /// Waiting for the device.
    Queued,
    /// Sent on the device's channel, not yet answered.
    Delivered,
    /// The device answered not now; due again after a backoff.
    NotNow,
    /// Finished: done.
    Succeeded,
    /// Finished: the device could not.
    Failed,
    /// Finished: not done before its expiry.
    Expired,
    /// Finished: canceled by the owner, or the device was removed.
    Canceled,
}

impl CommandState {
    /// The states a command can still leave, as stored.
    pub(crate) const UNFINISHED: [Self; 3] = [Self::Queued, Self::Delivered, Self::NotNow];

    /// Whether the command finished (nothing changes it any more).
    pub(crate) fn is_finished(self) -> bool {
        !Self::UNFINISHED.contains(&self)
    }
}

/// A command and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Command {
    /// Whose device.
    pub mi_id: MiId,
    /// Which device.
    pub device_id: String,
    /// The caller's idempotency key, or one the registry chose.
    pub command_id: String,
    /// Its place among the device's commands, in issue order.
    pub sequence: i64,
    /// What it asks.
    pub action: Action,
    /// Where it stands.
    pub state: CommandState,
    /// When it was issued.
    pub created_at: UnixMillis,
    /// When it last reached the device.
    pub delivered_at: Option<UnixMillis>,
    /// When it finished.
    pub completed_at: Option<UnixMillis>,
    /// When it expires unless finished; `None` for erase.
    pub expires_at: Option<UnixMillis>,
    /// How often the device answered not now.
    pub not_now_count: u32,
    /// When it is due on the device's channel.
    pub next_attempt_at: UnixMillis,
    /// A done Locate's location.
    pub location: Option<Location>,
    /// A failed command's error code and message.
    pub error: Option<(String, String)>,
}

impl Command {
    /// Where it stands in its device's list, which pages start after.
    pub(crate) fn position(&self) -> CommandPosition {
        CommandPosition {
            sequence: self.sequence,
        }
    }
}

/// A place in a device's command list (newest first). Serialized into page tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommandPosition {
    /// The sequence of the command at this place.
    pub sequence: i64,
}

/// How long each kind of command waits for its device before it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommandExpiry {
    /// Locate: a stale location is of no use.
    pub locate: Duration,
    /// Ring.
    pub ring: Duration,
    /// Lost Mode on.
    pub enable_lost_mode: Duration,
    /// Lost Mode off.
    pub disable_lost_mode: Duration,
    /// The owner's sync settings.
    pub apply_sync_settings: Duration,
}

impl CommandExpiry {
    /// When a command of `action` issued at `now` expires; `None` for erase, which waits for
    /// the device however long that takes.
    pub(crate) fn expires_at(&self, action: &Action, now: UnixMillis) -> Option<UnixMillis> {
        let after = match action {
            Action::Locate => self.locate,
            Action::Ring => self.ring,
            Action::EnableLostMode(_) => self.enable_lost_mode,
            Action::DisableLostMode => self.disable_lost_mode,
            Action::ApplySyncSettings(_) => self.apply_sync_settings,
            Action::Erase => return None,
        };
        Some(now.saturating_add(after))
    }
}

/// How long a device that answered not now waits for the command again: `initial`, doubling
/// with each not-now, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotNowBackoff {
    /// After the first not-now.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl NotNowBackoff {
    /// The wait after the `not_now_count`-th not-now (counting from 1).
    pub(crate) fn delay(&self, not_now_count: u32) -> Duration {
        let doublings = not_now_count.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1 << doublings)
            .map_or(self.max, |delay| delay.min(self.max))
    }
}

/// The queue's timings, from Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueTimings {
    /// Per kind.
    pub expiry: CommandExpiry,
    /// After a not-now.
    pub not_now_backoff: NotNowBackoff,
    /// How recent the owner's password or second factor must be for an erase.
    pub recent_auth_window: Duration,
    /// How often an open channel sends a heartbeat (and marks itself alive).
    pub channel_heartbeat: Duration,
}

impl QueueTimings {
    /// A channel not marked alive for two heartbeats is gone (its replica died): its device
    /// is woken by push again.
    pub(crate) fn channel_stale(&self) -> Duration {
        self.channel_heartbeat.saturating_mul(2)
    }
}

/// The command queue's rules over its store; the device store answers what the queue needs
/// to know about devices.
#[derive(Debug, Clone)]
pub(crate) struct CommandQueue {
    commands: Arc<dyn CommandStore>,
    devices: Arc<dyn DeviceStore>,
    timings: QueueTimings,
}

impl CommandQueue {
    /// A queue over its stores.
    pub(crate) fn new(
        commands: Arc<dyn CommandStore>,
        devices: Arc<dyn DeviceStore>,
        timings: QueueTimings,
    ) -> Self {
        Self {
            commands,
            devices,
            timings,
        }
    }

    /// The command that will carry an owner's sync-settings change made now to the device.
    pub(crate) fn sync_delivery(&self) -> SyncDelivery {
        let now = UnixMillis::now();
        SyncDelivery {
            command_id: uuid::Uuid::now_v7().to_string(),
            expires_at: now.saturating_add(self.timings.expiry.apply_sync_settings),
        }
    }
}
