//! The gRPC face of the device registry: wire ↔ domain. `owner` serves the owner-side calls
//! (access token), `device_side` the device's own (device token), `commands` and `channel`
//! the Find Device command queue's owner and device sides, `locations` and `sync_settings`
//! both sides of theirs, `find_device` the device's Find Device switch, `audit` the owner's
//! audit trail, `convert` the messages.

mod audit;
mod channel;
mod commands;
mod convert;
mod device_side;
mod find_device;
mod locations;
mod owner;
mod sync_settings;

use std::time::Duration;

use mi_platform::auth::AccessTokenVerifier;
use mi_platform::wake::Wake;
use mi_proto::device::v1 as api;
use mi_proto::device::v1::device_registry_service_server::DeviceRegistryService;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::domain::DeviceRegistry;
use crate::domain::commands::CommandQueue;

/// A server stream of one message type, as the streaming calls answer.
pub(crate) type ReplyStream<T> =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The caller's address as the registry saw it, for the audit trail; empty if unknown.
fn client_address<T>(request: &Request<T>) -> String {
    request
        .remote_addr()
        .map(|address| address.ip().to_canonical().to_string())
        .unwrap_or_default()
}

/// Serves `mi.device.v1.DeviceRegistryService`.
#[derive(Debug)]
pub(crate) struct DeviceRegistryHandler {
    registry: DeviceRegistry,
    access_tokens: AccessTokenVerifier,
    commands: CommandQueue,
    /// Wakes command channels and watchers when a device's commands change.
    wake: Wake,
    /// How often an open command channel sends a heartbeat.
    channel_heartbeat: Duration,
    /// The server's shutdown: streams end with it.
    shutdown: CancellationToken,
}

impl DeviceRegistryHandler {
    /// A handler over the registry and its command queue, trusting access tokens
    /// `access_tokens` verifies; command channels wait on `wake` and send a heartbeat every
    /// `channel_heartbeat`; streams end at `shutdown`.
    pub(crate) fn new(
        registry: DeviceRegistry,
        access_tokens: AccessTokenVerifier,
        (commands, wake, channel_heartbeat): (CommandQueue, Wake, Duration),
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            registry,
            access_tokens,
            commands,
            wake,
            channel_heartbeat,
            shutdown,
        }
    }
}

#[tonic::async_trait]
impl DeviceRegistryService for DeviceRegistryHandler {
    async fn list_devices(
        &self,
        request: Request<api::ListDevicesRequest>,
    ) -> Result<Response<api::ListDevicesResponse>, Status> {
        self.list(request).await
    }

    async fn get_device(
        &self,
        request: Request<api::GetDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        self.get(request).await
    }

    async fn enroll_device(
        &self,
        request: Request<api::EnrollDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        self.enroll(request).await
    }

    async fn remove_device(
        &self,
        request: Request<api::RemoveDeviceRequest>,
    ) -> Result<Response<api::RemoveDeviceResponse>, Status> {
        self.remove(request).await
    }

    async fn report_device_status(
        &self,
        request: Request<api::ReportDeviceStatusRequest>,
    ) -> Result<Response<api::ReportDeviceStatusResponse>, Status> {
        self.report_status(request).await
    }

    async fn issue_command(
        &self,
        request: Request<api::IssueCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        self.issue_command(request).await
    }

    async fn get_command(
        &self,
        request: Request<api::GetCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        self.get_command(request).await
    }

    async fn list_commands(
        &self,
        request: Request<api::ListCommandsRequest>,
    ) -> Result<Response<api::ListCommandsResponse>, Status> {
        self.list_commands(request).await
    }

    async fn cancel_command(
        &self,
        request: Request<api::CancelCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        self.cancel_command(request).await
    }

    async fn list_locations(
        &self,
        request: Request<api::ListLocationsRequest>,
    ) -> Result<Response<api::ListLocationsResponse>, Status> {
        self.location_history(request).await
    }

    async fn list_audit_entries(
        &self,
        request: Request<api::ListAuditEntriesRequest>,
    ) -> Result<Response<api::ListAuditEntriesResponse>, Status> {
        self.list_audit(request).await
    }

    async fn get_sync_settings(
        &self,
        request: Request<api::GetSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        self.sync_settings_for_owner(request).await
    }

    async fn update_sync_settings(
        &self,
        request: Request<api::UpdateSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        self.update_sync_settings_for_owner(request).await
    }

    async fn acknowledge_command(
        &self,
        request: Request<api::AcknowledgeCommandRequest>,
    ) -> Result<Response<api::Command>, Status> {
        self.acknowledge_command(request).await
    }

    async fn report_locations(
        &self,
        request: Request<api::ReportLocationsRequest>,
    ) -> Result<Response<api::ReportLocationsResponse>, Status> {
        self.take_locations(request).await
    }

    async fn set_find_device(
        &self,
        request: Request<api::SetFindDeviceRequest>,
    ) -> Result<Response<api::Device>, Status> {
        self.switch_find_device(request).await
    }

    async fn get_own_sync_settings(
        &self,
        request: Request<api::GetOwnSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        self.sync_settings_for_device(request).await
    }

    async fn update_own_sync_settings(
        &self,
        request: Request<api::UpdateOwnSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        self.update_sync_settings_for_device(request).await
    }

    type WatchCommandStream = ReplyStream<api::Command>;

    async fn watch_command(
        &self,
        request: Request<api::WatchCommandRequest>,
    ) -> Result<Response<Self::WatchCommandStream>, Status> {
        self.watch_command(request).await
    }

    type OpenCommandChannelStream = ReplyStream<api::ChannelMessage>;

    async fn open_command_channel(
        &self,
        request: Request<api::OpenCommandChannelRequest>,
    ) -> Result<Response<Self::OpenCommandChannelStream>, Status> {
        self.open_command_channel(request).await
    }
}
