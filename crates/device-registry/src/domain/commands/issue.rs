//! IssueCommand: the owner queues a command for one of its devices with Find Device on.

use mi_contracts::UnixMillis;

use super::{Action, Command, CommandQueue, CommandState, IssueOutcome};
use crate::domain::Owner;
use crate::domain::events::Actor;

/// Why IssueCommand was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IssueCommandError {
    /// The account has no such device.
    #[error("device not found")]
    NotFound,
    /// Find Device is off on the device.
    #[error("find device is off")]
    FindDeviceOff,
    /// The device does not support the action.
    #[error("the device cannot {0}")]
    CapabilityUnsupported(&'static str),
    /// An erase without a recent password (and second factor, when the account has one).
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The device has an erase waiting already.
    #[error("an erase is pending")]
    ErasePending,
    /// The device acknowledged an erase already.
    #[error("the device is erased")]
    DeviceErased,
    /// The device has a command of that id with another action.
    #[error("command id in use by another action")]
    CommandIdInUse,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Whether a recent authentication with `amr` (RFC 8176 methods) is strong enough for an
/// erase: when the account has a second factor, the proof must include it (`mfa`, which
/// identity adds with every second factor, or `otp`), so a stolen password alone cannot wipe a
/// phone.
pub(crate) fn second_factor_satisfied(amr: &[String], account_has_second_factor: bool) -> bool {
    !account_has_second_factor || amr.iter().any(|method| method == "mfa" || method == "otp")
}

impl CommandQueue {
    /// Queues `action` for the owner's device `device_id` under `command_id` (a retry with the
    /// same id and action returns the first command). `account_has_second_factor` decides
    /// what an erase's recent authentication must include.
    pub(crate) async fn issue(
        &self,
        (owner, client_address): (&Owner, &str),
        device_id: &str,
        command_id: String,
        action: Action,
        account_has_second_factor: bool,
    ) -> Result<Command, IssueCommandError> {
        let device = self
            .devices
            .get(owner.mi_id, device_id)
            .await?
            .ok_or(IssueCommandError::NotFound)?;
        if let Some(existing) = self
            .commands
            .get(owner.mi_id, device_id, &command_id)
            .await?
        {
            return same_action(existing, &action);
        }
        if !device.find_device.enabled {
            return Err(IssueCommandError::FindDeviceOff);
        }
        if let Some(capability) = action.capability()
            && !device.info.capabilities.contains(&capability)
        {
            return Err(IssueCommandError::CapabilityUnsupported(action.name()));
        }
        if action == Action::Erase {
            if !owner.authenticated_within(self.timings.recent_auth_window)
                || !second_factor_satisfied(&owner.amr, account_has_second_factor)
            {
                return Err(IssueCommandError::ReauthenticationRequired);
            }
            if device.find_device.erased_at.is_some() {
                return Err(IssueCommandError::DeviceErased);
            }
        }
        let now = UnixMillis::now();
        let command = Command {
            mi_id: owner.mi_id,
            device_id: device_id.to_owned(),
            command_id,
            sequence: 0,
            expires_at: self.timings.expiry.expires_at(&action, now),
            action,
            state: CommandState::Queued,
            created_at: now,
            delivered_at: None,
            completed_at: None,
            not_now_count: 0,
            next_attempt_at: now,
            location: None,
            error: None,
        };
        let actor = Actor::Owner {
            session_id: owner.session_id.clone(),
            client_address: client_address.to_owned(),
        };
        match self
            .commands
            .issue(&command, &actor, self.timings.channel_stale())
            .await?
        {
            IssueOutcome::Issued(command) => {
                tracing::info!(mi_id = %owner.mi_id, device_id, command_id = %command.command_id,
                    action = command.action.name(), "command issued");
                Ok(command)
            }
            IssueOutcome::Existing(existing) => same_action(existing, &command.action),
            IssueOutcome::ErasePending => Err(IssueCommandError::ErasePending),
        }
    }
}

/// A retried request: the command it made, if it asked the same.
fn same_action(existing: Command, action: &Action) -> Result<Command, IssueCommandError> {
    if existing.action == *action {
        Ok(existing)
    } else {
        Err(IssueCommandError::CommandIdInUse)
    }
}
