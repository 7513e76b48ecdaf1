//! CancelCommand: the owner withdraws a command that has not finished.

use mi_contracts::UnixMillis;

use super::{Command, CommandQueue, CommandState, Finish, GetCommandError};
use crate::domain::Owner;
use crate::domain::events::Actor;

/// Why CancelCommand was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CancelCommandError {
    /// The account has no such device, or the device no such command.
    #[error("command not found")]
    NotFound,
    /// It finished otherwise (done, failed or expired): too late.
    #[error("the command finished")]
    Finished,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<GetCommandError> for CancelCommandError {
    fn from(error: GetCommandError) -> Self {
        match error {
            GetCommandError::NotFound => Self::NotFound,
            GetCommandError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl CommandQueue {
    /// Cancels the owner's command; a canceled command is returned unchanged.
    pub(crate) async fn cancel(
        &self,
        (owner, client_address): (&Owner, &str),
        device_id: &str,
        command_id: &str,
    ) -> Result<Command, CancelCommandError> {
        let command = self.get(owner.mi_id, device_id, command_id).await?;
        let finish = Finish {
            state: CommandState::Canceled,
            at: UnixMillis::now(),
            location: None,
            error: None,
            effect: None,
        };
        let actor = Actor::Owner {
            session_id: owner.session_id.clone(),
            client_address: client_address.to_owned(),
        };
        if !command.state.is_finished() && self.commands.finish(&command, &finish, &actor).await? {
            tracing::info!(mi_id = %owner.mi_id, device_id, command_id, "command canceled");
        }
        let now = self.get(owner.mi_id, device_id, command_id).await?;
        match now.state {
            CommandState::Canceled => Ok(now),
            _ => Err(CancelCommandError::Finished),
        }
    }
}
