//! GetCommand and ListCommands: a device's commands as its owner sees them.

use mi_contracts::MiId;

use super::{Command, CommandPosition, CommandQueue};

/// Why GetCommand (or a call that reads one command first) was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GetCommandError {
    /// The account has no such device, or the device no such command.
    #[error("command not found")]
    NotFound,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl CommandQueue {
    /// Command `command_id` of account `mi_id`'s device `device_id`.
    pub(crate) async fn get(
        &self,
        mi_id: MiId,
        device_id: &str,
        command_id: &str,
    ) -> Result<Command, GetCommandError> {
        self.commands
            .get(mi_id, device_id, command_id)
            .await?
            .ok_or(GetCommandError::NotFound)
    }

    /// At most `limit` commands of account `mi_id`'s device `device_id`, newest first, after
    /// `after`; NotFound when the account has no such device.
    pub(crate) async fn list(
        &self,
        mi_id: MiId,
        device_id: &str,
        after: Option<&CommandPosition>,
        limit: i64,
    ) -> Result<Vec<Command>, GetCommandError> {
        if self.devices.get(mi_id, device_id).await?.is_none() {
            return Err(GetCommandError::NotFound);
        }
        Ok(self.commands.list(mi_id, device_id, after, limit).await?)
    }
}
