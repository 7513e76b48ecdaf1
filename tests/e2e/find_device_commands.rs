//! Find Device commands end to end: the owner issues commands with an access token, a test
//! device (its own key, raw gRPC) receives them on its command channel and acknowledges them;
//! effects show in GetDevice; not-now, expiry, cancel, watch; refusals; two replicas.

use std::time::Duration;

use crate::device_credentials::{DeviceKey, FRESH, registry};
use crate::support::{
    Backends, TestConfig, TestPlatform, access_claims_for, authed, expect_refusal,
    field_violations, in_both_modes, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::events;
use mi_proto::common::v1::{Channel as CodeChannel, DeviceCapability, DeviceInfo};
use mi_proto::device::v1::acknowledge_command_request::Outcome;
use mi_proto::device::v1::channel_message::Message;
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    AcknowledgeCommandRequest, CancelCommandRequest, ChannelMessage, Command, CommandAction,
    CommandDone, CommandFailed, CommandNotNow, CommandState, DisableLostMode, Erase,
    GetCommandRequest, GetDeviceRequest, IssueCommandRequest, ListCommandsRequest, Locate,
    Location, LocationSource, LostMode, OpenCommandChannelRequest, Ring, SetFindDeviceRequest,
    WatchCommandRequest,
};
use mi_proto::events::v1::{DeviceCommandIssued, EventEnvelope};
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

/// How long a test waits for a command on a channel.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(15);

type Registry = DeviceRegistryServiceClient<Channel>;

/// A device of the test: its key, account and id.
pub(crate) struct Phone {
    key: DeviceKey,
    mi_id: u64,
    device_id: String,
}

// Not derived: the key is a secret.
impl std::fmt::Debug for Phone {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Phone")
            .field("mi_id", &self.mi_id)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl Phone {
    /// A fresh device token (each is accepted once).
    pub(crate) fn token(&self) -> String {
        self.key.token(self.mi_id, &self.device_id, FRESH)
    }

    /// Opens its command channel and waits for the first heartbeat: the channel is open.
    async fn open_channel(&self, registry: &mut Registry) -> Streaming<ChannelMessage> {
        let mut channel = registry
            .open_command_channel(authed(OpenCommandChannelRequest {}, &self.token()))
            .await
            .unwrap()
            .into_inner();
        let first = tokio::time::timeout(RECEIVE_TIMEOUT, channel.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            matches!(first.message, Some(Message::Heartbeat(_))),
            "{first:?}"
        );
        channel
    }

    async fn acknowledge(
        &self,
        registry: &mut Registry,
        command_id: &str,
        outcome: Outcome,
    ) -> Result<Command, Status> {
        let request = AcknowledgeCommandRequest {
            command_id: command_id.into(),
            outcome: Some(outcome),
        };
        registry
            .acknowledge_command(authed(request, &self.token()))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The next command on a channel, skipping heartbeats.
pub(crate) async fn next_command(channel: &mut Streaming<ChannelMessage>) -> Command {
    loop {
        let message = tokio::time::timeout(RECEIVE_TIMEOUT, channel.message())
            .await
            .expect("no command within the timeout")
            .unwrap()
            .expect("the channel ended");
        if let Some(Message::Command(command)) = message.message {
            return command;
        }
    }
}

/// A device with every capability, enrolled by `owner` with its own key, Find Device on. Not
/// the sign-up's device (`phone-1`): identity's SignedIn links that one when it arrives, which
/// on the servers may be after the enrollment.
pub(crate) async fn enrolled_phone(
    registry: &mut Registry,
    (mi_id, access_token): (u64, &str),
    device_id: &str,
) -> Phone {
    let key = DeviceKey::new();
    let device = DeviceInfo {
        capabilities: [
            DeviceCapability::Locate,
            DeviceCapability::Ring,
            DeviceCapability::Lock,
            DeviceCapability::Erase,
        ]
        .into_iter()
        .map(Into::into)
        .collect(),
        ..key.device(device_id)
    };
    registry
        .enroll_device(authed(
            mi_proto::device::v1::EnrollDeviceRequest {
                device: Some(device),
            },
            access_token,
        ))
        .await
        .unwrap();
    turn_find_device_on(registry, &key, mi_id, device_id).await;
    Phone {
        key,
        mi_id,
        device_id: device_id.into(),
    }
}

/// Turns Find Device on: the device's own call, with its device token.
async fn turn_find_device_on(
    registry: &mut Registry,
    key: &DeviceKey,
    mi_id: u64,
    device_id: &str,
) {
    let device = registry
        .set_find_device(authed(
            SetFindDeviceRequest {
                enabled: true,
                owner_access_token: String::new(),
            },
            &key.token(mi_id, device_id, FRESH),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(device.find_device_enabled);
}

/// The DeviceCommandIssued event of command `command_id`.
async fn command_issued(platform: &TestPlatform, command_id: &str) -> DeviceCommandIssued {
    let is_it = |envelope: &EventEnvelope| {
        events::payload::<DeviceCommandIssued>(envelope)
            .is_some_and(|issued| issued.is_ok_and(|issued| issued.command_id == command_id))
    };
    let envelope = platform.first_event("device.events", is_it).await;
    events::payload(&envelope).unwrap().unwrap()
}

pub(crate) fn issue(device_id: &str, command_id: &str, action: Action) -> IssueCommandRequest {
    IssueCommandRequest {
        device_id: device_id.into(),
        command_id: command_id.into(),
        action: Some(CommandAction {
            action: Some(action),
        }),
    }
}

fn lost_mode(message: &str) -> Action {
    Action::EnableLostMode(LostMode {
        message: message.into(),
        phone_number: "+86 138-0000 0000".into(),
        footnote: "Reward offered".into(),
        since_time: None,
    })
}

fn here() -> Location {
    Location {
        latitude: 39.9042,
        longitude: 116.4074,
        accuracy_meters: 15.0,
        time: Some(mi_contracts::UnixMillis::now().to_timestamp()),
        source: LocationSource::Gps.into(),
        battery_percent: Some(64),
    }
}

fn done(location: Option<Location>) -> Outcome {
    Outcome::Done(CommandDone { location })
}

async fn get_device(
    registry: &mut Registry,
    access_token: &str,
    device_id: &str,
) -> mi_proto::device::v1::Device {
    registry
        .get_device(authed(
            GetDeviceRequest {
                device_id: device_id.into(),
            },
            access_token,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn locate_ring_and_lost_mode_reach_the_device_and_their_effects_show(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    let phone = enrolled_phone(&mut registry, owner, "lost-phone").await;
    let mut channel = phone.open_channel(&mut registry).await;

    // Locate: issued, received on the channel, acknowledged with a location.
    let issued = registry
        .issue_command(authed(
            issue("lost-phone", "", Action::Locate(Locate {})),
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issued.state(), CommandState::Queued);
    assert!(!issued.command_id.is_empty(), "the registry chose an id");
    assert!(issued.expire_time.is_some());
    let received = next_command(&mut channel).await;
    assert_eq!(received.command_id, issued.command_id);
    assert_eq!(received.state(), CommandState::Delivered);
    assert_eq!(
        get_device(&mut registry, owner.1, "lost-phone")
            .await
            .pending_commands,
        1
    );
    let event = command_issued(&platform, &issued.command_id).await;
    assert_eq!(
        event.push_token, "",
        "a device with an open channel needs no push"
    );
    let location = here();
    let acknowledged = phone
        .acknowledge(&mut registry, &issued.command_id, done(Some(location)))
        .await
        .unwrap();
    assert_eq!(acknowledged.state(), CommandState::Succeeded);
    let read = registry
        .get_command(authed(
            GetCommandRequest {
                device_id: "lost-phone".into(),
                command_id: issued.command_id.clone(),
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, acknowledged);
    assert_eq!(read.location.as_ref().unwrap().latitude, location.latitude);
    let device = get_device(&mut registry, owner.1, "lost-phone").await;
    assert_eq!(device.last_location.unwrap().longitude, location.longitude);
    assert_eq!(device.pending_commands, 0);
    // Acknowledged again (a device that lost the answer): unchanged.
    let again = phone
        .acknowledge(
            &mut registry,
            &issued.command_id,
            Outcome::Failed(CommandFailed {
                error_code: "late".into(),
                error_message: String::new(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(again, acknowledged);

    // Ring, watched by the owner until the device finishes it; an idempotent retry.
    let ring = registry
        .issue_command(authed(
            issue("lost-phone", "ring-1", Action::Ring(Ring {})),
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    let retried = registry
        .issue_command(authed(
            issue("lost-phone", "ring-1", Action::Ring(Ring {})),
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.command_id, ring.command_id);
    assert_eq!(retried.create_time, ring.create_time);
    expect_refusal(
        registry
            .issue_command(authed(
                issue("lost-phone", "ring-1", Action::Locate(Locate {})),
                owner.1,
            ))
            .await,
        Code::AlreadyExists,
        Some(Reason::AlreadyExists),
        "the same command id with another action",
    );
    let mut watch = registry
        .watch_command(authed(
            WatchCommandRequest {
                device_id: "lost-phone".into(),
                command_id: "ring-1".into(),
                timeout_seconds: 30,
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_command(&mut channel).await.command_id, "ring-1");
    phone
        .acknowledge(&mut registry, "ring-1", done(None))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(command) = tokio::time::timeout(RECEIVE_TIMEOUT, watch.message())
        .await
        .unwrap()
        .unwrap()
    {
        seen.push(command.state());
    }
    assert_eq!(seen.last(), Some(&CommandState::Succeeded), "{seen:?}");
    assert!(
        seen.len() >= 2,
        "the command now, then its finish: {seen:?}"
    );

    // Lost Mode on, then off: GetDevice shows it.
    registry
        .issue_command(authed(
            issue("lost-phone", "lost-1", lost_mode("Please call me")),
            owner.1,
        ))
        .await
        .unwrap();
    let on = next_command(&mut channel).await;
    assert!(
        matches!(&on.action.as_ref().unwrap().action, Some(Action::EnableLostMode(mode)) if mode.message == "Please call me")
    );
    phone
        .acknowledge(&mut registry, "lost-1", done(None))
        .await
        .unwrap();
    let shown = get_device(&mut registry, owner.1, "lost-phone")
        .await
        .lost_mode
        .unwrap();
    assert_eq!(shown.message, "Please call me");
    assert_eq!(shown.footnote, "Reward offered");
    assert!(shown.since_time.is_some());
    registry
        .issue_command(authed(
            issue(
                "lost-phone",
                "found-1",
                Action::DisableLostMode(DisableLostMode {}),
            ),
            owner.1,
        ))
        .await
        .unwrap();
    assert_eq!(next_command(&mut channel).await.command_id, "found-1");
    phone
        .acknowledge(&mut registry, "found-1", done(None))
        .await
        .unwrap();
    assert_eq!(
        get_device(&mut registry, owner.1, "lost-phone")
            .await
            .lost_mode,
        None
    );

    let listed = registry
        .list_commands(authed(
            ListCommandsRequest {
                device_id: "lost-phone".into(),
                page_size: 3,
                page_token: String::new(),
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed
        .commands
        .iter()
        .map(|command| command.command_id.as_str())
        .collect();
    assert_eq!(ids, ["found-1", "lost-1", "ring-1"], "newest first");
    let rest = registry
        .list_commands(authed(
            ListCommandsRequest {
                device_id: "lost-phone".into(),
                page_size: 3,
                page_token: listed.next_page_token,
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.commands.len(), 1);
    assert_eq!(rest.commands[0].command_id, issued.command_id);
    assert!(rest.next_page_token.is_empty());
    platform.stop().await;
}

async fn an_erase_needs_recent_authentication_and_happens_once(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    let phone = enrolled_phone(&mut registry, owner, "lost-phone").await;
    let claims = platform.access_claims(owner.1).await;
    let stale = platform
        .config
        .sign_access_token(&mi_platform::auth::AccessClaims {
            auth_time: claims.auth_time - 3600,
            ..access_claims_for(alice.mi_id, &claims.sid)
        });
    expect_refusal(
        registry
            .issue_command(authed(
                issue("lost-phone", "erase-1", Action::Erase(Erase {})),
                &stale,
            ))
            .await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        "an erase without a recent authentication",
    );
    let erase = registry
        .issue_command(authed(
            issue("lost-phone", "erase-1", Action::Erase(Erase {})),
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        erase.expire_time, None,
        "an erase waits until the device comes back"
    );
    expect_refusal(
        registry
            .issue_command(authed(
                issue("lost-phone", "erase-2", Action::Erase(Erase {})),
                owner.1,
            ))
            .await,
        Code::FailedPrecondition,
        Some(Reason::ErasePending),
        "a second erase while one waits",
    );
    // Offline: the event asks to wake it with its push token.
    let issued = command_issued(&platform, "erase-1").await;
    assert_eq!(
        (issued.action.as_str(), issued.push_token.as_str()),
        ("erase", "fcm-token-1")
    );
    // The device comes online later and receives it.
    let mut channel = phone.open_channel(&mut registry).await;
    assert_eq!(next_command(&mut channel).await.command_id, "erase-1");
    phone
        .acknowledge(&mut registry, "erase-1", done(None))
        .await
        .unwrap();
    let device = get_device(&mut registry, owner.1, "lost-phone").await;
    assert!(device.erased_time.is_some());
    expect_refusal(
        registry
            .issue_command(authed(
                issue("lost-phone", "erase-3", Action::Erase(Erase {})),
                owner.1,
            ))
            .await,
        Code::FailedPrecondition,
        Some(Reason::DeviceErased),
        "an erase of an erased device",
    );
    platform.stop().await;
}

async fn not_now_is_delivered_again_and_commands_expire_or_are_canceled(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_value("device.not_now_backoff", "1s")
        .with_value("device.command_expiry.ring", "3s")
        .with_value("device.command_poll", "200ms");
    let platform = TestPlatform::start_with(config).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    let phone = enrolled_phone(&mut registry, owner, "lost-phone").await;
    let mut channel = phone.open_channel(&mut registry).await;

    registry
        .issue_command(authed(
            issue("lost-phone", "locate-1", Action::Locate(Locate {})),
            owner.1,
        ))
        .await
        .unwrap();
    assert_eq!(next_command(&mut channel).await.command_id, "locate-1");
    let not_now = phone
        .acknowledge(&mut registry, "locate-1", Outcome::NotNow(CommandNotNow {}))
        .await
        .unwrap();
    assert_eq!(not_now.state(), CommandState::NotNow);
    assert_eq!(not_now.not_now_count, 1);
    let started = tokio::time::Instant::now();
    let again = next_command(&mut channel).await;
    assert_eq!(again.command_id, "locate-1");
    assert_eq!(again.not_now_count, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "delivered again only after the backoff"
    );
    phone
        .acknowledge(&mut registry, "locate-1", done(Some(here())))
        .await
        .unwrap();

    // Canceled: finished for the owner; a device acknowledging it later changes nothing.
    registry
        .issue_command(authed(
            issue("lost-phone", "ring-1", Action::Ring(Ring {})),
            owner.1,
        ))
        .await
        .unwrap();
    assert_eq!(next_command(&mut channel).await.command_id, "ring-1");
    let cancel = |command_id: &str| {
        authed(
            CancelCommandRequest {
                device_id: "lost-phone".into(),
                command_id: command_id.into(),
            },
            owner.1,
        )
    };
    let canceled = registry
        .cancel_command(cancel("ring-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(canceled.state(), CommandState::Canceled);
    assert_eq!(
        registry
            .cancel_command(cancel("ring-1"))
            .await
            .unwrap()
            .into_inner(),
        canceled
    );
    assert_eq!(
        phone
            .acknowledge(&mut registry, "ring-1", done(None))
            .await
            .unwrap(),
        canceled
    );
    expect_refusal(
        registry.cancel_command(cancel("locate-1")).await,
        Code::FailedPrecondition,
        Some(Reason::CommandFinished),
        "canceling a finished command",
    );

    // Expired: a ring nobody answers for 3 s.
    drop(channel);
    registry
        .issue_command(authed(
            issue("lost-phone", "ring-2", Action::Ring(Ring {})),
            owner.1,
        ))
        .await
        .unwrap();
    let mut watch = registry
        .watch_command(authed(
            WatchCommandRequest {
                device_id: "lost-phone".into(),
                command_id: "ring-2".into(),
                timeout_seconds: 20,
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(command) = watch.message().await.unwrap() {
        last = Some(command);
    }
    assert_eq!(last.unwrap().state(), CommandState::Expired);
    platform.stop().await;
}

async fn refusals_change_nothing(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (bob, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    let phone = enrolled_phone(&mut registry, owner, "alice-phone").await;

    // Another account's device, and its commands, are NOT_FOUND.
    registry
        .issue_command(authed(
            issue("alice-phone", "ring-1", Action::Ring(Ring {})),
            owner.1,
        ))
        .await
        .unwrap();
    expect_refusal(
        registry
            .issue_command(authed(
                issue("alice-phone", "", Action::Ring(Ring {})),
                &bob.access_token,
            ))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "IssueCommand on another account's device",
    );
    expect_refusal(
        registry
            .get_command(authed(
                GetCommandRequest {
                    device_id: "alice-phone".into(),
                    command_id: "ring-1".into(),
                },
                &bob.access_token,
            ))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "GetCommand of another account's device",
    );
    // A forged device token, or another account's key, opens no channel.
    let bob_key = DeviceKey::new();
    for (what, token) in [
        (
            "another key",
            bob_key.token(alice.mi_id, "alice-phone", FRESH),
        ),
        ("an access token", alice.access_token.clone()),
    ] {
        expect_refusal(
            registry
                .open_command_channel(authed(OpenCommandChannelRequest {}, &token))
                .await,
            Code::Unauthenticated,
            Some(Reason::DeviceTokenInvalid),
            what,
        );
    }

    // Bad input: every wrong field named, nothing queued.
    let cases = [
        (
            "no action",
            IssueCommandRequest {
                action: None,
                ..issue("alice-phone", "", Action::Ring(Ring {}))
            },
            vec!["action"],
        ),
        (
            "an unknown action (a newer client's)",
            IssueCommandRequest {
                action: Some(CommandAction { action: None }),
                ..issue("alice-phone", "", Action::Ring(Ring {}))
            },
            vec!["action"],
        ),
        (
            "a bad command id and an oversized message",
            issue("alice-phone", "no spaces!", lost_mode(&"m".repeat(201))),
            vec!["command_id", "action.enable_lost_mode.message"],
        ),
        (
            "a bidi override and a phone number with letters",
            issue(
                "alice-phone",
                "",
                Action::EnableLostMode(LostMode {
                    message: "call \u{202e}me".into(),
                    phone_number: "call-me-maybe".into(),
                    ..LostMode::default()
                }),
            ),
            vec![
                "action.enable_lost_mode.message",
                "action.enable_lost_mode.phone_number",
            ],
        ),
        (
            "an empty message",
            issue("alice-phone", "", lost_mode("")),
            vec!["action.enable_lost_mode.message"],
        ),
        (
            "sync settings as a command",
            issue(
                "alice-phone",
                "",
                Action::ApplySyncSettings(mi_proto::device::v1::SyncSettings::default()),
            ),
            vec!["action.apply_sync_settings"],
        ),
    ];
    for (what, request, fields) in cases {
        let refused = expect_refusal(
            registry.issue_command(authed(request, owner.1)).await,
            Code::InvalidArgument,
            Some(Reason::InvalidArgument),
            what,
        );
        let named: Vec<String> = field_violations(&refused)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(named, fields, "{what}: {refused:?}");
    }
    let mut channel = phone.open_channel(&mut registry).await;
    let locate = registry
        .issue_command(authed(
            issue("alice-phone", "locate-1", Action::Locate(Locate {})),
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_command(&mut channel).await.command_id, "ring-1");
    assert_eq!(
        next_command(&mut channel).await.command_id,
        "locate-1",
        "in issue order"
    );
    let refused = expect_refusal(
        phone
            .acknowledge(
                &mut registry,
                "locate-1",
                done(Some(Location {
                    latitude: 91.0,
                    longitude: -181.0,
                    ..here()
                })),
            )
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "coordinates out of range",
    );
    let named: Vec<String> = field_violations(&refused)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(named, ["done.location.latitude", "done.location.longitude"]);
    expect_refusal(
        phone
            .acknowledge(&mut registry, "locate-1", done(None))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "a done locate without its location",
    );
    let unchanged = registry
        .get_command(authed(
            GetCommandRequest {
                device_id: "alice-phone".into(),
                command_id: "locate-1".into(),
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.state(), CommandState::Delivered);
    assert_eq!(unchanged.create_time, locate.create_time);
    assert_eq!(
        get_device(&mut registry, owner.1, "alice-phone")
            .await
            .pending_commands,
        2
    );

    // Find Device off, or a capability the device lacks: FAILED_PRECONDITION.
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            mi_proto::device::v1::EnrollDeviceRequest {
                device: Some(key.device("tablet-1")),
            },
            owner.1,
        ))
        .await
        .unwrap();
    expect_refusal(
        registry
            .issue_command(authed(
                issue("tablet-1", "", Action::Ring(Ring {})),
                owner.1,
            ))
            .await,
        Code::FailedPrecondition,
        Some(Reason::FindDeviceOff),
        "a device with Find Device off",
    );
    turn_find_device_on(&mut registry, &key, alice.mi_id, "tablet-1").await;
    expect_refusal(
        registry
            .issue_command(authed(
                issue("tablet-1", "", Action::DisableLostMode(DisableLostMode {})),
                owner.1,
            ))
            .await,
        Code::FailedPrecondition,
        Some(Reason::CapabilityUnsupported),
        "ending Lost Mode on a device that cannot lock",
    );
    platform.stop().await;
}

async fn a_newer_channel_or_removing_the_device_ends_a_channel_and_removal_cancels(
    backends: Backends,
) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    let phone = enrolled_phone(&mut registry, owner, "lost-phone").await;
    // A second channel of the device ends the first.
    let mut replaced = phone.open_channel(&mut registry).await;
    let mut channel = phone.open_channel(&mut registry).await;
    let ended = tokio::time::timeout(RECEIVE_TIMEOUT, async {
        while replaced.message().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the replaced channel ends");
    registry
        .issue_command(authed(
            issue("lost-phone", "ring-1", Action::Ring(Ring {})),
            owner.1,
        ))
        .await
        .unwrap();
    assert_eq!(next_command(&mut channel).await.command_id, "ring-1");
    let mut watch = registry
        .watch_command(authed(
            WatchCommandRequest {
                device_id: "lost-phone".into(),
                command_id: "ring-1".into(),
                timeout_seconds: 0,
            },
            owner.1,
        ))
        .await
        .unwrap()
        .into_inner();
    registry
        .remove_device(authed(
            mi_proto::device::v1::RemoveDeviceRequest {
                device_id: "lost-phone".into(),
            },
            owner.1,
        ))
        .await
        .unwrap();
    let mut last = None;
    while let Some(command) = tokio::time::timeout(RECEIVE_TIMEOUT, watch.message())
        .await
        .unwrap()
        .unwrap()
    {
        last = Some(command);
    }
    assert_eq!(last.unwrap().state(), CommandState::Canceled);
    let ended = tokio::time::timeout(RECEIVE_TIMEOUT, async {
        while channel.message().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the removed device's channel ends");
    platform.stop().await;
}

in_both_modes!(
    locate_ring_and_lost_mode_reach_the_device_and_their_effects_show,
    an_erase_needs_recent_authentication_and_happens_once,
    not_now_is_delivered_again_and_commands_expire_or_are_canceled,
    refusals_change_nothing,
    a_newer_channel_or_removing_the_device_ends_a_channel_and_removal_cancels,
);

/// Two replicas of the whole platform on the same PostgreSQL and broker: a device connected
/// to one receives, within a second, a command issued on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_a_command_issued_on_one_replica_reaches_a_device_on_the_other() {
    let config = TestConfig::new(Backends::Servers);
    let first = TestPlatform::start_with(config.clone()).await;
    let second = TestPlatform::start_with(config).await;
    let mut on_first = registry(&first).await;
    let mut on_second = registry(&second).await;
    let (alice, _) = first
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let owner = (alice.mi_id, alice.access_token.as_str());
    let phone = enrolled_phone(&mut on_first, owner, "lost-phone").await;
    let mut channel = phone.open_channel(&mut on_first).await;
    for round in 0..3 {
        let command_id = format!("ring-{round}");
        let issued_at = tokio::time::Instant::now();
        on_second
            .issue_command(authed(
                issue("lost-phone", &command_id, Action::Ring(Ring {})),
                owner.1,
            ))
            .await
            .unwrap();
        let received = next_command(&mut channel).await;
        let latency = issued_at.elapsed();
        assert_eq!(received.command_id, command_id);
        assert!(latency < Duration::from_secs(1), "took {latency:?}");
        phone
            .acknowledge(&mut on_second, &command_id, done(None))
            .await
            .unwrap();
    }
    second.stop().await;
    first.stop().await;
}
