//! The command channel against a fake registry: each command obeyed and acknowledged, a
//! redelivery answered again without running twice, NOT_NOW once, erase acknowledged before
//! the state is deleted, and reconnection with backoff and jitter.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use mi_proto::device::v1::acknowledge_command_request::Outcome;
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::{
    AcknowledgeCommandRequest, ChannelMessage, Command, CommandAction, DisableLostMode, Erase,
    Heartbeat, Locate, LostMode, Ring, SyncSettings,
};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::*;
use crate::state::StoredSyncSettings;
use crate::testing::sample_state;

/// What one opening of the channel gives.
enum Opening {
    /// Refused with this status.
    Refused(Status),
    /// These messages, then the registry closes the channel.
    Closes(Vec<ChannelMessage>),
}

/// A registry that plays the openings in order, then keeps a channel open with nothing on it.
struct FakeRegistry {
    openings: VecDeque<Opening>,
    /// Every acknowledgement received, with whether the state file existed at that moment.
    acknowledged: Arc<Mutex<Vec<(AcknowledgeCommandRequest, bool)>>>,
    /// How many acknowledgements to lose (answer UNAVAILABLE) before taking them.
    acknowledgements_to_lose: usize,
    state_path: PathBuf,
}

impl FakeRegistry {
    fn new(file: &StateFile, openings: Vec<Opening>) -> Self {
        Self {
            openings: openings.into(),
            acknowledged: Arc::default(),
            acknowledgements_to_lose: 0,
            state_path: file.path().to_owned(),
        }
    }

    fn acknowledged(&self) -> Vec<(AcknowledgeCommandRequest, bool)> {
        self.acknowledged.lock().unwrap().clone()
    }
}

#[async_trait]
impl CommandLink for FakeRegistry {
    async fn open(&mut self) -> Result<crate::link::MessageStream, Status> {
        match self.openings.pop_front() {
            Some(Opening::Refused(status)) => Err(status),
            Some(Opening::Closes(messages)) => {
                Ok(futures::stream::iter(messages.into_iter().map(Ok)).boxed())
            }
            None => Ok(futures::stream::pending().boxed()),
        }
    }

    async fn acknowledge(&mut self, request: AcknowledgeCommandRequest) -> Result<(), Status> {
        if self.acknowledgements_to_lose > 0 {
            self.acknowledgements_to_lose -= 1;
            return Err(Status::unavailable("connection reset"));
        }
        let state_exists = self.state_path.exists();
        self.acknowledged
            .lock()
            .unwrap()
            .push((request, state_exists));
        Ok(())
    }
}

fn command(command_id: &str, action: Action) -> ChannelMessage {
    ChannelMessage {
        message: Some(Message::Command(Command {
            command_id: command_id.into(),
            action: Some(CommandAction {
                action: Some(action),
            }),
            ..Command::default()
        })),
    }
}

fn heartbeat() -> ChannelMessage {
    ChannelMessage {
        message: Some(Message::Heartbeat(Heartbeat { time: None })),
    }
}

fn signed_in() -> (tempfile::TempDir, StateFile) {
    let directory = tempfile::tempdir().unwrap();
    let file = StateFile::new(directory.path().join("phone.json"));
    file.save(&sample_state()).unwrap();
    (directory, file)
}

fn fast() -> RunOptions {
    RunOptions {
        backoff: Backoff {
            first: Duration::from_millis(10),
            max: Duration::from_millis(40),
        },
        not_now: Vec::new(),
        silence_limit: Duration::from_secs(5),
    }
}

/// Runs the agent until it has done `count` things (or ends by itself); returns how it ended
/// and what it did.
async fn run_for(
    registry: &mut FakeRegistry,
    file: &StateFile,
    options: &RunOptions,
    count: usize,
) -> (RunEnd, Vec<Did>) {
    let (did, mut done) = unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = async move {
        let seen = collect(&mut done, count).await;
        let _ = stop.send(());
        seen
    };
    let stop = async {
        let _ = stopped.await;
    };
    let run = run_until(registry, file, options, stop, did);
    let (end, seen) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(run, watcher)
    })
    .await
    .expect("the agent did not do what it should within 10 s");
    (end.unwrap(), seen)
}

async fn collect(done: &mut UnboundedReceiver<Did>, count: usize) -> Vec<Did> {
    let mut seen = Vec::new();
    while seen.len() < count {
        match done.recv().await {
            Some(did) => seen.push(did),
            None => break,
        }
    }
    seen
}

fn outcome(request: &AcknowledgeCommandRequest) -> &Outcome {
    request.outcome.as_ref().unwrap()
}

#[tokio::test]
async fn each_command_is_obeyed_and_acknowledged_in_order() {
    let (_directory, file) = signed_in();
    let lost_mode = LostMode {
        message: "This phone is lost. Please call me.".into(),
        phone_number: "+86 138 0000 0000".into(),
        footnote: "Reward offered".into(),
        since_time: None,
    };
    let settings = SyncSettings {
        version: 3,
        sync_enabled: true,
        wifi_only: true,
        gallery: true,
        notes: true,
        ..SyncSettings::default()
    };
    let mut registry = FakeRegistry::new(
        &file,
        vec![Opening::Closes(vec![
            command("c1", Action::Locate(Locate {})),
            heartbeat(),
            command("c2", Action::Ring(Ring {})),
            command("c3", Action::EnableLostMode(lost_mode.clone())),
            command("c4", Action::DisableLostMode(DisableLostMode {})),
            command("c5", Action::ApplySyncSettings(settings)),
        ])],
    );
    let (end, did) = run_for(&mut registry, &file, &fast(), 6).await;
    assert_eq!(end, RunEnd::Stopped);

    let position = sample_state().position.unwrap();
    let applied = StoredSyncSettings {
        version: 3,
        sync_enabled: true,
        wifi_only: true,
        data_types: vec!["gallery".into(), "notes".into()],
    };
    assert_eq!(
        did,
        [
            Did::Connected,
            Did::Located {
                command_id: "c1".into(),
                position,
            },
            Did::Rang {
                command_id: "c2".into()
            },
            Did::ShowedLostMode {
                command_id: "c3".into(),
                message: lost_mode.message.clone(),
                phone_number: lost_mode.phone_number.clone(),
                footnote: lost_mode.footnote.clone(),
            },
            Did::EndedLostMode {
                command_id: "c4".into()
            },
            Did::AppliedSyncSettings {
                command_id: "c5".into(),
                settings: applied.clone(),
            },
        ]
    );
    let acknowledged = registry.acknowledged();
    let ids: Vec<&str> = acknowledged
        .iter()
        .map(|(request, _)| request.command_id.as_str())
        .collect();
    assert_eq!(ids, ["c1", "c2", "c3", "c4", "c5"]);
    let Outcome::Done(located) = outcome(&acknowledged[0].0) else {
        panic!("{acknowledged:?}");
    };
    let location = located
        .location
        .as_ref()
        .expect("a Locate answers with a location");
    assert_eq!(
        (
            location.latitude,
            location.longitude,
            location.accuracy_meters
        ),
        (
            position.latitude,
            position.longitude,
            position.accuracy_meters
        )
    );
    assert!(location.time.is_some());
    for (request, _) in &acknowledged[1..] {
        assert_eq!(
            outcome(request),
            &Outcome::Done(Default::default()),
            "{request:?}"
        );
    }

    let state = file.load().unwrap();
    assert_eq!(state.sync_settings, Some(applied));
    for id in ["c1", "c2", "c3", "c4", "c5"] {
        assert!(state.acknowledged(id).is_some(), "{id} remembered");
    }
    let screen = did[3].to_string();
    for shown in [
        "This phone is lost. Please call me.",
        "Call +86 138 0000 0000",
        "Reward offered",
    ] {
        assert!(screen.contains(shown), "{screen}");
    }
    assert!(
        did[2]
            .to_string()
            .contains("RINGING at full volume for 5 minutes"),
        "{}",
        did[2]
    );
    assert!(did[4].to_string().contains("Lost Mode ended"));
}

#[tokio::test]
async fn a_redelivered_command_is_acknowledged_again_without_running_twice() {
    let (_directory, file) = signed_in();
    let ring = || command("c1", Action::Ring(Ring {}));
    let mut registry = FakeRegistry::new(
        &file,
        vec![Opening::Closes(vec![ring()]), Opening::Closes(vec![ring()])],
    );
    // The first answer is lost on the way: the channel breaks, the registry sends it again.
    registry.acknowledgements_to_lose = 1;
    let (_, did) = run_for(&mut registry, &file, &fast(), 5).await;

    assert_eq!(did[0], Did::Connected);
    assert_eq!(
        did[1],
        Did::Rang {
            command_id: "c1".into()
        }
    );
    assert!(
        matches!(&did[2], Did::Disconnected { attempt: 1, error, .. } if error.contains("reset")),
        "{:?}",
        did[2]
    );
    assert_eq!(did[3], Did::Connected);
    assert_eq!(
        did[4],
        Did::AnsweredAgain {
            command_id: "c1".into()
        }
    );
    let rang = did
        .iter()
        .filter(|did| matches!(did, Did::Rang { .. }))
        .count();
    assert_eq!(rang, 1, "rang once: {did:?}");
    let acknowledged = registry.acknowledged();
    assert_eq!(acknowledged.len(), 1, "{acknowledged:?}");
    assert_eq!(
        outcome(&acknowledged[0].0),
        &Outcome::Done(Default::default())
    );
}

#[tokio::test]
async fn not_now_is_answered_once_for_the_named_action_and_the_retry_is_obeyed() {
    let (_directory, file) = signed_in();
    let mut registry = FakeRegistry::new(
        &file,
        vec![Opening::Closes(vec![
            command("c1", Action::Ring(Ring {})),
            command("c2", Action::Locate(Locate {})),
            command("c1", Action::Ring(Ring {})),
        ])],
    );
    let options = RunOptions {
        not_now: vec![ActionKind::Ring],
        ..fast()
    };
    let (_, did) = run_for(&mut registry, &file, &options, 4).await;
    assert_eq!(
        did[1],
        Did::AnsweredNotNow {
            command_id: "c1".into(),
            action: ActionKind::Ring
        }
    );
    assert!(matches!(&did[2], Did::Located { command_id, .. } if command_id == "c2"));
    assert_eq!(
        did[3],
        Did::Rang {
            command_id: "c1".into()
        },
        "the retry runs: not now is not done"
    );
    let outcomes: Vec<(String, bool)> = registry
        .acknowledged()
        .iter()
        .map(|(request, _)| {
            (
                request.command_id.clone(),
                matches!(outcome(request), Outcome::NotNow(_)),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("c1".to_owned(), true),
            ("c2".to_owned(), false),
            ("c1".to_owned(), false)
        ]
    );
}

#[tokio::test]
async fn erase_is_acknowledged_first_then_the_state_file_is_deleted() {
    let (_directory, file) = signed_in();
    let erase = || command("e1", Action::Erase(Erase {}));
    let mut registry = FakeRegistry::new(
        &file,
        vec![
            Opening::Closes(vec![erase()]),
            Opening::Closes(vec![erase(), command("c9", Action::Ring(Ring {}))]),
        ],
    );
    // The first acknowledgement is lost: nothing may be erased before the registry has one.
    registry.acknowledgements_to_lose = 1;
    let (end, did) = run_for(&mut registry, &file, &fast(), usize::MAX).await;

    assert_eq!(end, RunEnd::Erased);
    assert!(matches!(did[1], Did::Disconnected { .. }), "{did:?}");
    assert_eq!(
        did.last(),
        Some(&Did::Erased {
            command_id: "e1".into()
        })
    );
    assert_eq!(
        registry.acknowledged(),
        [(
            AcknowledgeCommandRequest {
                command_id: "e1".into(),
                outcome: Some(Outcome::Done(Default::default())),
            },
            true
        )],
        "acknowledged done while the state still existed, and nothing after"
    );
    assert!(!file.path().exists(), "the state file is gone");
}

#[tokio::test]
async fn a_locate_without_a_position_or_an_unknown_action_fails_and_says_why() {
    let (_directory, file) = signed_in();
    let mut state = file.load().unwrap();
    state.position = None;
    file.save(&state).unwrap();
    let unknown = ChannelMessage {
        message: Some(Message::Command(Command {
            command_id: "c2".into(),
            action: Some(CommandAction { action: None }),
            ..Command::default()
        })),
    };
    let mut registry = FakeRegistry::new(
        &file,
        vec![Opening::Closes(vec![
            command("c1", Action::Locate(Locate {})),
            unknown,
        ])],
    );
    let (_, did) = run_for(&mut registry, &file, &fast(), 3).await;
    assert!(
        matches!(&did[1], Did::CouldNot { code, .. } if code == crate::LOCATION_UNAVAILABLE),
        "{did:?}"
    );
    assert!(
        matches!(&did[2], Did::CouldNot { code, .. } if code == crate::UNSUPPORTED_ACTION),
        "{did:?}"
    );
    let codes: Vec<String> = registry
        .acknowledged()
        .iter()
        .map(|(request, _)| match outcome(request) {
            Outcome::Failed(failed) => failed.error_code.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [crate::LOCATION_UNAVAILABLE, crate::UNSUPPORTED_ACTION]
    );
}

#[tokio::test]
async fn reconnection_backs_off_with_jitter_and_resets_after_a_good_connection() {
    let (_directory, file) = signed_in();
    let unreachable = || Opening::Refused(Status::unavailable("connection refused"));
    let mut registry = FakeRegistry::new(
        &file,
        vec![
            unreachable(),
            unreachable(),
            unreachable(),
            unreachable(),
            Opening::Closes(vec![]),
            unreachable(),
        ],
    );
    let (_, did) = run_for(&mut registry, &file, &fast(), 7).await;

    let mut waits = Vec::new();
    for (index, did) in did.iter().enumerate() {
        match did {
            Did::Disconnected {
                attempt, retry_in, ..
            } => waits.push((*attempt, *retry_in)),
            Did::Connected => assert_eq!(index, 4, "{did:?}"),
            other => panic!("{other:?}"),
        }
    }
    let attempts: Vec<u32> = waits.iter().map(|(attempt, _)| *attempt).collect();
    assert_eq!(
        attempts,
        [1, 2, 3, 4, 1, 2],
        "a good connection resets the count"
    );
    for ((attempt, retry_in), base_ms) in waits.iter().zip([10, 20, 40, 40, 10, 20]) {
        let base = Duration::from_millis(base_ms);
        assert!(
            *retry_in >= base / 2 && *retry_in <= base,
            "attempt {attempt}: {retry_in:?} is not within half of {base:?} and all of it"
        );
    }
}

#[test]
fn jitter_spreads_waits_between_half_and_all() {
    let wait = Duration::from_millis(1000);
    let waits: Vec<Duration> = (0..200).map(|_| with_jitter(wait)).collect();
    assert!(
        waits
            .iter()
            .all(|jittered| *jittered >= wait / 2 && *jittered <= wait)
    );
    let distinct: std::collections::HashSet<_> = waits.iter().collect();
    assert!(
        distinct.len() > 10,
        "spread out, not one value: {distinct:?}"
    );
}

#[tokio::test]
async fn a_stop_while_connected_ends_the_run() {
    let (_directory, file) = signed_in();
    let mut registry = FakeRegistry::new(&file, vec![]);
    let (end, did) = run_for(&mut registry, &file, &fast(), 1).await;
    assert_eq!(end, RunEnd::Stopped);
    assert_eq!(did, [Did::Connected]);
    assert!(file.path().exists());
}

#[tokio::test]
async fn a_channel_silent_past_the_limit_is_taken_for_dead_and_opened_again() {
    let (_directory, file) = signed_in();
    // No openings scripted: every channel opens and then says nothing at all.
    let mut registry = FakeRegistry::new(&file, vec![]);
    let options = RunOptions {
        silence_limit: Duration::from_millis(50),
        ..fast()
    };
    let (_, did) = run_for(&mut registry, &file, &options, 3).await;
    assert_eq!(did[0], Did::Connected);
    assert!(
        matches!(&did[1], Did::Disconnected { attempt: 1, error, .. } if error.contains("heartbeat")),
        "{did:?}"
    );
    assert_eq!(did[2], Did::Connected, "opened again");
}
