//! Find Device commands under the same faults: phones played by the reference device agent
//! (its library, in-process) on accounts the suite signed up, each holding its command channel
//! open on one device-registry replica and moving to the other whenever the channel breaks, as
//! a phone behind a load balancer would; their owners ring them at a steady rate across both
//! replicas, each command under an id the client chose.
//!
//! Every accepted command must reach its phone, which runs it once (the agent remembers what
//! it acknowledged and answers a redelivery without running it again), and be acknowledged
//! done at the registry.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mi_device_agent::{Agent, Did, Endpoints, PhoneDescription, RunOptions};
use mi_proto::device::v1::command_action::Action;
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    CommandAction, CommandState, IssueCommandRequest, ListCommandsRequest, Ring,
};
use secrecy::SecretString;
use tokio::sync::mpsc::unbounded_channel;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::Channel;

use crate::sign_up_load::{SignedUp, lazy};
use crate::steady::{Answers, CALL_DEADLINE, at_rate};
use crate::support::authed;

/// One command an owner issued, and whose phone it is for.
#[derive(Debug, Clone)]
pub(crate) struct IssuedCommand {
    phone: usize,
    pub command_id: String,
}

/// One fault's commands, counted against what the phones did and what the registry shows.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CommandCount {
    /// IssueCommand calls answered OK.
    pub accepted: usize,
    /// Accepted commands their phone ran.
    pub received: usize,
    /// Accepted commands the registry shows succeeded (the acknowledgement reached it).
    pub done: usize,
    /// Deliveries of a command the phone had acknowledged already, answered again without
    /// running it: the registry sent it again (the acknowledgement was cut off, or the channel
    /// broke before it was recorded).
    pub redelivered: usize,
    /// Accepted commands a phone ran more than once.
    pub run_twice: usize,
}

impl CommandCount {
    /// Accepted commands no phone ran.
    pub(crate) fn lost(&self) -> usize {
        self.accepted - self.received
    }

    pub(crate) fn failed(&self) -> bool {
        self.lost() > 0 || self.run_twice > 0 || self.done < self.accepted
    }
}

/// What the phones did, by command id.
#[derive(Debug, Default)]
struct Deeds {
    /// Phones whose command channel has been open at least once.
    connected: HashSet<usize>,
    /// How often each command was run (rung).
    runs: HashMap<String, usize>,
    /// How often each command came again after it was acknowledged.
    answered_again: HashMap<String, usize>,
}

/// A phone the suite rings, and its owner's access token.
struct OwnedPhone {
    device_id: String,
    owner_access_token: String,
}

/// The phones, holding their channels open until this is dropped, and their owners' clients.
pub(crate) struct CommandLoad {
    registry: Vec<DeviceRegistryServiceClient<Channel>>,
    phones: Vec<OwnedPhone>,
    deeds: Arc<Mutex<Deeds>>,
    next_command: AtomicU64,
    // Dropping the load stops the phones; their state files go with the directory.
    _phones_stop: DropGuard,
    _state_files: tempfile::TempDir,
}

impl CommandLoad {
    /// Signs a phone in to each of `accounts` (phone `i` through replica `i % 2` of identity
    /// and of the registry), turns Find Device on once the registry has enrolled its key, and
    /// keeps its command channel open; all phones at once. Returns once every channel is open,
    /// or panics after `within`.
    pub(crate) async fn start(
        identity_urls: &[String],
        registry_urls: &[String],
        accounts: &[SignedUp],
        within: Duration,
    ) -> Self {
        let state_files = tempfile::tempdir().expect("a directory for the phones' state");
        let stop = CancellationToken::new();
        let deeds = Arc::new(Mutex::new(Deeds::default()));
        let mut device_ids = Vec::new();
        for (index, account) in accounts.iter().enumerate() {
            let path = state_files.path().join(format!("phone-{index}.json"));
            let agents: Vec<Agent> = registry_urls
                .iter()
                .map(|registry| {
                    let endpoints = Endpoints {
                        identity: identity_urls[index % identity_urls.len()].clone(),
                        registry: registry.clone(),
                    };
                    Agent::new(&path, endpoints)
                })
                .collect();
            let first = index % agents.len();
            let phone = Phone {
                index,
                agents,
                deeds: Arc::clone(&deeds),
            };
            let (send_device_id, device_id) = tokio::sync::oneshot::channel();
            let (phone_account, phone_stop) = (account.clone(), stop.clone());
            tokio::spawn(async move {
                let device_id = set_up(&phone.agents[first], &phone_account, index, within).await;
                let _ = send_device_id.send(device_id);
                phone.keep_open(first, phone_stop).await;
            });
            device_ids.push(device_id);
        }
        let mut phones = Vec::new();
        for (device_id, account) in device_ids.into_iter().zip(accounts) {
            phones.push(OwnedPhone {
                device_id: device_id
                    .await
                    .expect("a phone set up (its panic is above)"),
                owner_access_token: account.access_token.clone(),
            });
        }
        let since = tokio::time::Instant::now();
        while deeds.lock().expect("deeds").connected.len() < accounts.len() {
            assert!(
                since.elapsed() < within,
                "not every phone opened its command channel within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            registry: registry_urls
                .iter()
                .map(|url| DeviceRegistryServiceClient::new(lazy(url)))
                .collect(),
            phones,
            deeds,
            next_command: AtomicU64::new(0),
            _phones_stop: stop.drop_guard(),
            _state_files: state_files,
        }
    }

    /// Rings the phones in turn, `per_second` commands a second for `lasting`, each round of
    /// phones through the next registry replica (so a command often reaches its phone through
    /// the replica it was not issued on); then waits for the answers.
    pub(crate) async fn run(&self, per_second: u32, lasting: Duration) -> Answers<IssuedCommand> {
        at_rate("IssueCommand", per_second, lasting, || {
            let number = usize::try_from(self.next_command.fetch_add(1, Ordering::Relaxed))
                .expect("a count");
            let phone = number % self.phones.len();
            let replica = (number / self.phones.len()) % self.registry.len();
            let mut client = self.registry[replica].clone();
            let command_id = format!("ring-{number}");
            let mut request = authed(
                IssueCommandRequest {
                    device_id: self.phones[phone].device_id.clone(),
                    command_id: command_id.clone(),
                    action: Some(CommandAction {
                        action: Some(Action::Ring(Ring {})),
                    }),
                },
                &self.phones[phone].owner_access_token,
            );
            request.set_timeout(CALL_DEADLINE);
            async move {
                client.issue_command(request).await?;
                Ok(IssuedCommand { phone, command_id })
            }
        })
        .await
    }

    /// Whether every one of `accepted` was run by its phone and shows succeeded at the
    /// registry.
    pub(crate) async fn settled(&self, accepted: &[IssuedCommand]) -> bool {
        let all_run = {
            let deeds = self.deeds.lock().expect("deeds");
            accepted
                .iter()
                .all(|command| deeds.runs.contains_key(&command.command_id))
        };
        all_run && self.count(accepted).await.done == accepted.len()
    }

    /// Counts `accepted` against what the phones did and what the registry shows now.
    pub(crate) async fn count(&self, accepted: &[IssuedCommand]) -> CommandCount {
        let mut succeeded = HashSet::new();
        let phones: HashSet<usize> = accepted.iter().map(|command| command.phone).collect();
        for phone in phones {
            succeeded.extend(self.succeeded(&self.phones[phone]).await);
        }
        let deeds = self.deeds.lock().expect("deeds");
        let runs = |command: &IssuedCommand| {
            deeds
                .runs
                .get(&command.command_id)
                .copied()
                .unwrap_or_default()
        };
        CommandCount {
            accepted: accepted.len(),
            received: accepted.iter().filter(|command| runs(command) > 0).count(),
            done: accepted
                .iter()
                .filter(|command| succeeded.contains(&command.command_id))
                .count(),
            redelivered: accepted
                .iter()
                .filter_map(|command| deeds.answered_again.get(&command.command_id))
                .sum(),
            run_twice: accepted.iter().filter(|command| runs(command) > 1).count(),
        }
    }

    /// The ids of the phone's commands that succeeded, as the registry lists them; asks each
    /// replica in turn (one may be down), and lists none if no replica answers.
    async fn succeeded(&self, phone: &OwnedPhone) -> HashSet<String> {
        'replicas: for registry in self.registry.iter() {
            let mut succeeded = HashSet::new();
            let mut page_token = String::new();
            loop {
                let mut request = authed(
                    ListCommandsRequest {
                        device_id: phone.device_id.clone(),
                        page_size: 500,
                        page_token,
                    },
                    &phone.owner_access_token,
                );
                request.set_timeout(CALL_DEADLINE);
                let Ok(page) = registry.clone().list_commands(request).await else {
                    continue 'replicas;
                };
                let page = page.into_inner();
                succeeded.extend(
                    page.commands
                        .into_iter()
                        .filter(|command| command.state() == CommandState::Succeeded)
                        .map(|command| command.command_id),
                );
                if page.next_page_token.is_empty() {
                    return succeeded;
                }
                page_token = page.next_page_token;
            }
        }
        HashSet::new()
    }
}

/// Signs the phone in to `account` with a key of its own (identity links the device, the
/// registry enrolls the key from identity's event) and turns Find Device on, retrying until
/// the registry knows the key; returns its device id.
async fn set_up(agent: &Agent, account: &SignedUp, index: usize, within: Duration) -> String {
    let password = SecretString::from(account.password.clone());
    let phone = PhoneDescription {
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: format!("Fault suite phone {index}"),
        serial: None,
        push_token: String::new(),
    };
    let state = agent
        .sign_in(&account.email, &password, &phone, |challenge| async move {
            anyhow::bail!("no second factor was expected: {challenge:?}")
        })
        .await
        .expect("the phone signs in");
    let since = tokio::time::Instant::now();
    loop {
        match agent.set_find_device(true, None).await {
            Ok(device) if device.find_device_enabled => return state.device.device_id,
            answer => assert!(
                since.elapsed() < within,
                "phone {index} could not turn Find Device on within {within:?}: {answer:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One phone: an agent per registry replica, all on the same state file (so what it
/// acknowledged through one replica it remembers through the other).
struct Phone {
    index: usize,
    agents: Vec<Agent>,
    deeds: Arc<Mutex<Deeds>>,
}

impl Phone {
    /// Keeps the command channel open through replica `first`, and whenever the channel
    /// cannot be opened or breaks, after the agent's own backoff, through the next replica;
    /// until `stop`.
    async fn keep_open(self, first: usize, stop: CancellationToken) {
        let options = RunOptions::default();
        let mut replica = first;
        while !stop.is_cancelled() {
            let session = stop.child_token();
            let (did_sender, mut did) = unbounded_channel();
            let running = self.agents[replica].run_until(
                &options,
                session.clone().cancelled_owned(),
                did_sender,
            );
            let watching = async {
                let mut retry_in = Duration::ZERO;
                while let Some(deed) = did.recv().await {
                    if let Did::Disconnected { retry_in: wait, .. } = &deed {
                        retry_in = *wait;
                        session.cancel();
                    }
                    self.record(deed);
                }
                retry_in
            };
            let (ended, retry_in) = tokio::join!(running, watching);
            ended.expect("the phone's state file");
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(retry_in) => {}
            }
            replica = (replica + 1) % self.agents.len();
        }
    }

    fn record(&self, deed: Did) {
        let mut deeds = self.deeds.lock().expect("deeds");
        match deed {
            Did::Connected => {
                deeds.connected.insert(self.index);
            }
            Did::Rang { command_id } => *deeds.runs.entry(command_id).or_default() += 1,
            Did::AnsweredAgain { command_id } => {
                *deeds.answered_again.entry(command_id).or_default() += 1;
            }
            // Rings only: nothing else is asked of the phone.
            _ => {}
        }
    }
}
