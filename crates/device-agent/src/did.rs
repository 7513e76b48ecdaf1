//! What the agent did, as a phone would show it: the binary prints each, a test reads them
//! from a channel.

use std::time::Duration;

use mi_proto::device::v1::command_action::Action;

use crate::state::{Position, StoredSyncSettings};

/// The kinds of command a phone obeys; `--not-now` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ActionKind {
    /// Report a fresh location.
    Locate,
    /// Play a sound.
    Ring,
    /// Lock the screen with a message.
    EnableLostMode,
    /// Unlock it.
    DisableLostMode,
    /// Erase everything.
    Erase,
    /// Take the owner's cloud-sync settings.
    ApplySyncSettings,
}

impl ActionKind {
    /// The kind of `action`.
    pub fn of(action: &Action) -> Self {
        match action {
            Action::Locate(_) => Self::Locate,
            Action::Ring(_) => Self::Ring,
            Action::EnableLostMode(_) => Self::EnableLostMode,
            Action::DisableLostMode(_) => Self::DisableLostMode,
            Action::Erase(_) => Self::Erase,
            Action::ApplySyncSettings(_) => Self::ApplySyncSettings,
        }
    }
}

/// One thing the agent did.
#[derive(Debug, Clone, PartialEq)]
pub enum Did {
    /// The command channel is open.
    Connected,
    /// The command channel could not be opened or broke; the agent tries again after
    /// `retry_in`.
    Disconnected {
        /// Why.
        error: String,
        /// Failures in a row, this one included.
        attempt: u32,
        /// The wait before the next try.
        retry_in: Duration,
    },
    /// Answered a Locate with where the device is.
    Located {
        /// The command.
        command_id: String,
        /// Where.
        position: Position,
    },
    /// Started ringing.
    Rang {
        /// The command.
        command_id: String,
    },
    /// Locked the screen in Lost Mode.
    ShowedLostMode {
        /// The command.
        command_id: String,
        /// The message for whoever finds the phone.
        message: String,
        /// A number to call; may be empty.
        phone_number: String,
        /// Smaller text under the message; may be empty.
        footnote: String,
    },
    /// Unlocked the Lost Mode screen.
    EndedLostMode {
        /// The command.
        command_id: String,
    },
    /// Took the owner's cloud-sync settings.
    AppliedSyncSettings {
        /// The command.
        command_id: String,
        /// The settings as stored.
        settings: StoredSyncSettings,
    },
    /// Could not do a command, and said so.
    CouldNot {
        /// The command.
        command_id: String,
        /// The error code sent.
        code: String,
        /// What went wrong.
        message: String,
    },
    /// Answered "not now" (asked to by `--not-now`); the registry delivers it again later.
    AnsweredNotNow {
        /// The command.
        command_id: String,
        /// Its kind.
        action: ActionKind,
    },
    /// A command it had already answered came again: answered the same, not run twice.
    AnsweredAgain {
        /// The command.
        command_id: String,
    },
    /// Acknowledged an erase, then deleted its state file.
    Erased {
        /// The command.
        command_id: String,
    },
}

impl std::fmt::Display for Did {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connected => write!(formatter, "command channel open; waiting for commands"),
            Self::Disconnected {
                error,
                attempt,
                retry_in,
            } => write!(
                formatter,
                "command channel down ({error}); attempt {attempt}, retrying in {} ms",
                retry_in.as_millis()
            ),
            Self::Located {
                command_id,
                position,
            } => write!(
                formatter,
                "[{command_id}] LOCATE: here I am at {}, {} (±{} m)",
                position.latitude, position.longitude, position.accuracy_meters
            ),
            Self::Rang { command_id } => write!(
                formatter,
                "[{command_id}] RINGING at full volume for 5 minutes (stop: Ctrl-C or `stop-ring`)"
            ),
            Self::ShowedLostMode {
                command_id,
                message,
                phone_number,
                footnote,
            } => {
                writeln!(formatter, "[{command_id}] LOST MODE: screen locked")?;
                writeln!(formatter, "  ┌──────────────────────────────")?;
                writeln!(formatter, "  │ {message}")?;
                if !phone_number.is_empty() {
                    writeln!(formatter, "  │ [ Call {phone_number} ]")?;
                }
                if !footnote.is_empty() {
                    writeln!(formatter, "  │ {footnote}")?;
                }
                write!(formatter, "  └──────────────────────────────")
            }
            Self::EndedLostMode { command_id } => {
                write!(formatter, "[{command_id}] Lost Mode ended")
            }
            Self::AppliedSyncSettings {
                command_id,
                settings,
            } => write!(
                formatter,
                "[{command_id}] sync settings v{}: sync {}, {}, syncing: {}",
                settings.version,
                if settings.sync_enabled { "on" } else { "off" },
                if settings.wifi_only {
                    "Wi-Fi only"
                } else {
                    "any network"
                },
                if settings.data_types.is_empty() {
                    "nothing".to_owned()
                } else {
                    settings.data_types.join(", ")
                }
            ),
            Self::CouldNot {
                command_id,
                code,
                message,
            } => write!(formatter, "[{command_id}] could not: {code}: {message}"),
            Self::AnsweredNotNow { command_id, action } => {
                write!(
                    formatter,
                    "[{command_id}] NOT NOW ({action:?}); it will come again"
                )
            }
            Self::AnsweredAgain { command_id } => write!(
                formatter,
                "[{command_id}] already done; acknowledged again without running it twice"
            ),
            Self::Erased { command_id } => write!(
                formatter,
                "[{command_id}] ERASED: acknowledged, state file deleted; this phone is factory new"
            ),
        }
    }
}
