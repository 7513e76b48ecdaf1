//! Find Device as the articles tell it, end to end with the reference device agent (the library
//! its binary runs) playing the phone: it signs in with its own key, turns Find Device on and
//! reports where it is; the owner, from another client with an access token, locates it, rings
//! it (answered not now once, then again after the backoff), locks it in Lost Mode with a
//! message and ends it, changes what it syncs, and erases it after a recent authentication.
//! The owner's contacts are alerted, the audit trail lists each action, and the erased hardware
//! refuses another account's sign-in (reactivation lock) until the owner removes it. Turning
//! Find Device off needs the owner's password.

use std::time::Duration;

use mi_contracts::Reason;
use mi_device_agent::{ActionKind, Agent, Did, Position, RunEnd, RunOptions};
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    Command, CommandAction, CommandState, Erase, GetDeviceRequest, GetSyncSettingsRequest,
    IssueCommandRequest, ListAuditEntriesRequest, Locate, LostMode, RemoveDeviceRequest, Ring,
    UpdateSyncSettingsRequest, WatchCommandRequest,
};
use secrecy::SecretString;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

use crate::device_agent::{endpoints, enrolled_device, sign_in_as};
use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestConfig, TestPlatform, authed, error_metadata, in_both_modes,
    reason, unique_phone_number,
};

type Registry = DeviceRegistryServiceClient<Channel>;

/// What the agent does next, skipping its connection reports.
async fn next_deed(did: &mut UnboundedReceiver<Did>) -> Did {
    loop {
        let deed = tokio::time::timeout(Duration::from_secs(20), did.recv())
            .await
            .expect("the agent did nothing within 20 s")
            .expect("the agent stopped");
        if !matches!(deed, Did::Connected | Did::Disconnected { .. }) {
            return deed;
        }
    }
}

async fn issue(registry: &mut Registry, token: &str, device_id: &str, action: Action) -> Command {
    registry
        .issue_command(authed(
            IssueCommandRequest {
                device_id: device_id.to_owned(),
                command_id: String::new(),
                action: Some(CommandAction {
                    action: Some(action),
                }),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// The command once it finished, waiting on WatchCommand (no polling).
async fn finished(registry: &mut Registry, token: &str, command: &Command) -> Command {
    let mut watch = registry
        .watch_command(authed(
            WatchCommandRequest {
                device_id: command.device_id.clone(),
                command_id: command.command_id.clone(),
                timeout_seconds: 30,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(seen) = watch.message().await.unwrap() {
        last = Some(seen);
    }
    let last = last.expect("the watch sent the command");
    assert!(
        !matches!(
            last.state(),
            CommandState::Queued | CommandState::Delivered | CommandState::NotNow
        ),
        "the watch ended before the command finished: {last:?}"
    );
    last
}

async fn the_owner_finds_rings_locks_and_erases_the_agents_phone(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_value("device.not_now_backoff", "1s")
        .with_value("device.command_poll", "200ms");
    let platform = TestPlatform::start_with(config).await;
    let owner_phone = unique_phone_number();
    let (owner, password) = platform
        .create_account(&owner_phone, CodeChannel::Sms)
        .await;
    let password = SecretString::from(password);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("phone.json");
    let agent = Agent::new(&path, endpoints(&platform));
    let state = sign_in_as(&agent, owner.mi_id, &password).await.unwrap();
    let device_id = state.device.device_id.clone();
    let hardware_id = enrolled_device(&platform, &state, &owner.access_token)
        .await
        .info
        .unwrap()
        .hardware_id;
    let token = owner.access_token.as_str();
    let mut registry = Registry::new(crate::support::channel(platform.addresses.device).await);

    // The phone turns Find Device on itself and says where it is.
    assert!(
        agent
            .set_find_device(true, None)
            .await
            .unwrap()
            .find_device_enabled
    );
    let here = Position {
        latitude: 39.9928,
        longitude: 116.3055,
        accuracy_meters: 15.0,
    };
    assert_eq!(agent.report_location(here).await.unwrap(), 1);

    // It keeps its command channel open, answering the first ring "not now".
    let (did_sender, mut did) = unbounded_channel();
    let stop = CancellationToken::new();
    let runner = Agent::new(&path, endpoints(&platform));
    let options = RunOptions {
        not_now: vec![ActionKind::Ring],
        ..RunOptions::default()
    };
    let running = tokio::spawn({
        let stop = stop.clone();
        async move {
            runner
                .run_until(&options, stop.cancelled_owned(), did_sender)
                .await
        }
    });

    // Locate: a fresh location comes back.
    let locate = issue(&mut registry, token, &device_id, Action::Locate(Locate {})).await;
    assert!(
        matches!(next_deed(&mut did).await, Did::Located { command_id, .. } if command_id == locate.command_id)
    );
    let located = finished(&mut registry, token, &locate).await;
    assert_eq!(located.state(), CommandState::Succeeded);
    let location = located.location.expect("the location");
    assert_eq!((location.latitude, location.longitude), (39.9928, 116.3055));

    // Ring: not now, then again after the backoff, and it rings.
    let ring = issue(&mut registry, token, &device_id, Action::Ring(Ring {})).await;
    assert!(
        matches!(next_deed(&mut did).await, Did::AnsweredNotNow { command_id, .. } if command_id == ring.command_id)
    );
    assert!(
        matches!(next_deed(&mut did).await, Did::Rang { command_id } if command_id == ring.command_id)
    );
    let rung = finished(&mut registry, token, &ring).await;
    assert_eq!(
        (rung.state(), rung.not_now_count),
        (CommandState::Succeeded, 1)
    );

    // Lost Mode: the lock screen shows the message; GetDevice shows it; the owner is alerted.
    let lock = issue(
        &mut registry,
        token,
        &device_id,
        Action::EnableLostMode(LostMode {
            message: "This phone is lost".into(),
            phone_number: "+86 138 0000 0000".into(),
            footnote: "Reward".into(),
            since_time: None,
        }),
    )
    .await;
    match next_deed(&mut did).await {
        Did::ShowedLostMode {
            command_id,
            message,
            phone_number,
            ..
        } => {
            assert_eq!(command_id, lock.command_id);
            assert_eq!(
                (message.as_str(), phone_number.as_str()),
                ("This phone is lost", "+86 138 0000 0000")
            );
        }
        other => panic!("expected the Lost Mode screen, got {other:?}"),
    }
    assert_eq!(
        finished(&mut registry, token, &lock).await.state(),
        CommandState::Succeeded
    );
    let device = registry
        .get_device(authed(
            GetDeviceRequest {
                device_id: device_id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        device.lost_mode.as_ref().map(|mode| mode.message.as_str()),
        Some("This phone is lost")
    );
    assert_eq!(device.pending_commands, 0);
    let alert = platform.wait_for_text(&owner_phone, "Agent phone").await;
    assert!(
        alert.body.contains("Agent phone"),
        "the alert names the device: {alert:?}"
    );

    // The owner changes what the phone syncs; the phone takes it over its channel.
    let mut settings = registry
        .get_sync_settings(authed(
            GetSyncSettingsRequest {
                device_id: device_id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    settings.gallery = false;
    let changed = registry
        .update_sync_settings(authed(
            UpdateSyncSettingsRequest {
                settings: Some(settings),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    match next_deed(&mut did).await {
        Did::AppliedSyncSettings { settings, .. } => {
            assert_eq!(settings.version, changed.version);
            assert!(!settings.data_types.iter().any(|kind| kind == "gallery"));
            assert!(settings.data_types.iter().any(|kind| kind == "contacts"));
        }
        other => panic!("expected the sync settings, got {other:?}"),
    }

    // Erase (the sign-up's access token is a recent authentication): acknowledged, then the
    // phone deletes its state and stops.
    let erase = issue(&mut registry, token, &device_id, Action::Erase(Erase {})).await;
    assert!(
        matches!(next_deed(&mut did).await, Did::Erased { command_id } if command_id == erase.command_id)
    );
    let ended = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the agent stops after an erase")
        .unwrap()
        .unwrap();
    assert_eq!(ended, RunEnd::Erased);
    assert!(!path.exists(), "the erased phone's state file is gone");
    assert_eq!(
        finished(&mut registry, token, &erase).await.state(),
        CommandState::Succeeded
    );
    let device = registry
        .get_device(authed(
            GetDeviceRequest {
                device_id: device_id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(device.erased_time.is_some());
    // Lost Mode stays set: it comes back if the phone is set up again for this account.
    assert!(device.lost_mode.is_some());

    // Every action is in the owner's audit trail, newest first.
    let entries = registry
        .list_audit_entries(authed(ListAuditEntriesRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    for expected in [
        "device.erased",
        "lost_mode.enabled",
        "sync_settings.updated",
        "find_device.enabled",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let issued_erase = entries
        .iter()
        .find(|entry| entry.action == "command.issued" && entry.command_id == erase.command_id)
        .expect("the erase's issue is audited");
    assert_eq!(issued_erase.session_id, owner.session_id);

    // Reactivation lock: another account cannot sign in on the erased hardware; the refusal
    // names the owner's contact, masked.
    let (other, other_password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let thief = Agent::new(directory.path().join("thief.json"), endpoints(&platform));
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    let refused = loop {
        let attempt = sign_in_as(
            &thief,
            other.mi_id,
            &SecretString::from(other_password.clone()),
        )
        .await;
        match attempt {
            Err(error) => break error,
            Ok(_) => {
                // Identity learns of the erase from the device topic; until then it signs in.
                std::fs::remove_file(directory.path().join("thief.json")).unwrap();
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the erased hardware never locked"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let status = refused
        .downcast_ref::<tonic::Status>()
        .unwrap_or_else(|| panic!("not a refusal: {refused:?}"));
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(status), Some(Reason::ReactivationLocked));
    let masked = error_metadata(status, "owner_contact").expect("the owner's masked contact");
    assert!(
        masked.contains('*') && !masked.contains(&owner_phone[owner_phone.len() - 8..]),
        "masked: {masked}"
    );
    assert!(
        !hardware_id.is_empty(),
        "the agent's phone has a hardware id"
    );

    // The owner sets the phone up again (a new install on the same hardware): it takes over the
    // Lost Mode set before the erase, and the registry sends it to lock the screen again.
    let reinstalled = Agent::new(directory.path().join("again.json"), endpoints(&platform));
    sign_in_as(&reinstalled, owner.mi_id, &password)
        .await
        .unwrap();
    let (did_sender, mut did) = unbounded_channel();
    let stop_again = CancellationToken::new();
    let running_again = tokio::spawn({
        let stop = stop_again.clone();
        async move {
            reinstalled
                .run_until(&RunOptions::default(), stop.cancelled_owned(), did_sender)
                .await
        }
    });
    match next_deed(&mut did).await {
        Did::ShowedLostMode { message, .. } => assert_eq!(message, "This phone is lost"),
        other => panic!("expected the restored Lost Mode screen, got {other:?}"),
    }
    stop_again.cancel();
    assert_eq!(running_again.await.unwrap().unwrap(), RunEnd::Stopped);

    // The owner removes the erased phone: the lock goes, and the other account signs in.
    registry
        .remove_device(authed(
            RemoveDeviceRequest {
                device_id: device_id.clone(),
            },
            token,
        ))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let attempt = sign_in_as(
            &thief,
            other.mi_id,
            &SecretString::from(other_password.clone()),
        )
        .await;
        match attempt {
            Ok(signed_in) => {
                assert_eq!(signed_in.mi_id, other.mi_id);
                break;
            }
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the lock was never released: {error:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    stop.cancel();
    platform.stop().await;
}

async fn find_device_goes_off_only_with_the_owners_password(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (owner, password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let password = SecretString::from(password);
    let directory = tempfile::tempdir().unwrap();
    let agent = Agent::new(directory.path().join("phone.json"), endpoints(&platform));
    let state = sign_in_as(&agent, owner.mi_id, &password).await.unwrap();
    enrolled_device(&platform, &state, &owner.access_token).await;
    agent.set_find_device(true, None).await.unwrap();
    assert_eq!(
        agent
            .report_location(Position {
                latitude: 31.2304,
                longitude: 121.4737,
                accuracy_meters: 30.0,
            })
            .await
            .unwrap(),
        1
    );

    // Without the password it cannot; with a wrong one identity refuses and it stays on.
    assert!(agent.set_find_device(false, None).await.is_err());
    let wrong = agent
        .set_find_device(false, Some(&SecretString::from("not it".to_owned())))
        .await
        .unwrap_err();
    let status = wrong.downcast_ref::<tonic::Status>().expect("a refusal");
    assert_eq!(reason(status), Some(Reason::WrongPassword));
    let mut registry = Registry::new(crate::support::channel(platform.addresses.device).await);
    let get = || GetDeviceRequest {
        device_id: state.device.device_id.clone(),
    };
    let device = registry
        .get_device(authed(get(), &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert!(device.find_device_enabled && device.last_location.is_some());

    // With it: off, and the phone's locations are forgotten.
    let off = agent.set_find_device(false, Some(&password)).await.unwrap();
    assert!(!off.find_device_enabled);
    let device = registry
        .get_device(authed(get(), &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert!(!device.find_device_enabled);
    assert_eq!(device.last_location, None);
    platform.stop().await;
}

in_both_modes!(
    the_owner_finds_rings_locks_and_erases_the_agents_phone,
    find_device_goes_off_only_with_the_owners_password,
);
