//! Find Device scenarios (issue 12's speed targets), on phones enrolled untimed before the run:
//!
//! - `command-to-device`: every phone keeps its command channel open, each on a connection of
//!   its own (to `--device-replica` when given, so that commands cross replicas); owners issue
//!   Ring commands and each is timed from the IssueCommand call until the phone's channel
//!   delivers it. The phone then acknowledges it, as a phone would.
//! - `idle-channels`: every phone opens its command channel and stays silent; the platform's
//!   RSS before and after, per connection.
//! - `command-to-push`: no phone is connected; each command is timed from the IssueCommand
//!   call until the push provider (this program, listening on `--push-listen` as an FCM-shaped
//!   HTTP endpoint) is asked to wake the phone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    AcknowledgeCommandRequest, CommandAction, CommandDone, IssueCommandRequest,
    OpenCommandChannelRequest, Ring, acknowledge_command_request, channel_message, command_action,
};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::cpu;
use crate::driver::{self, Pace, Report};
use crate::identity::Prepared;
use crate::phones::{Phone, bearer};

/// How long a command may take to arrive before the call counts as failed.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Channels opened at once while phones connect.
const CONNECTING_AT_ONCE: usize = 64;

/// Commands issued and not yet seen where they go, each with whoever waits for it.
#[derive(Debug, Default)]
struct Arrivals {
    waiting: Mutex<HashMap<String, oneshot::Sender<Instant>>>,
}

impl Arrivals {
    /// Waits for `command_id`; register before issuing it, which may arrive first.
    fn expect(&self, command_id: &str) -> oneshot::Receiver<Instant> {
        let (sender, receiver) = oneshot::channel();
        self.lock().insert(command_id.to_owned(), sender);
        receiver
    }

    /// `command_id` arrived `at`; a command nobody waits for (a redelivery) is ignored.
    fn arrived(&self, command_id: &str, at: Instant) {
        if let Some(sender) = self.lock().remove(command_id) {
            let _ = sender.send(at);
        }
    }

    fn forget(&self, command_id: &str) {
        self.lock().remove(command_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Instant>>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Owners ring their phones over `owners` at `pace`; each call is timed until the command
/// arrives where `arrivals` hears of it (a phone's channel or the push endpoint).
async fn ring_phones(
    owners: Arc<Vec<Channel>>,
    accounts: Arc<Vec<Prepared>>,
    phones: Arc<Vec<Phone>>,
    arrivals: Arc<Arrivals>,
    pace: Pace,
    duration: Duration,
) -> anyhow::Result<Report> {
    driver::run_at(pace, duration, move |iteration| {
        let index = usize::try_from(iteration).unwrap_or(0);
        let mut registry = DeviceRegistryServiceClient::new(owners[index % owners.len()].clone());
        let (phones, accounts, arrivals) = (
            Arc::clone(&phones),
            Arc::clone(&accounts),
            Arc::clone(&arrivals),
        );
        async move {
            let phone = &phones[index % phones.len()];
            let command_id = uuid::Uuid::new_v4().simple().to_string();
            let request = bearer(
                IssueCommandRequest {
                    device_id: phone.device_id.clone(),
                    command_id: command_id.clone(),
                    action: Some(CommandAction {
                        action: Some(command_action::Action::Ring(Ring {})),
                    }),
                },
                &accounts[phone.account].tokens.access_token,
            )
            .map_err(|error| error.to_string())?;
            let arrival = arrivals.expect(&command_id);
            let start = Instant::now();
            if let Err(status) = registry.issue_command(request).await {
                arrivals.forget(&command_id);
                return Err(format!("IssueCommand: {status}"));
            }
            match tokio::time::timeout(ARRIVAL_TIMEOUT, arrival).await {
                Ok(Ok(at)) => Ok(at.duration_since(start)),
                _ => {
                    arrivals.forget(&command_id);
                    Err(format!("command not there within {ARRIVAL_TIMEOUT:?}"))
                }
            }
        }
    })
    .await
}

/// Opens every phone's command channel, each on a connection of its own to `endpoint`; the
/// tasks in the returned set read the channels until they are dropped. A command that arrives
/// is told to `arrivals` and acknowledged done.
async fn connect(
    endpoint: &str,
    phones: &Arc<Vec<Phone>>,
    arrivals: &Arc<Arrivals>,
) -> anyhow::Result<JoinSet<()>> {
    let endpoint = Endpoint::from_shared(endpoint.to_owned())?;
    let streams: Vec<_> = futures::stream::iter(0..phones.len())
        .map(|index| {
            let endpoint = endpoint.clone();
            let phones = Arc::clone(phones);
            async move {
                let channel = endpoint.connect().await.context("connecting a phone")?;
                let mut registry = DeviceRegistryServiceClient::new(channel);
                let stream = registry
                    .open_command_channel(phones[index].request(OpenCommandChannelRequest {})?)
                    .await
                    .context("OpenCommandChannel")?
                    .into_inner();
                anyhow::Ok((index, registry, stream))
            }
        })
        .buffer_unordered(CONNECTING_AT_ONCE)
        .try_collect()
        .await?;
    let mut readers = JoinSet::new();
    for (index, registry, mut stream) in streams {
        let (phones, arrivals) = (Arc::clone(phones), Arc::clone(arrivals));
        readers.spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Some(channel_message::Message::Command(command)) = message.message else {
                    continue;
                };
                arrivals.arrived(&command.command_id, Instant::now());
                let Ok(request) = phones[index].request(AcknowledgeCommandRequest {
                    command_id: command.command_id,
                    outcome: Some(acknowledge_command_request::Outcome::Done(CommandDone {
                        location: None,
                    })),
                }) else {
                    continue;
                };
                // Off the reading loop: the next command is not held up by this answer.
                let mut registry = registry.clone();
                tokio::spawn(async move { registry.acknowledge_command(request).await });
            }
        });
    }
    Ok(readers)
}

/// `command-to-device`: phones connected to `device_endpoint`, owners on `owners`.
pub(crate) async fn command_to_device(
    owners: Arc<Vec<Channel>>,
    device_endpoint: &str,
    accounts: Arc<Vec<Prepared>>,
    phones: Arc<Vec<Phone>>,
    pace: Pace,
    duration: Duration,
) -> anyhow::Result<Report> {
    let arrivals = Arc::new(Arrivals::default());
    let readers = connect(device_endpoint, &phones, &arrivals).await?;
    say(&format!(
        "connected     {} phones to {device_endpoint}",
        readers.len()
    ));
    ring_phones(owners, accounts, phones, arrivals, pace, duration).await
}

/// `idle-channels`: the platform's RSS (`rss` reads it) before and after every phone opens its
/// channel and after `duration` of silence.
pub(crate) async fn idle_channels(
    device_endpoint: &str,
    phones: Arc<Vec<Phone>>,
    duration: Duration,
    rss: impl Fn() -> Option<u64>,
) -> anyhow::Result<()> {
    let before = rss().context("--platform-pid is needed to read the platform's RSS")?;
    let started = Instant::now();
    let readers = connect(device_endpoint, &phones, &Arc::new(Arrivals::default())).await?;
    let open_time = started.elapsed();
    let open = readers.len() as u64;
    // What idle channels cost in CPU: heartbeats, and each channel's fallback poll.
    let idle = cpu::Sample::now();
    tokio::time::sleep(duration).await;
    let after = rss().context("the platform went away")?;
    let mut readers = readers;
    let mut finished = 0;
    while readers.try_join_next().is_some() {
        finished += 1;
    }
    let growth = after.saturating_sub(before);
    say(&format!(
        "channels      {open} opened in {:.1} s, {finished} of them closed by the end",
        open_time.as_secs_f64()
    ));
    say(&format!(
        "platform rss  {:.1} MiB before, {:.1} MiB after {} s idle: +{:.1} MiB, {} bytes per channel",
        mib(before),
        mib(after),
        duration.as_secs(),
        mib(growth),
        growth / open.max(1)
    ));
    idle.print_since(0);
    anyhow::ensure!(finished == 0, "{finished} channels closed while idle");
    Ok(())
}

/// `command-to-push`: nothing connected; the push endpoint on `listen` hears of each command.
pub(crate) async fn command_to_push(
    owners: Arc<Vec<Channel>>,
    listen: SocketAddr,
    accounts: Arc<Vec<Prepared>>,
    phones: Arc<Vec<Phone>>,
    pace: Pace,
    duration: Duration,
) -> anyhow::Result<Report> {
    let arrivals = Arc::new(Arrivals::default());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening for pushes on {listen}"))?;
    let heard = Arc::clone(&arrivals);
    let app = axum::Router::new().fallback(axum::routing::post(
        move |axum::Json(push): axum::Json<serde_json::Value>| {
            let heard = Arc::clone(&heard);
            async move {
                let at = Instant::now();
                if let Some(command_id) = push["message"]["data"]["command_id"].as_str() {
                    heard.arrived(command_id, at);
                }
                axum::http::StatusCode::OK
            }
        },
    ));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let report = ring_phones(owners, accounts, phones, arrivals, pace, duration).await;
    server.abort();
    report
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn say(line: &str) {
    #[allow(clippy::print_stdout)] // the report is this program's output
    {
        println!("{line}");
    }
}
