//! The command queue's rules against in-memory stores.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{DeviceCapability, UnixMillis};

use super::issue::second_factor_satisfied;
use super::testing::MemoryCommandStore;
use super::*;
use crate::domain::events::{Actor, CommandOutcome, DeviceEvent};
use crate::domain::testing::{MemoryDeviceStore, info, mi_id};
use crate::domain::{Device, DeviceCaller, FindDeviceState, Owner};

const WINDOW: Duration = Duration::from_secs(300);

fn timings() -> QueueTimings {
    QueueTimings {
        expiry: CommandExpiry {
            locate: Duration::from_secs(600),
            ring: Duration::from_secs(600),
            enable_lost_mode: Duration::from_secs(7 * 86_400),
            disable_lost_mode: Duration::from_secs(7 * 86_400),
            apply_sync_settings: Duration::from_secs(7 * 86_400),
        },
        not_now_backoff: NotNowBackoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(600),
        },
        recent_auth_window: WINDOW,
        channel_heartbeat: Duration::from_secs(30),
    }
}

struct Fixture {
    queue: CommandQueue,
    commands: Arc<MemoryCommandStore>,
    devices: Arc<MemoryDeviceStore>,
}

/// A queue with alice's (1) phone: Find Device on, every capability but those in `without`.
fn fixture(without: &[DeviceCapability]) -> Fixture {
    let commands = Arc::new(MemoryCommandStore::default());
    let devices = Arc::new(MemoryDeviceStore::default());
    let mut phone = info("phone");
    phone.capabilities = [
        DeviceCapability::Locate,
        DeviceCapability::Ring,
        DeviceCapability::Lock,
        DeviceCapability::Erase,
    ]
    .into_iter()
    .filter(|capability| !without.contains(capability))
    .collect();
    devices.put(Device {
        mi_id: mi_id(1),
        info: phone,
        linked_at: UnixMillis::now(),
        enrolled: true,
        status: crate::domain::DeviceStatus::default(),
        find_device: FindDeviceState {
            enabled: true,
            ..FindDeviceState::default()
        },
    });
    let queue = CommandQueue::new(
        Arc::clone(&commands) as _,
        Arc::clone(&devices) as _,
        timings(),
    );
    Fixture {
        queue,
        commands,
        devices,
    }
}

fn owner(raw_mi_id: u64, auth_age: Duration, amr: &[&str]) -> Owner {
    Owner {
        mi_id: mi_id(raw_mi_id),
        session_id: "session-1".into(),
        auth_time: UnixMillis::now().saturating_sub(auth_age),
        amr: amr.iter().map(|method| (*method).to_owned()).collect(),
        client_address: "198.51.100.7".into(),
    }
}

fn alice() -> Owner {
    owner(1, Duration::ZERO, &["pwd"])
}

fn phone() -> DeviceCaller {
    DeviceCaller {
        mi_id: mi_id(1),
        device_id: "phone".into(),
    }
}

fn lost_mode() -> LostMode {
    LostMode {
        message: "Please call me".into(),
        phone_number: "+86 138 0000 0000".into(),
        footnote: String::new(),
        since: None,
    }
}

fn location() -> Location {
    Location {
        latitude: 39.9,
        longitude: 116.4,
        accuracy_meters: 12.0,
        measured_at: UnixMillis::now(),
        source: Some(crate::domain::LocationSource::Gps),
        battery_percent: Some(40),
    }
}

async fn issue(
    fixture: &Fixture,
    owner: &Owner,
    id: &str,
    action: Action,
) -> Result<Command, IssueCommandError> {
    fixture
        .queue
        .issue((owner, "203.0.113.7"), "phone", id.into(), action, false)
        .await
}

#[tokio::test]
async fn a_command_is_queued_once_per_id_and_a_retry_gets_it_back() {
    let fixture = fixture(&[]);
    let first = issue(&fixture, &alice(), "c-1", Action::Locate)
        .await
        .unwrap();
    assert_eq!(first.state, CommandState::Queued);
    assert!(first.expires_at.is_some());
    let retried = issue(&fixture, &alice(), "c-1", Action::Locate)
        .await
        .unwrap();
    assert_eq!(retried, first);
    assert!(matches!(
        issue(&fixture, &alice(), "c-1", Action::Ring).await,
        Err(IssueCommandError::CommandIdInUse)
    ));
    let events = fixture.commands.events();
    assert_eq!(events.len(), 1, "one CommandIssued: {events:?}");
    assert!(matches!(
        &events[0],
        DeviceEvent::CommandIssued { action: "locate", push_token, actor: Actor::Owner { client_address, .. }, .. }
            if push_token == "push-token" && client_address == "203.0.113.7"
    ));
}

#[tokio::test]
async fn a_command_needs_the_owners_device_with_find_device_on_and_the_capability() {
    let fixture = fixture(&[DeviceCapability::Lock]);
    assert!(matches!(
        issue(
            &fixture,
            &owner(2, Duration::ZERO, &["pwd"]),
            "c-1",
            Action::Ring
        )
        .await,
        Err(IssueCommandError::NotFound)
    ));
    assert!(matches!(
        issue(&fixture, &alice(), "c-2", Action::DisableLostMode).await,
        Err(IssueCommandError::CapabilityUnsupported(
            "disable_lost_mode"
        ))
    ));
    assert!(matches!(
        issue(
            &fixture,
            &alice(),
            "c-3",
            Action::EnableLostMode(lost_mode())
        )
        .await,
        Err(IssueCommandError::CapabilityUnsupported("enable_lost_mode"))
    ));
    let mut device = fixture
        .devices
        .get(mi_id(1), "phone")
        .await
        .unwrap()
        .unwrap();
    device.find_device.enabled = false;
    fixture.devices.put(device);
    assert!(matches!(
        issue(&fixture, &alice(), "c-4", Action::Ring).await,
        Err(IssueCommandError::FindDeviceOff)
    ));
    assert!(fixture.commands.events().is_empty());
}

#[test]
fn with_a_second_factor_on_the_account_the_recent_proof_must_include_it() {
    let methods = |methods: &[&str]| -> Vec<String> {
        methods.iter().map(|method| (*method).to_owned()).collect()
    };
    assert!(second_factor_satisfied(&methods(&["pwd"]), false));
    assert!(!second_factor_satisfied(&methods(&["pwd"]), true));
    assert!(!second_factor_satisfied(&methods(&[]), true));
    assert!(second_factor_satisfied(
        &methods(&["pwd", "sms", "mfa"]),
        true
    ));
    assert!(second_factor_satisfied(&methods(&["otp"]), true));
}

#[tokio::test]
async fn an_erase_needs_a_recent_proof_and_happens_once() {
    let fixture = fixture(&[]);
    let stale = owner(1, Duration::from_secs(3600), &["pwd"]);
    assert!(matches!(
        issue(&fixture, &stale, "e-1", Action::Erase).await,
        Err(IssueCommandError::ReauthenticationRequired)
    ));
    // The account has a second factor: a password alone is not enough.
    let refused = fixture
        .queue
        .issue((&alice(), ""), "phone", "e-1".into(), Action::Erase, true)
        .await;
    assert!(matches!(
        refused,
        Err(IssueCommandError::ReauthenticationRequired)
    ));
    let strong = owner(1, Duration::ZERO, &["pwd", "otp", "mfa"]);
    let erase = fixture
        .queue
        .issue((&strong, ""), "phone", "e-1".into(), Action::Erase, true)
        .await
        .unwrap();
    assert_eq!(
        erase.expires_at, None,
        "an erase waits however long it takes"
    );
    assert!(matches!(
        issue(&fixture, &alice(), "e-2", Action::Erase).await,
        Err(IssueCommandError::ErasePending)
    ));
    fixture
        .queue
        .acknowledge(
            (&phone(), ""),
            "e-1",
            Acknowledgement::Done { location: None },
        )
        .await
        .unwrap();
    assert_eq!(fixture.commands.effects(), [Effect::Erased]);
    let mut device = fixture
        .devices
        .get(mi_id(1), "phone")
        .await
        .unwrap()
        .unwrap();
    device.find_device.erased_at = Some(UnixMillis::now());
    fixture.devices.put(device);
    assert!(matches!(
        issue(&fixture, &alice(), "e-3", Action::Erase).await,
        Err(IssueCommandError::DeviceErased)
    ));
}

#[tokio::test]
async fn done_applies_the_effect_once_and_a_repeated_ack_changes_nothing() {
    let fixture = fixture(&[]);
    issue(&fixture, &alice(), "l-1", Action::Locate)
        .await
        .unwrap();
    assert!(matches!(
        fixture
            .queue
            .acknowledge(
                (&phone(), ""),
                "l-1",
                Acknowledgement::Done { location: None }
            )
            .await,
        Err(AcknowledgeError::LocationRequired)
    ));
    let here = location();
    let done = fixture
        .queue
        .acknowledge(
            (&phone(), ""),
            "l-1",
            Acknowledgement::Done {
                location: Some(here),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.state, CommandState::Succeeded);
    assert_eq!(done.location, Some(here));
    let again = fixture
        .queue
        .acknowledge(
            (&phone(), ""),
            "l-1",
            Acknowledgement::Failed {
                code: "late".into(),
                message: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(again, done, "a finished command is returned unchanged");
    assert_eq!(fixture.commands.effects(), [Effect::Located(here)]);

    issue(
        &fixture,
        &alice(),
        "m-1",
        Action::EnableLostMode(lost_mode()),
    )
    .await
    .unwrap();
    fixture
        .queue
        .acknowledge(
            (&phone(), ""),
            "m-1",
            Acknowledgement::Done { location: None },
        )
        .await
        .unwrap();
    let Some(Effect::LostModeOn(on)) = fixture.commands.effects().pop() else {
        panic!("no Lost Mode effect");
    };
    assert_eq!(on.message, "Please call me");
    assert!(
        on.since.is_some(),
        "confirmed when the device acknowledged it"
    );
    let completed = fixture
        .commands
        .events()
        .into_iter()
        .filter(|event| {
            matches!(
                event,
                DeviceEvent::CommandCompleted {
                    outcome: CommandOutcome::Succeeded,
                    actor: Actor::Device { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(completed, 2);
}

#[tokio::test]
async fn not_now_backs_off_doubling_up_to_the_maximum_and_the_channel_gets_it_again() {
    let backoff = timings().not_now_backoff;
    let delays: Vec<u64> = (1..=7)
        .map(|count| backoff.delay(count).as_secs())
        .collect();
    assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);

    let fixture = fixture(&[]);
    issue(&fixture, &alice(), "r-1", Action::Ring)
        .await
        .unwrap();
    let sent = fixture
        .queue
        .deliver_due(&phone(), |_| false)
        .await
        .unwrap();
    assert_eq!(sent.commands.len(), 1);
    assert_eq!(sent.commands[0].state, CommandState::Delivered);
    let before = UnixMillis::now();
    let not_now = fixture
        .queue
        .acknowledge((&phone(), ""), "r-1", Acknowledgement::NotNow)
        .await
        .unwrap();
    assert_eq!(
        (not_now.state, not_now.not_now_count),
        (CommandState::NotNow, 1)
    );
    assert!(not_now.next_attempt_at >= before.saturating_add(Duration::from_secs(30)));
    let later = fixture
        .queue
        .deliver_due(&phone(), |_| false)
        .await
        .unwrap();
    assert!(later.commands.is_empty(), "not due during its backoff");
    assert_eq!(later.next_due, Some(not_now.next_attempt_at));
}

#[tokio::test]
async fn cancel_finishes_an_unfinished_command_and_only_that() {
    let fixture = fixture(&[]);
    issue(&fixture, &alice(), "r-1", Action::Ring)
        .await
        .unwrap();
    let canceled = fixture
        .queue
        .cancel((&alice(), ""), "phone", "r-1")
        .await
        .unwrap();
    assert_eq!(canceled.state, CommandState::Canceled);
    let again = fixture
        .queue
        .cancel((&alice(), ""), "phone", "r-1")
        .await
        .unwrap();
    assert_eq!(again, canceled);
    issue(&fixture, &alice(), "r-2", Action::Ring)
        .await
        .unwrap();
    fixture
        .queue
        .acknowledge(
            (&phone(), ""),
            "r-2",
            Acknowledgement::Done { location: None },
        )
        .await
        .unwrap();
    assert!(matches!(
        fixture.queue.cancel((&alice(), ""), "phone", "r-2").await,
        Err(CancelCommandError::Finished)
    ));
    assert!(matches!(
        fixture
            .queue
            .cancel((&owner(2, Duration::ZERO, &[]), ""), "phone", "r-1")
            .await,
        Err(CancelCommandError::NotFound)
    ));
}

#[tokio::test]
async fn the_sweep_expires_commands_past_their_expiry_but_never_an_erase() {
    let fixture = fixture(&[]);
    issue(&fixture, &alice(), "l-1", Action::Locate)
        .await
        .unwrap();
    issue(&fixture, &alice(), "r-1", Action::Ring)
        .await
        .unwrap();
    issue(&fixture, &alice(), "e-1", Action::Erase)
        .await
        .unwrap();
    fixture.commands.set_expiry(
        "l-1",
        UnixMillis::now().saturating_sub(Duration::from_secs(1)),
    );
    assert_eq!(fixture.queue.expire_due().await.unwrap(), 1);
    assert_eq!(fixture.queue.expire_due().await.unwrap(), 0, "expired once");
    let listed = fixture
        .queue
        .list(mi_id(1), "phone", None, 10)
        .await
        .unwrap();
    let states: Vec<(&str, CommandState)> = listed
        .iter()
        .map(|command| (command.command_id.as_str(), command.state))
        .collect();
    assert_eq!(
        states,
        [
            ("e-1", CommandState::Queued),
            ("r-1", CommandState::Queued),
            ("l-1", CommandState::Expired)
        ],
        "newest first"
    );
    assert!(fixture.commands.events().iter().any(|event| matches!(
        event,
        DeviceEvent::CommandCompleted {
            outcome: CommandOutcome::Expired,
            actor: Actor::Registry,
            ..
        }
    )));
}

#[tokio::test]
async fn a_newer_channel_replaces_the_older() {
    let fixture = fixture(&[]);
    fixture.queue.open_channel(&phone(), "first").await.unwrap();
    fixture
        .queue
        .channel_alive(&phone(), "first", true)
        .await
        .unwrap();
    fixture
        .queue
        .open_channel(&phone(), "second")
        .await
        .unwrap();
    // Found out both by a wake-up's read and by a heartbeat.
    for heartbeat in [false, true] {
        assert!(matches!(
            fixture
                .queue
                .channel_alive(&phone(), "first", heartbeat)
                .await,
            Err(ChannelError::Replaced)
        ));
    }
    fixture
        .queue
        .close_channel(&phone(), "first")
        .await
        .unwrap();
    fixture
        .queue
        .channel_alive(&phone(), "second", false)
        .await
        .unwrap();
    issue(&fixture, &alice(), "r-1", Action::Ring)
        .await
        .unwrap();
    assert!(
        matches!(
            &fixture.commands.events()[0],
            DeviceEvent::CommandIssued { push_token, .. } if push_token.is_empty()
        ),
        "no push for a device with an open channel"
    );
}
