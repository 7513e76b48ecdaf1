//! The agent's connection to the device registry: device-side calls, each with a fresh device
//! token, and the command channel behind a small trait so the command handling can be tested
//! against a fake registry.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{AcknowledgeCommandRequest, ChannelMessage, OpenCommandChannelRequest};
use tonic::Status;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::key::DeviceKey;

/// A gRPC channel to `url` that connects on first use (and reconnects after a failure), so an
/// unreachable server is a failed call the caller can retry, not a failed start.
pub(crate) fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|error| anyhow::anyhow!("{url} is not a URL: {error}"))?
        .connect_timeout(std::time::Duration::from_secs(5));
    Ok(endpoint.connect_lazy())
}

/// Signs a device token for every call: each token is accepted once.
#[derive(Debug, Clone)]
pub(crate) struct DeviceAuth {
    key: Arc<DeviceKey>,
    mi_id: u64,
    device_id: String,
}

impl DeviceAuth {
    /// Calls as device `device_id` of account `mi_id`, signing with `key`.
    pub(crate) fn new(key: DeviceKey, mi_id: u64, device_id: &str) -> Self {
        Self {
            key: Arc::new(key),
            mi_id,
            device_id: device_id.to_owned(),
        }
    }
}

impl Interceptor for DeviceAuth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let token = self
            .key
            .device_token(self.mi_id, &self.device_id)
            .map_err(|error| Status::internal(format!("cannot sign a device token: {error}")))?;
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("a device token is not ASCII"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// The registry, called as a device.
pub(crate) type DeviceClient = DeviceRegistryServiceClient<InterceptedService<Channel, DeviceAuth>>;

/// A device client over `channel`.
pub(crate) fn device_client(channel: Channel, auth: DeviceAuth) -> DeviceClient {
    DeviceRegistryServiceClient::with_interceptor(channel, auth)
}

/// The messages of one open command channel.
pub type MessageStream = BoxStream<'static, Result<ChannelMessage, Status>>;

/// What the agent needs of the registry to obey commands.
#[async_trait]
pub trait CommandLink: Send {
    /// Opens the command channel.
    async fn open(&mut self) -> Result<MessageStream, Status>;
    /// Answers a command.
    async fn acknowledge(&mut self, request: AcknowledgeCommandRequest) -> Result<(), Status>;
}

#[async_trait]
impl CommandLink for DeviceClient {
    async fn open(&mut self) -> Result<MessageStream, Status> {
        let stream = self
            .open_command_channel(OpenCommandChannelRequest {})
            .await?
            .into_inner();
        Ok(stream.boxed())
    }

    async fn acknowledge(&mut self, request: AcknowledgeCommandRequest) -> Result<(), Status> {
        self.acknowledge_command(request).await.map(|_| ())
    }
}
