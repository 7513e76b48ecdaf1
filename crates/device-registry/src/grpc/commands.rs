//! Find Device commands, owner side: IssueCommand, GetCommand, ListCommands, CancelCommand
//! and WatchCommand. Every field is checked here, before anything is read or written.

use mi_contracts::text;
use mi_contracts::{Reason, UnixMillis};
use mi_platform::paging::PageRequest;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::device::v1 as api;
use mi_proto::device::v1::command_action::Action as WireAction;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::owner::{check_device_id, not_found};
use super::{DeviceRegistryHandler, ReplyStream, client_address, convert};
use crate::domain::LostMode;
use crate::domain::commands::{
    Action, CancelCommandError, Command, CommandPosition, GetCommandError, IssueCommandError,
};
use crate::storage::wake_key;

/// The longest command id.
const MAX_COMMAND_ID_CHARS: usize = 64;
/// Lost Mode's message and footnote.
const MAX_LOST_MODE_TEXT_CHARS: usize = 200;
/// Lost Mode's phone number.
const MAX_PHONE_NUMBER_CHARS: usize = 32;
/// WatchCommand's timeout when the request leaves it at 0, and its largest.
const DEFAULT_WATCH_SECONDS: u32 = 60;
const MAX_WATCH_SECONDS: u32 = 300;

impl DeviceRegistryHandler {
    pub(super) async fn issue_command(
        &self,
        request: Request<api::IssueCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        let owner = self.owner(&request)?;
        let client_address = client_address(&request);
        let request = request.into_inner();
        check_device_id(&request.device_id)?;
        let (command_id, action) = issue_request(&request)?;
        let has_second_factor = self
            .registry
            .has_second_factor(owner.mi_id)
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let command = self
            .commands
            .issue(
                (&owner, &client_address),
                &request.device_id,
                command_id,
                action,
                has_second_factor,
            )
            .await
            .map_err(issue_error)?;
        Ok(Response::new(convert::command(command)))
    }

    pub(super) async fn get_command(
        &self,
        request: Request<api::GetCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        check_command_key(&request.device_id, &request.command_id)?;
        let command = self
            .commands
            .get(owner.mi_id, &request.device_id, &request.command_id)
            .await
            .map_err(get_error)?;
        Ok(Response::new(convert::command(command)))
    }

    pub(super) async fn list_commands(
        &self,
        request: Request<api::ListCommandsRequest>,
    ) -> Result<Response<api::ListCommandsResponse>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        check_device_id(&request.device_id)?;
        let page =
            PageRequest::<CommandPosition>::from_wire(request.page_size, &request.page_token)?;
        let commands = self
            .commands
            .list(
                owner.mi_id,
                &request.device_id,
                page.after.as_ref(),
                page.fetch_limit(),
            )
            .await
            .map_err(get_error)?;
        let page = page.page(commands, Command::position);
        Ok(Response::new(api::ListCommandsResponse {
            commands: page.items.into_iter().map(convert::command).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    pub(super) async fn cancel_command(
        &self,
        request: Request<api::CancelCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        let owner = self.owner(&request)?;
        let client_address = client_address(&request);
        let request = request.into_inner();
        check_command_key(&request.device_id, &request.command_id)?;
        let command = self
            .commands
            .cancel(
                (&owner, &client_address),
                &request.device_id,
                &request.command_id,
            )
            .await
            .map_err(|error| match error {
                CancelCommandError::NotFound => command_not_found(),
                CancelCommandError::Finished => ServiceError::failed_precondition(
                    Reason::CommandFinished,
                    "command",
                    "the command finished already",
                ),
                CancelCommandError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(convert::command(command)))
    }

    pub(super) async fn watch_command(
        &self,
        request: Request<api::WatchCommandRequest>,
    ) -> Result<Response<ReplyStream<api::Command>>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        check_command_key(&request.device_id, &request.command_id)?;
        let seconds = match request.timeout_seconds {
            0 => DEFAULT_WATCH_SECONDS,
            seconds if seconds <= MAX_WATCH_SECONDS => seconds,
            _ => {
                return Err(ServiceError::invalid_field(
                    "timeout_seconds",
                    format!("must be 1 to {MAX_WATCH_SECONDS}"),
                )
                .into());
            }
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds.into());
        // Subscribed before the first read: no change after it is missed.
        let mut changes = self
            .wake
            .subscribe(&wake_key(owner.mi_id, &request.device_id));
        let queue = self.commands.clone();
        let read = move || {
            let queue = queue.clone();
            let (device_id, command_id) = (request.device_id.clone(), request.command_id.clone());
            async move { queue.get(owner.mi_id, &device_id, &command_id).await }
        };
        let first = read().await.map_err(get_error)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut command = first;
            let mut sent: Option<api::Command> = None;
            loop {
                let finished = command.state.is_finished();
                let wire = convert::command(command);
                if sent.as_ref() != Some(&wire) {
                    if sender.send(Ok(wire.clone())).await.is_err() {
                        return;
                    }
                    sent = Some(wire);
                }
                if finished || tokio::time::Instant::now() >= deadline {
                    return;
                }
                tokio::select! {
                    () = changes.wait(deadline) => {}
                    () = sender.closed() => return,
                    () = shutdown.cancelled() => return,
                }
                command = match read().await {
                    Ok(command) => command,
                    Err(error) => {
                        let _ = sender.send(Err(get_error(error).into())).await;
                        return;
                    }
                };
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// A command id a caller names: at most 64 characters of `[A-Za-z0-9_-]`.
pub(super) fn command_id_problem(command_id: &str) -> Option<String> {
    if command_id.chars().count() > MAX_COMMAND_ID_CHARS {
        return Some(format!("must be at most {MAX_COMMAND_ID_CHARS} characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    (!command_id.chars().all(allowed)).then(|| "may only contain A-Z, a-z, 0-9, _ and -".into())
}

/// The device id and command id of a request naming one command.
fn check_command_key(device_id: &str, command_id: &str) -> Result<(), ServiceError> {
    check_device_id(device_id)?;
    match command_id_problem(command_id) {
        Some(problem) => Err(ServiceError::invalid_field("command_id", problem)),
        None if command_id.is_empty() => {
            Err(ServiceError::invalid_field("command_id", "is required"))
        }
        None => Ok(()),
    }
}

/// The command id (the caller's, or a new UUID v7) and the action of an IssueCommand, or
/// every field that is wrong.
fn issue_request(request: &api::IssueCommandRequest) -> Result<(String, Action), ServiceError> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    if let Some(problem) = command_id_problem(&request.command_id) {
        problems.push(("command_id", problem));
    }
    let action = match request
        .action
        .as_ref()
        .and_then(|action| action.action.as_ref())
    {
        None => {
            problems.push(("action", "is required: one of the known actions".into()));
            None
        }
        Some(WireAction::Locate(_)) => Some(Action::Locate),
        Some(WireAction::Ring(_)) => Some(Action::Ring),
        Some(WireAction::DisableLostMode(_)) => Some(Action::DisableLostMode),
        Some(WireAction::Erase(_)) => Some(Action::Erase),
        Some(WireAction::EnableLostMode(lost_mode)) => {
            let before = problems.len();
            problems.extend(lost_mode_problems(lost_mode));
            (problems.len() == before).then(|| {
                Action::EnableLostMode(LostMode {
                    message: lost_mode.message.clone(),
                    phone_number: lost_mode.phone_number.clone(),
                    footnote: lost_mode.footnote.clone(),
                    since: None,
                })
            })
        }
        Some(WireAction::ApplySyncSettings(_)) => {
            problems.push((
                "action.apply_sync_settings",
                "is sent by the registry only; use UpdateSyncSettings".into(),
            ));
            None
        }
    };
    match action {
        Some(action) if problems.is_empty() => {
            let command_id = if request.command_id.is_empty() {
                uuid::Uuid::now_v7().to_string()
            } else {
                request.command_id.clone()
            };
            Ok((command_id, action))
        }
        _ => Err(ServiceError::invalid_fields(problems)),
    }
}

/// What is wrong with a Lost Mode request, field by field.
fn lost_mode_problems(lost_mode: &api::LostMode) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let displayed = [
        (
            "action.enable_lost_mode.message",
            lost_mode.message.as_str(),
            MAX_LOST_MODE_TEXT_CHARS,
        ),
        (
            "action.enable_lost_mode.footnote",
            lost_mode.footnote.as_str(),
            MAX_LOST_MODE_TEXT_CHARS,
        ),
        (
            "action.enable_lost_mode.phone_number",
            lost_mode.phone_number.as_str(),
            MAX_PHONE_NUMBER_CHARS,
        ),
    ];
    if let Err(too_long) = text::check_lengths(&displayed) {
        problems.extend(too_long.0);
    }
    for (field, value, _) in &displayed {
        if let Err(problem) = text::check_displayed(value)
            && !problems.iter().any(|(named, _)| named == field)
        {
            problems.push((field, problem.into()));
        }
    }
    if lost_mode.message.trim().is_empty() {
        problems.push(("action.enable_lost_mode.message", "is required".into()));
    }
    let phone_allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-');
    if !lost_mode.phone_number.chars().all(phone_allowed)
        && !problems
            .iter()
            .any(|(field, _)| *field == "action.enable_lost_mode.phone_number")
    {
        problems.push((
            "action.enable_lost_mode.phone_number",
            "may only contain digits, +, spaces and -".into(),
        ));
    }
    problems
}

fn issue_error(error: IssueCommandError) -> ServiceError {
    match error {
        IssueCommandError::NotFound => not_found(),
        IssueCommandError::FindDeviceOff => ServiceError::failed_precondition(
            Reason::FindDeviceOff,
            "device",
            "Find Device is off on this device",
        ),
        IssueCommandError::CapabilityUnsupported(action) => ServiceError::failed_precondition(
            Reason::CapabilityUnsupported,
            "device",
            format!("the device does not support {action}"),
        ),
        IssueCommandError::ReauthenticationRequired => ServiceError::reauthentication_required(),
        IssueCommandError::ErasePending => ServiceError::failed_precondition(
            Reason::ErasePending,
            "device",
            "an erase of this device is waiting for it already",
        ),
        IssueCommandError::DeviceErased => ServiceError::failed_precondition(
            Reason::DeviceErased,
            "device",
            "the device was erased already",
        ),
        IssueCommandError::CommandIdInUse => ServiceError::new(
            ErrorCode::AlreadyExists,
            "the device has a command of this id with another action",
        ),
        IssueCommandError::Unexpected(error) => ServiceError::internal(&error),
    }
}

fn get_error(error: GetCommandError) -> ServiceError {
    match error {
        GetCommandError::NotFound => command_not_found(),
        GetCommandError::Unexpected(error) => ServiceError::internal(&error),
    }
}

pub(super) fn command_not_found() -> ServiceError {
    ServiceError::new(ErrorCode::NotFound, "the device has no such command")
}

/// The instant of a registry time, for timers.
pub(super) fn instant_of(time: UnixMillis) -> tokio::time::Instant {
    tokio::time::Instant::now() + time.duration_since(UnixMillis::now())
}
