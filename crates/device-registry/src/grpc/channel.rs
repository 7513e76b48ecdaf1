//! Find Device commands, device side: the command channel (a server stream: the device's due
//! commands in issue order, then each new one as it is issued on any replica, and a heartbeat)
//! and AcknowledgeCommand.

use std::collections::HashSet;
use std::time::Duration;

use mi_contracts::{UnixMillis, text};
use mi_platform::ServiceError;
use mi_proto::device::v1 as api;
use mi_proto::device::v1::acknowledge_command_request::Outcome;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::commands::{command_id_problem, command_not_found, instant_of};
use super::{DeviceRegistryHandler, ReplyStream, client_address, convert};
use crate::domain::commands::{AcknowledgeError, Acknowledgement, ChannelError, CommandQueue};
use crate::domain::{DeviceCaller, Location, LocationSource};
use crate::storage::wake_key;

/// A failed command's error code and message.
const MAX_ERROR_CHARS: usize = 200;
/// How far ahead of the registry's clock a device's clock may run.
const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(300);

/// Boxed: a channel's queue allocates room for 32 items up front, and an unboxed item (a
/// command or a status) is hundreds of bytes; boxed, an idle channel holds 256 bytes of queue.
type ChannelItem = Box<Result<api::ChannelMessage, Status>>;
type ChannelSender = mpsc::Sender<ChannelItem>;

impl DeviceRegistryHandler {
    pub(super) async fn open_command_channel(
        &self,
        request: Request<api::OpenCommandChannelRequest>,
    ) -> Result<Response<ReplyStream<api::ChannelMessage>>, Status> {
        // The device token is checked once, at the start.
        let device = self.device(&request).await?;
        let channel_id = uuid::Uuid::new_v4().to_string();
        let changes = self
            .wake
            .subscribe(&wake_key(device.mi_id, &device.device_id));
        self.commands
            .open_channel(&device, &channel_id)
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        let (sender, receiver) = mpsc::channel::<ChannelItem>(16);
        let channel = Channel {
            queue: self.commands.clone(),
            device,
            channel_id,
            heartbeat: self.channel_heartbeat,
            sender,
            shutdown: self.shutdown.clone(),
        };
        tokio::spawn(channel.run(changes));
        Ok(Response::new(Box::pin(
            ReceiverStream::new(receiver).map(|item| *item),
        )))
    }

    pub(super) async fn acknowledge_command(
        &self,
        request: Request<api::AcknowledgeCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        // Bad input is refused before the token's jti is spent, so the device may retry it.
        let acknowledgement = acknowledgement(request.get_ref())?;
        let device = self.device(&request).await?;
        let client_address = client_address(&request);
        let command = self
            .commands
            .acknowledge(
                (&device, &client_address),
                &request.get_ref().command_id,
                acknowledgement,
            )
            .await
            .map_err(|error| match error {
                AcknowledgeError::NotFound => command_not_found(),
                AcknowledgeError::LocationRequired => {
                    ServiceError::invalid_field("done.location", "is required for locate")
                }
                AcknowledgeError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(convert::command(command)))
    }
}

/// One open command channel.
struct Channel {
    queue: CommandQueue,
    device: DeviceCaller,
    channel_id: String,
    heartbeat: Duration,
    sender: ChannelSender,
    /// The server's: an open channel must not hold a graceful shutdown up.
    shutdown: CancellationToken,
}

impl Channel {
    /// Sends due commands and heartbeats until the device goes away, opens another channel,
    /// or is removed; then forgets the channel.
    async fn run(self, mut changes: mi_platform::wake::Subscription) {
        // Commands sent on this channel, with their not-now count: a command is sent again on
        // a new channel, or after a not-now, never twice for one delivery.
        let mut sent: HashSet<(String, u32)> = HashSet::new();
        let mut next_heartbeat = Instant::now();
        loop {
            // A heartbeat marks the channel alive (a write); every other wake-up only checks
            // that no newer channel replaced it (a read).
            let heartbeat = Instant::now() >= next_heartbeat;
            match self
                .queue
                .channel_alive(&self.device, &self.channel_id, heartbeat)
                .await
            {
                Ok(()) => {}
                Err(ChannelError::Replaced) => break,
                Err(ChannelError::Unexpected(error)) => {
                    self.fail(&error).await;
                    break;
                }
            }
            // First, so a device knows its channel is open before any command.
            if heartbeat {
                let heartbeat = api::Heartbeat {
                    time: Some(UnixMillis::now().to_timestamp()),
                };
                if !self
                    .send(api::channel_message::Message::Heartbeat(heartbeat))
                    .await
                {
                    return self.close().await;
                }
                next_heartbeat = Instant::now() + self.heartbeat;
            }
            let due = match self
                .queue
                .deliver_due(&self.device, |command| {
                    sent.contains(&(command.command_id.clone(), command.not_now_count))
                })
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    self.fail(&error).await;
                    break;
                }
            };
            for command in due.commands {
                sent.insert((command.command_id.clone(), command.not_now_count));
                let message = api::channel_message::Message::Command(convert::command(command));
                if !self.send(message).await {
                    return self.close().await;
                }
            }
            let until = due.next_due.map_or(next_heartbeat, |next_due| {
                next_heartbeat.min(instant_of(next_due))
            });
            // The heartbeat is this channel's poll: no fallback poll on top of it, which with
            // thousands of idle channels was most of what they cost.
            tokio::select! {
                () = changes.wait_until(until) => {}
                () = self.sender.closed() => break,
                () = self.shutdown.cancelled() => break,
            }
        }
        self.close().await;
    }

    async fn send(&self, message: api::channel_message::Message) -> bool {
        let message = api::ChannelMessage {
            message: Some(message),
        };
        self.sender.send(Box::new(Ok(message))).await.is_ok()
    }

    async fn fail(&self, error: &anyhow::Error) {
        let status = ServiceError::internal(error).into();
        let _ = self.sender.send(Box::new(Err(status))).await;
    }

    async fn close(&self) {
        if let Err(error) = self
            .queue
            .close_channel(&self.device, &self.channel_id)
            .await
        {
            tracing::warn!(
                error = format!("{error:#}"),
                "command channel not forgotten"
            );
        }
    }
}

/// The acknowledgement of a request, or every field that is wrong.
fn acknowledgement(
    request: &api::AcknowledgeCommandRequest,
) -> Result<Acknowledgement, ServiceError> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    match command_id_problem(&request.command_id) {
        Some(problem) => problems.push(("command_id", problem)),
        None if request.command_id.is_empty() => {
            problems.push(("command_id", "is required".into()));
        }
        None => {}
    }
    let acknowledgement = match &request.outcome {
        None => {
            problems.push(("outcome", "is required: done, failed or not_now".into()));
            None
        }
        Some(Outcome::NotNow(_)) => Some(Acknowledgement::NotNow),
        Some(Outcome::Failed(failed)) => {
            if let Err(too_long) = text::check_lengths(&[
                ("failed.error_code", &failed.error_code, MAX_ERROR_CHARS),
                (
                    "failed.error_message",
                    &failed.error_message,
                    MAX_ERROR_CHARS,
                ),
            ]) {
                problems.extend(too_long.0);
            }
            Some(Acknowledgement::Failed {
                code: failed.error_code.clone(),
                message: failed.error_message.clone(),
            })
        }
        Some(Outcome::Done(done)) => {
            let location = match &done.location {
                None => None,
                Some(location) => match location_from_wire(location) {
                    Ok(location) => Some(location),
                    Err(location_problems) => {
                        problems.extend(location_problems);
                        None
                    }
                },
            };
            Some(Acknowledgement::Done { location })
        }
    };
    match acknowledgement {
        Some(acknowledgement) if problems.is_empty() => Ok(acknowledgement),
        _ => Err(ServiceError::invalid_fields(problems)),
    }
}

/// A location a device acknowledged a Locate with, or what is wrong with it, field by field.
fn location_from_wire(location: &api::Location) -> Result<Location, Vec<(&'static str, String)>> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    // `contains` is false for NaN, so a NaN is refused too.
    if !(-90.0..=90.0).contains(&location.latitude) {
        problems.push(("done.location.latitude", "must be -90 to 90".into()));
    }
    if !(-180.0..=180.0).contains(&location.longitude) {
        problems.push(("done.location.longitude", "must be -180 to 180".into()));
    }
    if !(0.0..=100_000.0).contains(&location.accuracy_meters) {
        problems.push((
            "done.location.accuracy_meters",
            "must be 0 to 100000".into(),
        ));
    }
    let measured_at = location.time.as_ref().map(UnixMillis::from_timestamp);
    match measured_at {
        None => problems.push(("done.location.time", "is required".into())),
        Some(time) if time > UnixMillis::now().saturating_add(MAX_CLOCK_AHEAD) => {
            problems.push((
                "done.location.time",
                "must not be more than 5 minutes ahead".into(),
            ));
        }
        Some(_) => {}
    }
    let source = match api::LocationSource::try_from(location.source) {
        Ok(api::LocationSource::Unspecified) => None,
        Ok(api::LocationSource::Gps) => Some(LocationSource::Gps),
        Ok(api::LocationSource::Network) => Some(LocationSource::Network),
        Ok(api::LocationSource::Wifi) => Some(LocationSource::Wifi),
        Err(_) => {
            problems.push(("done.location.source", "must be a known source".into()));
            None
        }
    };
    if location
        .battery_percent
        .is_some_and(|percent| percent > 100)
    {
        problems.push(("done.location.battery_percent", "must be 0 to 100".into()));
    }
    match measured_at {
        Some(measured_at) if problems.is_empty() => Ok(Location {
            latitude: location.latitude,
            longitude: location.longitude,
            accuracy_meters: location.accuracy_meters,
            measured_at,
            source,
            battery_percent: location.battery_percent,
        }),
        _ => Err(problems),
    }
}
