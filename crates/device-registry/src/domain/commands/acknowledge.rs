//! AcknowledgeCommand: the device's answer. Done applies the command's effect in the same
//! transaction as the finish; a finished command acknowledged again is returned unchanged,
//! so no effect ever runs twice.

use mi_contracts::UnixMillis;

use super::store::Effect;
use super::{Action, Command, CommandQueue, CommandState, Finish, GetCommandError};
use crate::domain::events::Actor;
use crate::domain::{DeviceCaller, Location, LostMode};

/// The device's answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Acknowledgement {
    /// Done; a Locate's location (checked at the edge).
    Done {
        /// Required for Locate, ignored otherwise.
        location: Option<Location>,
    },
    /// Could not: the device's error code and message.
    Failed {
        /// Short, machine-readable.
        code: String,
        /// For a person.
        message: String,
    },
    /// Not now: deliver it again after a backoff.
    NotNow,
}

/// Why AcknowledgeCommand was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcknowledgeError {
    /// The device has no such command.
    #[error("command not found")]
    NotFound,
    /// A done Locate without its location.
    #[error("a done locate needs its location")]
    LocationRequired,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<GetCommandError> for AcknowledgeError {
    fn from(error: GetCommandError) -> Self {
        match error {
            GetCommandError::NotFound => Self::NotFound,
            GetCommandError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl CommandQueue {
    /// Applies `device`'s answer to its command `command_id`; returns the command as it now
    /// stands.
    pub(crate) async fn acknowledge(
        &self,
        (device, client_address): (&DeviceCaller, &str),
        command_id: &str,
        acknowledgement: Acknowledgement,
    ) -> Result<Command, AcknowledgeError> {
        let command = self
            .get(device.mi_id, &device.device_id, command_id)
            .await?;
        if command.state.is_finished() {
            return Ok(command);
        }
        let now = UnixMillis::now();
        let applied = match acknowledgement {
            Acknowledgement::NotNow => {
                let delay = self
                    .timings
                    .not_now_backoff
                    .delay(command.not_now_count.saturating_add(1));
                self.commands
                    .not_now(&command, now.saturating_add(delay))
                    .await?
            }
            Acknowledgement::Done { location } => {
                self.finish_by_device(
                    &command,
                    finish_of(&command.action, Ok(location), now)?,
                    client_address,
                )
                .await?
            }
            Acknowledgement::Failed { code, message } => {
                self.finish_by_device(
                    &command,
                    finish_of(&command.action, Err((code, message)), now)?,
                    client_address,
                )
                .await?
            }
        };
        if applied {
            tracing::info!(mi_id = %device.mi_id, device_id = %device.device_id, command_id,
                "command acknowledged");
        }
        Ok(self
            .get(device.mi_id, &device.device_id, command_id)
            .await?)
    }

    /// Finishes `command` as its device answered; false if it had finished meanwhile.
    async fn finish_by_device(
        &self,
        command: &Command,
        finish: Finish,
        client_address: &str,
    ) -> anyhow::Result<bool> {
        let actor = Actor::Device {
            client_address: client_address.to_owned(),
        };
        self.commands.finish(command, &finish, &actor).await
    }
}

/// The finish of a command of `action` at `now`: done (with a Locate's location) or failed
/// (with the device's error code and message).
fn finish_of(
    action: &Action,
    outcome: Result<Option<Location>, (String, String)>,
    now: UnixMillis,
) -> Result<Finish, AcknowledgeError> {
    let (state, location, error) = match outcome {
        Ok(location) => (CommandState::Succeeded, location, None),
        Err(error) => (CommandState::Failed, None, Some(error)),
    };
    let effect = match (state, action) {
        // A device that took its sync settings has nothing more to record: the settings were
        // stored when the owner changed them.
        (CommandState::Failed, _) | (_, Action::Ring | Action::ApplySyncSettings(_)) => None,
        (_, Action::Locate) => Some(Effect::Located(
            location.ok_or(AcknowledgeError::LocationRequired)?,
        )),
        (_, Action::EnableLostMode(lost_mode)) => Some(Effect::LostModeOn(LostMode {
            since: Some(now),
            ..lost_mode.clone()
        })),
        (_, Action::DisableLostMode) => Some(Effect::LostModeOff),
        (_, Action::Erase) => Some(Effect::Erased),
    };
    let location = match effect {
        Some(Effect::Located(location)) => Some(location),
        _ => None,
    };
    Ok(Finish {
        state,
        at: now,
        location,
        error,
        effect,
    })
}
