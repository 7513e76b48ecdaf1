//! What a device's command channel reads and marks: its due commands, delivered as they are
//! sent; and which channel of the device is the open one.

use mi_contracts::UnixMillis;

use super::{Command, CommandQueue};
use crate::domain::DeviceCaller;

/// Why a channel ends.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChannelError {
    /// The device opened another channel.
    #[error("replaced by a newer channel")]
    Replaced,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A device's commands due now, in issue order, and when the next one falls due.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DueCommands {
    /// Each marked delivered.
    pub commands: Vec<Command>,
    /// When a command not yet due (a not-now's backoff) falls due.
    pub next_due: Option<UnixMillis>,
}

impl CommandQueue {
    /// Makes `channel_id` the open channel of `device`; a channel it replaces ends.
    pub(crate) async fn open_channel(
        &self,
        device: &DeviceCaller,
        channel_id: &str,
    ) -> anyhow::Result<()> {
        self.commands
            .open_channel(
                device.mi_id,
                &device.device_id,
                channel_id,
                UnixMillis::now(),
            )
            .await
    }

    /// Whether channel `channel_id` is still the device's open one (Replaced when the device
    /// opened another), marking it alive when `heartbeat`: a heartbeat writes, every other
    /// check (each wake-up) only reads.
    pub(crate) async fn channel_alive(
        &self,
        device: &DeviceCaller,
        channel_id: &str,
        heartbeat: bool,
    ) -> Result<(), ChannelError> {
        let (mi_id, device_id) = (device.mi_id, device.device_id.as_str());
        let open = if heartbeat {
            self.commands
                .channel_heartbeat(mi_id, device_id, channel_id, UnixMillis::now())
                .await?
        } else {
            self.commands
                .channel_open(mi_id, device_id, channel_id)
                .await?
        };
        if open {
            Ok(())
        } else {
            Err(ChannelError::Replaced)
        }
    }

    /// Forgets channel `channel_id` as it ends.
    pub(crate) async fn close_channel(
        &self,
        device: &DeviceCaller,
        channel_id: &str,
    ) -> anyhow::Result<()> {
        self.commands
            .close_channel(device.mi_id, &device.device_id, channel_id)
            .await
    }

    /// The device's commands due now, each marked delivered, except those `already_sent`
    /// says this channel sent in the same attempt (a command is sent again after a not-now).
    pub(crate) async fn deliver_due(
        &self,
        device: &DeviceCaller,
        already_sent: impl Fn(&Command) -> bool,
    ) -> anyhow::Result<DueCommands> {
        let now = UnixMillis::now();
        let (due, next_due) = self
            .commands
            .due(device.mi_id, &device.device_id, now)
            .await?;
        let mut commands = Vec::new();
        for mut command in due.into_iter().filter(|command| !already_sent(command)) {
            if self.commands.mark_delivered(&command, now).await? {
                command.state = super::CommandState::Delivered;
                command.delivered_at = Some(now);
                commands.push(command);
            }
        }
        Ok(DueCommands { commands, next_due })
    }
}
