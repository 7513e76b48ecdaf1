//! An in-memory [`CommandStore`] for the queue's unit tests, with the SQL store's semantics:
//! one command per id, one unfinished erase per device, conditional finishes that record
//! `CommandCompleted` and the effect, channels replaced by newer ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::{
    Action, Command, CommandPosition, CommandState, CommandStore, Effect, Finish, IssueOutcome,
};
use crate::domain::events::{Actor, Audience, DeviceEvent};

/// Commands, channels, recorded events and applied effects in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryCommandStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    commands: Vec<Command>,
    channels: HashMap<(MiId, String), String>,
    events: Vec<DeviceEvent>,
    effects: Vec<Effect>,
}

impl MemoryCommandStore {
    /// The events recorded so far.
    pub(super) fn events(&self) -> Vec<DeviceEvent> {
        self.state.lock().expect("lock").events.clone()
    }

    /// The effects applied so far.
    pub(super) fn effects(&self) -> Vec<Effect> {
        self.state.lock().expect("lock").effects.clone()
    }

    /// Moves a command's expiry, as time passing would.
    pub(super) fn set_expiry(&self, command_id: &str, expires_at: UnixMillis) {
        let mut state = self.state.lock().expect("lock");
        for command in &mut state.commands {
            if command.command_id == command_id {
                command.expires_at = Some(expires_at);
            }
        }
    }

    fn with_command<T>(
        &self,
        key: &Command,
        change: impl FnOnce(&mut Command, &mut State) -> T,
    ) -> Option<T> {
        let mut state = self.state.lock().expect("lock");
        let mut commands = std::mem::take(&mut state.commands);
        let result = commands
            .iter_mut()
            .find(|command| same_key(command, key))
            .filter(|command| !command.state.is_finished())
            .map(|command| change(command, &mut state));
        state.commands = commands;
        result
    }
}

fn same_key(command: &Command, key: &Command) -> bool {
    (command.mi_id, &command.device_id, &command.command_id)
        == (key.mi_id, &key.device_id, &key.command_id)
}

#[async_trait]
impl CommandStore for MemoryCommandStore {
    async fn issue(
        &self,
        command: &Command,
        actor: &Actor,
        _channel_stale: Duration,
    ) -> anyhow::Result<IssueOutcome> {
        let mut state = self.state.lock().expect("lock");
        let of_device: Vec<&Command> = state
            .commands
            .iter()
            .filter(|known| (known.mi_id, &known.device_id) == (command.mi_id, &command.device_id))
            .collect();
        if let Some(existing) = of_device.iter().find(|known| same_key(known, command)) {
            return Ok(IssueOutcome::Existing((*existing).clone()));
        }
        if command.action == Action::Erase
            && of_device
                .iter()
                .any(|known| known.action == Action::Erase && !known.state.is_finished())
        {
            return Ok(IssueOutcome::ErasePending);
        }
        let sequence = of_device
            .iter()
            .map(|known| known.sequence)
            .max()
            .unwrap_or(0)
            + 1;
        let online = state
            .channels
            .contains_key(&(command.mi_id, command.device_id.clone()));
        let issued = Command {
            sequence,
            ..command.clone()
        };
        state.commands.push(issued.clone());
        state.events.push(DeviceEvent::CommandIssued {
            mi_id: command.mi_id,
            device_id: command.device_id.clone(),
            device_name: command.device_id.clone(),
            command_id: command.command_id.clone(),
            action: command.action.name(),
            push_token: if online {
                String::new()
            } else {
                "push-token".into()
            },
            actor: actor.clone(),
            audience: Audience::default(),
        });
        Ok(IssueOutcome::Issued(issued))
    }

    async fn get(
        &self,
        mi_id: MiId,
        device_id: &str,
        command_id: &str,
    ) -> anyhow::Result<Option<Command>> {
        let state = self.state.lock().expect("lock");
        Ok(state
            .commands
            .iter()
            .find(|command| {
                (
                    command.mi_id,
                    command.device_id.as_str(),
                    command.command_id.as_str(),
                ) == (mi_id, device_id, command_id)
            })
            .cloned())
    }

    async fn list(
        &self,
        mi_id: MiId,
        device_id: &str,
        after: Option<&CommandPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Command>> {
        let mut commands: Vec<Command> = self.state.lock().expect("lock").commands.clone();
        commands.retain(|command| {
            (command.mi_id, command.device_id.as_str()) == (mi_id, device_id)
                && after.is_none_or(|after| command.sequence < after.sequence)
        });
        commands.sort_by_key(|command| std::cmp::Reverse(command.sequence));
        commands.truncate(usize::try_from(limit)?);
        Ok(commands)
    }

    async fn finish(
        &self,
        command: &Command,
        finish: &Finish,
        actor: &Actor,
    ) -> anyhow::Result<bool> {
        let finished = self.with_command(command, |stored, state| {
            stored.state = finish.state;
            stored.completed_at = Some(finish.at);
            stored.location = finish.location;
            stored.error = finish.error.clone();
            state.effects.extend(finish.effect.clone());
            state.events.push(DeviceEvent::CommandCompleted {
                mi_id: stored.mi_id,
                device_id: stored.device_id.clone(),
                device_name: stored.device_id.clone(),
                command_id: stored.command_id.clone(),
                action: stored.action.name(),
                outcome: match finish.state {
                    CommandState::Succeeded => crate::domain::events::CommandOutcome::Succeeded,
                    CommandState::Failed => crate::domain::events::CommandOutcome::Failed,
                    CommandState::Expired => crate::domain::events::CommandOutcome::Expired,
                    _ => crate::domain::events::CommandOutcome::Canceled,
                },
                actor: actor.clone(),
                audience: Audience::default(),
            });
        });
        Ok(finished.is_some())
    }

    async fn not_now(
        &self,
        command: &Command,
        next_attempt_at: UnixMillis,
    ) -> anyhow::Result<bool> {
        Ok(self
            .with_command(command, |stored, _| {
                stored.state = CommandState::NotNow;
                stored.not_now_count += 1;
                stored.next_attempt_at = next_attempt_at;
            })
            .is_some())
    }

    async fn mark_delivered(&self, command: &Command, at: UnixMillis) -> anyhow::Result<bool> {
        Ok(self
            .with_command(command, |stored, _| {
                stored.state = CommandState::Delivered;
                stored.delivered_at = Some(at);
            })
            .is_some())
    }

    async fn due(
        &self,
        mi_id: MiId,
        device_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<(Vec<Command>, Option<UnixMillis>)> {
        let mut unfinished: Vec<Command> = self.state.lock().expect("lock").commands.clone();
        unfinished.retain(|command| {
            (command.mi_id, command.device_id.as_str()) == (mi_id, device_id)
                && !command.state.is_finished()
        });
        unfinished.sort_by_key(|command| command.sequence);
        let (due, later): (Vec<_>, Vec<_>) = unfinished
            .into_iter()
            .partition(|command| command.next_attempt_at <= now);
        Ok((
            due,
            later.iter().map(|command| command.next_attempt_at).min(),
        ))
    }

    async fn expired(&self, now: UnixMillis, limit: i64) -> anyhow::Result<Vec<Command>> {
        let mut expired: Vec<Command> = self.state.lock().expect("lock").commands.clone();
        expired.retain(|command| {
            !command.state.is_finished() && command.expires_at.is_some_and(|at| at <= now)
        });
        expired.truncate(usize::try_from(limit)?);
        Ok(expired)
    }

    async fn open_channel(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
        _now: UnixMillis,
    ) -> anyhow::Result<()> {
        self.state
            .lock()
            .expect("lock")
            .channels
            .insert((mi_id, device_id.to_owned()), channel_id.to_owned());
        Ok(())
    }

    async fn channel_heartbeat(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
        _now: UnixMillis,
    ) -> anyhow::Result<bool> {
        self.channel_open(mi_id, device_id, channel_id).await
    }

    async fn channel_open(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
    ) -> anyhow::Result<bool> {
        let state = self.state.lock().expect("lock");
        Ok(state
            .channels
            .get(&(mi_id, device_id.to_owned()))
            .map(String::as_str)
            == Some(channel_id))
    }

    async fn close_channel(
        &self,
        mi_id: MiId,
        device_id: &str,
        channel_id: &str,
    ) -> anyhow::Result<()> {
        let mut state = self.state.lock().expect("lock");
        let key = (mi_id, device_id.to_owned());
        if state.channels.get(&key).map(String::as_str) == Some(channel_id) {
            state.channels.remove(&key);
        }
        Ok(())
    }
}
