//! The agent over real gRPC against a stand-in registry that checks every device token as the
//! registry does (signed by the enrolled key, for this device, each `jti` once): the command
//! channel streamed over HTTP/2 with its acknowledgements, the erase at the end, location
//! reports and a walk, Find Device on. The real registry answers these RPCs UNIMPLEMENTED until
//! its Find Device side lands; this pins the agent's side of the contract meanwhile.

// Always true in a test binary: tells clippy this is test code, where tests may unwrap.
#![cfg(test)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use mi_contracts::{DeviceCredential, DeviceKeyAlgorithm, UnixMillis};
use mi_device_agent::{
    Agent, AgentState, DeviceKey, DeviceProfile, Did, Endpoints, Position, RunEnd, RunOptions,
    StateFile, Walk,
};
use mi_platform::auth::DeviceClaims;
use mi_proto::device::v1::acknowledge_command_request::Outcome;
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::device_registry_service_server::{
    DeviceRegistryService, DeviceRegistryServiceServer,
};
use mi_proto::device::v1::*;
use tonic::{Request, Response, Status};

const MI_ID: u64 = 4_070_000_001;
const DEVICE_ID: &str = "phone-1";

/// What the stand-in registry received.
#[derive(Debug, Default)]
struct Received {
    acknowledgements: Vec<AcknowledgeCommandRequest>,
    locations: Vec<Location>,
    switches: Vec<SetFindDeviceRequest>,
    spent_token_ids: HashSet<String>,
}

#[derive(Clone)]
struct StandInRegistry {
    credential: DeviceCredential,
    commands: Vec<Command>,
    received: Arc<Mutex<Received>>,
}

impl StandInRegistry {
    /// The device of a device-side call, as the registry checks it.
    fn authenticate<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let refused = || Status::unauthenticated("DEVICE_TOKEN_INVALID");
        let token =
            mi_platform::auth::bearer_token_of(request.metadata()).map_err(|_| refused())?;
        let now_secs = UnixMillis::now().as_i64() / 1000;
        let claims =
            DeviceClaims::verify(token, &self.credential, now_secs).map_err(|_| refused())?;
        let fresh = self
            .received
            .lock()
            .unwrap()
            .spent_token_ids
            .insert(claims.jti.clone());
        if claims.sub != DEVICE_ID || claims.mi_id != MI_ID || !fresh {
            return Err(refused());
        }
        Ok(())
    }
}

fn not_here<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in the stand-in registry"))
}

#[tonic::async_trait]
impl DeviceRegistryService for StandInRegistry {
    async fn list_devices(
        &self,
        _: Request<ListDevicesRequest>,
    ) -> Result<Response<ListDevicesResponse>, Status> {
        not_here()
    }
    async fn get_device(&self, _: Request<GetDeviceRequest>) -> Result<Response<Device>, Status> {
        not_here()
    }
    async fn enroll_device(
        &self,
        _: Request<EnrollDeviceRequest>,
    ) -> Result<Response<Device>, Status> {
        not_here()
    }
    async fn remove_device(
        &self,
        _: Request<RemoveDeviceRequest>,
    ) -> Result<Response<RemoveDeviceResponse>, Status> {
        not_here()
    }
    async fn report_device_status(
        &self,
        _: Request<ReportDeviceStatusRequest>,
    ) -> Result<Response<ReportDeviceStatusResponse>, Status> {
        not_here()
    }
    async fn issue_command(
        &self,
        _: Request<IssueCommandRequest>,
    ) -> Result<Response<Command>, Status> {
        not_here()
    }
    async fn get_command(
        &self,
        _: Request<GetCommandRequest>,
    ) -> Result<Response<Command>, Status> {
        not_here()
    }
    async fn list_commands(
        &self,
        _: Request<ListCommandsRequest>,
    ) -> Result<Response<ListCommandsResponse>, Status> {
        not_here()
    }
    async fn cancel_command(
        &self,
        _: Request<CancelCommandRequest>,
    ) -> Result<Response<Command>, Status> {
        not_here()
    }
    type WatchCommandStream = BoxStream<'static, Result<Command, Status>>;
    async fn watch_command(
        &self,
        _: Request<WatchCommandRequest>,
    ) -> Result<Response<Self::WatchCommandStream>, Status> {
        not_here()
    }
    async fn list_locations(
        &self,
        _: Request<ListLocationsRequest>,
    ) -> Result<Response<ListLocationsResponse>, Status> {
        not_here()
    }
    async fn list_audit_entries(
        &self,
        _: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        not_here()
    }
    async fn get_sync_settings(
        &self,
        _: Request<GetSyncSettingsRequest>,
    ) -> Result<Response<SyncSettings>, Status> {
        not_here()
    }
    async fn update_sync_settings(
        &self,
        _: Request<UpdateSyncSettingsRequest>,
    ) -> Result<Response<SyncSettings>, Status> {
        not_here()
    }
    type OpenCommandChannelStream = BoxStream<'static, Result<ChannelMessage, Status>>;
    async fn open_command_channel(
        &self,
        request: Request<OpenCommandChannelRequest>,
    ) -> Result<Response<Self::OpenCommandChannelStream>, Status> {
        self.authenticate(&request)?;
        let heartbeat = ChannelMessage {
            message: Some(channel_message::Message::Heartbeat(Heartbeat {
                time: Some(UnixMillis::now().to_timestamp()),
            })),
        };
        let commands = self
            .commands
            .clone()
            .into_iter()
            .map(|command| ChannelMessage {
                message: Some(channel_message::Message::Command(command)),
            });
        let messages = std::iter::once(heartbeat).chain(commands).map(Ok);
        // The channel stays open after the last command, as the registry's does.
        Ok(Response::new(
            futures::stream::iter(messages)
                .chain(futures::stream::pending())
                .boxed(),
        ))
    }
    async fn acknowledge_command(
        &self,
        request: Request<AcknowledgeCommandRequest>,
    ) -> Result<Response<Command>, Status> {
        self.authenticate(&request)?;
        let acknowledgement = request.into_inner();
        let command_id = acknowledgement.command_id.clone();
        self.received
            .lock()
            .unwrap()
            .acknowledgements
            .push(acknowledgement);
        Ok(Response::new(Command {
            command_id,
            state: CommandState::Succeeded.into(),
            ..Command::default()
        }))
    }
    async fn report_locations(
        &self,
        request: Request<ReportLocationsRequest>,
    ) -> Result<Response<ReportLocationsResponse>, Status> {
        self.authenticate(&request)?;
        let locations = request.into_inner().locations;
        let accepted = u32::try_from(locations.len()).unwrap();
        self.received.lock().unwrap().locations.extend(locations);
        Ok(Response::new(ReportLocationsResponse { accepted }))
    }
    async fn set_find_device(
        &self,
        request: Request<SetFindDeviceRequest>,
    ) -> Result<Response<Device>, Status> {
        self.authenticate(&request)?;
        let switch = request.into_inner();
        let enabled = switch.enabled;
        self.received.lock().unwrap().switches.push(switch);
        Ok(Response::new(Device {
            mi_id: MI_ID,
            find_device_enabled: enabled,
            enrolled: true,
            ..Device::default()
        }))
    }
    async fn get_own_sync_settings(
        &self,
        _: Request<GetOwnSyncSettingsRequest>,
    ) -> Result<Response<SyncSettings>, Status> {
        not_here()
    }
    async fn update_own_sync_settings(
        &self,
        _: Request<UpdateOwnSyncSettingsRequest>,
    ) -> Result<Response<SyncSettings>, Status> {
        not_here()
    }
}

/// A signed-in agent and the stand-in registry it talks to, serving `commands`.
struct Setup {
    agent: Agent,
    state: StateFile,
    received: Arc<Mutex<Received>>,
    _directory: tempfile::TempDir,
}

async fn setup(commands: Vec<Command>) -> Setup {
    let key = DeviceKey::generate();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("phone.json");
    let state = StateFile::new(&path);
    state
        .save(&AgentState {
            mi_id: MI_ID,
            session_id: "s-1".into(),
            refresh_token: "r".into(),
            device: DeviceProfile {
                device_id: DEVICE_ID.into(),
                model: "Redmi Note 13".into(),
                os: "HyperOS 2.0".into(),
                name: "Test phone".into(),
                hardware_id: String::new(),
                push_token: String::new(),
            },
            device_key: key.to_base64(),
            acknowledged: Default::default(),
            position: Some(Position {
                latitude: 31.2304,
                longitude: 121.4737,
                accuracy_meters: 20.0,
            }),
            sync_settings: None,
        })
        .unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let registry = StandInRegistry {
        credential: DeviceCredential {
            algorithm: DeviceKeyAlgorithm::Ed25519,
            public_key: key.public_key(),
            push_token: String::new(),
        },
        commands,
        received: received.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(DeviceRegistryServiceServer::new(registry))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let agent = Agent::new(
        &path,
        Endpoints {
            // Not called by these tests.
            identity: "http://127.0.0.1:9".into(),
            registry: format!("http://{address}"),
        },
    );
    Setup {
        agent,
        state,
        received,
        _directory: directory,
    }
}

fn command(command_id: &str, action: Action) -> Command {
    Command {
        command_id: command_id.into(),
        device_id: DEVICE_ID.into(),
        action: Some(CommandAction {
            action: Some(action),
        }),
        state: CommandState::Delivered.into(),
        ..Command::default()
    }
}

#[tokio::test]
async fn commands_arrive_on_the_channel_and_are_acknowledged_each_with_a_fresh_token() {
    let setup = setup(vec![
        command("c1", Action::Locate(Locate {})),
        command("c2", Action::Ring(Ring {})),
        command("c3", Action::Erase(Erase {})),
    ])
    .await;
    let (did, mut done) = tokio::sync::mpsc::unbounded_channel();
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        setup
            .agent
            .run_until(&RunOptions::default(), std::future::pending(), did),
    )
    .await
    .expect("the agent erased itself")
    .unwrap();
    assert_eq!(end, RunEnd::Erased);

    let mut seen = Vec::new();
    while let Ok(did) = done.try_recv() {
        seen.push(did);
    }
    assert_eq!(seen.first(), Some(&Did::Connected), "{seen:?}");
    assert_eq!(
        seen.last(),
        Some(&Did::Erased {
            command_id: "c3".into()
        })
    );
    assert!(
        !setup.state.path().exists(),
        "erased: the state file is gone"
    );

    let received = setup.received.lock().unwrap();
    let acknowledged: Vec<&str> = received
        .acknowledgements
        .iter()
        .map(|acknowledgement| acknowledgement.command_id.as_str())
        .collect();
    assert_eq!(acknowledged, ["c1", "c2", "c3"]);
    let Some(Outcome::Done(located)) = &received.acknowledgements[0].outcome else {
        panic!("{:?}", received.acknowledgements[0]);
    };
    let location = located.location.as_ref().unwrap();
    assert_eq!((location.latitude, location.longitude), (31.2304, 121.4737));
    // One token for the channel and one per acknowledgement, none used twice.
    assert_eq!(received.spent_token_ids.len(), 4);
}

#[tokio::test]
async fn locations_and_a_walk_are_reported_and_find_device_switched_on() {
    let setup = setup(vec![]).await;
    let here = Position {
        latitude: 22.5431,
        longitude: 114.0579,
        accuracy_meters: 8.0,
    };
    assert_eq!(setup.agent.report_location(here).await.unwrap(), 1);
    let there = Position {
        latitude: 22.5531,
        longitude: 114.0779,
        accuracy_meters: 8.0,
    };
    let mut steps = Vec::new();
    setup
        .agent
        .walk(
            Walk {
                from: here,
                to: there,
                steps: 4,
                every: Duration::from_millis(10),
            },
            |position| steps.push(position),
        )
        .await
        .unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(steps.last(), Some(&there));
    assert_eq!(
        setup.state.load().unwrap().position,
        Some(there),
        "a Locate answers from where the walk ended"
    );

    let switched = setup.agent.set_find_device(true, None).await.unwrap();
    assert!(switched.find_device_enabled);

    let received = setup.received.lock().unwrap();
    let latitudes: Vec<f64> = received
        .locations
        .iter()
        .map(|location| location.latitude)
        .collect();
    assert_eq!(latitudes.len(), 5);
    assert_eq!(latitudes[0], here.latitude);
    assert_eq!(latitudes[4], there.latitude);
    assert!(
        latitudes.windows(2).all(|pair| pair[0] < pair[1]),
        "oldest first, along the line: {latitudes:?}"
    );
    assert!(
        received
            .locations
            .iter()
            .all(|location| location.time.is_some())
    );
    assert_eq!(
        received.switches,
        [SetFindDeviceRequest {
            enabled: true,
            owner_access_token: String::new(),
        }],
        "turning it on needs no owner token"
    );
}

#[tokio::test]
async fn turning_find_device_off_needs_the_password() {
    let setup = setup(vec![]).await;
    let refused = setup.agent.set_find_device(false, None).await.unwrap_err();
    assert!(refused.to_string().contains("password"), "{refused}");
    assert!(setup.received.lock().unwrap().switches.is_empty());
}
