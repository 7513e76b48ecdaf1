//! Obeying one command as a phone would, and the answer to send. A command answered done or
//! failed is remembered in the state file before the answer is sent, so a redelivery (the
//! answer was lost, or the registry sent it again) is answered the same without running twice.

use std::collections::HashSet;

use mi_contracts::UnixMillis;
use mi_proto::device::v1::acknowledge_command_request::Outcome;
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::{
    AcknowledgeCommandRequest, Command, CommandDone, CommandFailed, CommandNotNow, Location,
    LocationSource, SyncSettings,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::did::{ActionKind, Did};
use crate::state::{Acknowledged, Position, StateFile, StoredOutcome, StoredSyncSettings};

/// The error code of a Locate the agent cannot answer: it was never told where it is.
pub const LOCATION_UNAVAILABLE: &str = "LOCATION_UNAVAILABLE";
/// The error code of a command whose action the agent does not know (a newer registry).
pub const UNSUPPORTED_ACTION: &str = "UNSUPPORTED_ACTION";

/// What to send for a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// This acknowledgement.
    Reply(AcknowledgeCommandRequest),
    /// This acknowledgement (done), and once the registry has it, the erase.
    EraseAfter(AcknowledgeCommandRequest),
}

/// The phone: its state file, and the kinds it answers "not now" to once.
#[derive(Debug)]
pub(crate) struct Phone<'a> {
    file: &'a StateFile,
    not_now: HashSet<ActionKind>,
    did: UnboundedSender<Did>,
}

impl<'a> Phone<'a> {
    pub(crate) fn new(
        file: &'a StateFile,
        not_now: &[ActionKind],
        did: UnboundedSender<Did>,
    ) -> Self {
        Self {
            file,
            not_now: not_now.iter().copied().collect(),
            did,
        }
    }

    /// Tells what the phone did; nobody listening is fine.
    pub(crate) fn tell(&self, did: Did) {
        let _ = self.did.send(did);
    }

    /// Does what `command` asks (unless it was done already) and gives the answer.
    pub(crate) fn obey(&mut self, command: &Command) -> anyhow::Result<Answer> {
        let command_id = command.command_id.clone();
        // Read afresh: `report-location` or `walk` may have moved the phone meanwhile.
        let mut state = self.file.load()?;
        if let Some(earlier) = state.acknowledged(&command_id) {
            let reply = acknowledgement(&command_id, &earlier.outcome);
            self.tell(Did::AnsweredAgain { command_id });
            return Ok(Answer::Reply(reply));
        }
        let Some(action) = command
            .action
            .as_ref()
            .and_then(|action| action.action.as_ref())
        else {
            return self.fail(
                command_id,
                UNSUPPORTED_ACTION,
                "this agent does not know that action",
            );
        };
        let kind = ActionKind::of(action);
        if self.not_now.remove(&kind) {
            self.tell(Did::AnsweredNotNow {
                command_id: command_id.clone(),
                action: kind,
            });
            return Ok(Answer::Reply(AcknowledgeCommandRequest {
                command_id,
                outcome: Some(Outcome::NotNow(CommandNotNow {})),
            }));
        }
        let (outcome, did) = match action {
            Action::Locate(_) => {
                let Some(position) = state.position else {
                    return self.fail(
                        command_id,
                        LOCATION_UNAVAILABLE,
                        "no position: run report-location or walk first",
                    );
                };
                let outcome = StoredOutcome::Done {
                    location: Some(position),
                    measured_at_ms: Some(UnixMillis::now().as_i64()),
                };
                let did = Did::Located {
                    command_id: command_id.clone(),
                    position,
                };
                (outcome, did)
            }
            Action::Ring(_) => (
                done(),
                Did::Rang {
                    command_id: command_id.clone(),
                },
            ),
            Action::EnableLostMode(lost_mode) => (
                done(),
                Did::ShowedLostMode {
                    command_id: command_id.clone(),
                    message: lost_mode.message.clone(),
                    phone_number: lost_mode.phone_number.clone(),
                    footnote: lost_mode.footnote.clone(),
                },
            ),
            Action::DisableLostMode(_) => (
                done(),
                Did::EndedLostMode {
                    command_id: command_id.clone(),
                },
            ),
            Action::Erase(_) => {
                // Not remembered: the erase itself deletes the memory, once acknowledged.
                return Ok(Answer::EraseAfter(acknowledgement(&command_id, &done())));
            }
            Action::ApplySyncSettings(settings) => {
                let settings = stored_sync_settings(settings);
                state.sync_settings = Some(settings.clone());
                let did = Did::AppliedSyncSettings {
                    command_id: command_id.clone(),
                    settings,
                };
                (done(), did)
            }
        };
        let reply = acknowledgement(&command_id, &outcome);
        state.remember(Acknowledged {
            command_id,
            outcome,
        });
        self.file.save(&state)?;
        self.tell(did);
        Ok(Answer::Reply(reply))
    }

    /// Erases the phone once the registry has the acknowledgement: deletes the state file, key
    /// and session with it.
    pub(crate) fn erase(&self, command_id: String) -> anyhow::Result<()> {
        self.file.delete()?;
        self.tell(Did::Erased { command_id });
        Ok(())
    }

    /// Answers failed, and remembers it.
    fn fail(&self, command_id: String, code: &str, message: &str) -> anyhow::Result<Answer> {
        let mut state = self.file.load()?;
        let outcome = StoredOutcome::Failed {
            code: code.to_owned(),
            message: message.to_owned(),
        };
        let reply = acknowledgement(&command_id, &outcome);
        state.remember(Acknowledged {
            command_id: command_id.clone(),
            outcome,
        });
        self.file.save(&state)?;
        self.tell(Did::CouldNot {
            command_id,
            code: code.to_owned(),
            message: message.to_owned(),
        });
        Ok(Answer::Reply(reply))
    }
}

fn done() -> StoredOutcome {
    StoredOutcome::Done {
        location: None,
        measured_at_ms: None,
    }
}

/// The acknowledgement that says `outcome`.
fn acknowledgement(command_id: &str, outcome: &StoredOutcome) -> AcknowledgeCommandRequest {
    let outcome = match outcome {
        StoredOutcome::Done {
            location,
            measured_at_ms,
        } => Outcome::Done(CommandDone {
            location: location.map(|position| {
                let measured_at = measured_at_ms.map_or_else(UnixMillis::now, UnixMillis::from_i64);
                wire_location(position, measured_at)
            }),
        }),
        StoredOutcome::Failed { code, message } => Outcome::Failed(CommandFailed {
            error_code: code.clone(),
            error_message: message.clone(),
        }),
    };
    AcknowledgeCommandRequest {
        command_id: command_id.to_owned(),
        outcome: Some(outcome),
    }
}

/// `position`, measured by GPS at `measured_at`, as the registry takes it.
pub(crate) fn wire_location(position: Position, measured_at: UnixMillis) -> Location {
    Location {
        latitude: position.latitude,
        longitude: position.longitude,
        accuracy_meters: position.accuracy_meters,
        time: Some(measured_at.to_timestamp()),
        source: LocationSource::Gps.into(),
        battery_percent: None,
    }
}

fn stored_sync_settings(settings: &SyncSettings) -> StoredSyncSettings {
    let data_types = [
        ("gallery", settings.gallery),
        ("contacts", settings.contacts),
        ("messages", settings.messages),
        ("call_history", settings.call_history),
        ("notes", settings.notes),
        ("calendar", settings.calendar),
        ("recordings", settings.recordings),
        ("wifi_networks", settings.wifi_networks),
        ("browser", settings.browser),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| name.to_owned())
    .collect();
    StoredSyncSettings {
        version: settings.version,
        sync_enabled: settings.sync_enabled,
        wifi_only: settings.wifi_only,
        data_types,
    }
}
