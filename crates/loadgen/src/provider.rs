//! The code-to-provider scenario: mi-loadgen plays the HTTP SMS provider (the `POST` of JSON
//! that notification's `http` SMS transport sends; see `crates/notification/src/transports/http.rs`),
//! sends SendCode at a fixed rate whatever the answers take (open loop), and times each code
//! from SendCode's reply to the provider's request for it. It also counts requests that repeat
//! an idempotency key (a message sent twice).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Json, State};
use axum::http::StatusCode;
use axum::routing::post;
use hdrhistogram::Histogram;
use mi_proto::verification::v1::verification_service_client::VerificationServiceClient;
use rand::Rng;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::verification::{destination, send_request};
use crate::{Args, channels_to, driver};

/// Destinations of this scenario start here, clear of the other verification scenarios' (a
/// destination sent to again would meet its resend cooldown).
const DESTINATION_OFFSET: u64 = 800_000;

/// The warm-up's destination, below the run's.
const WARM_UP_DESTINATION: u64 = DESTINATION_OFFSET - 1;
/// How long the warm-up waits for its code.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a code may take to reach the provider before it counts as lost.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the provider reads of a request.
#[derive(Debug, Deserialize)]
struct ProviderRequest {
    idempotency_key: String,
    destination: String,
}

/// The provider's side: who waits for which destination, and what arrived.
#[derive(Debug, Default)]
struct Receiver {
    /// Per destination, the call waiting for its message.
    waiting: Mutex<HashMap<String, oneshot::Sender<Instant>>>,
    /// Every idempotency key received.
    keys: Mutex<HashSet<String>>,
    /// Requests that repeated a key already received.
    duplicates: AtomicU64,
}

impl Receiver {
    fn expect(&self, destination: &str) -> oneshot::Receiver<Instant> {
        let (sender, arrival) = oneshot::channel();
        lock(&self.waiting).insert(destination.to_owned(), sender);
        arrival
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Json(request): Json<ProviderRequest>,
) -> StatusCode {
    let arrived = Instant::now();
    if !lock(&receiver.keys).insert(request.idempotency_key) {
        receiver.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(waiter) = lock(&receiver.waiting).remove(&request.destination) {
        // The call may have given up already; its message then counts as lost.
        let _ = waiter.send(arrived);
    }
    StatusCode::OK
}

/// One SendCode and its message: SendCode's latency, then the time from its reply to the
/// provider's request (or why there was none).
type Outcome = (Duration, Result<Duration, String>, Option<Instant>);

/// Runs the scenario and prints its report.
pub(crate) async fn code_to_provider(args: &Args) -> anyhow::Result<()> {
    let rate = args.rate.unwrap_or(DEFAULT_RATE);
    anyhow::ensure!(rate > 0.0, "--rate must be above 0");
    let receiver = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind(args.provider_listen).await?;
    let app = Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .with_state(Arc::clone(&receiver));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let run: u32 = rand::rng().random_range(0..100);
    let channels = Arc::new(channels_to(&args.verification, args.connections).await?);
    warm_up(&receiver, &channels[0], run).await?;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    // Open loop: calls late because the machine stalled are sent at once, not dropped.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let sending_until = started + Duration::from_secs(args.seconds);
    let mut calls: JoinSet<Outcome> = JoinSet::new();
    let mut iteration: u64 = 0;
    while Instant::now() < sending_until {
        ticker.tick().await;
        let destination = destination(run, DESTINATION_OFFSET + iteration);
        let arrival = receiver.expect(&destination);
        let mut client = VerificationServiceClient::new(
            channels[usize::try_from(iteration).unwrap_or(0) % channels.len()].clone(),
        );
        let request = send_request(&destination, DESTINATION_OFFSET + iteration);
        calls.spawn(async move {
            let sent = Instant::now();
            if let Err(status) = client.send_code(request).await {
                return (sent.elapsed(), Err(format!("SendCode: {status}")), None);
            }
            let replied = Instant::now();
            let delivery = match tokio::time::timeout(DELIVERY_TIMEOUT, arrival).await {
                Ok(Ok(arrived)) => Ok(arrived),
                _ => Err(format!("not at the provider within {DELIVERY_TIMEOUT:?}")),
            };
            (
                replied - sent,
                delivery.map(|arrived| arrived.saturating_duration_since(replied)),
                Some(replied),
            )
        });
        iteration += 1;
    }
    let sending_took = started.elapsed();

    let mut send_latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut report = driver::Report::new()?;
    let mut accepted: u64 = 0;
    let mut last_arrival = started;
    while let Some(joined) = calls.join_next().await {
        let (send_took, delivery, replied) = joined?;
        send_latency.saturating_record(micros(send_took));
        accepted += u64::from(replied.is_some());
        if let (Ok(latency), Some(replied)) = (&delivery, replied) {
            last_arrival = last_arrival.max(replied + *latency);
        }
        report.record(delivery);
    }
    report.elapsed = last_arrival.saturating_duration_since(started);
    report.print("CodeToProvider (SendCode reply to provider request)");
    let ms = |histogram: &Histogram<u64>, quantile: f64| {
        histogram.value_at_quantile(quantile) as f64 / 1000.0
    };
    let lines = [
        format!("target rate   {rate:.0} /s"),
        format!(
            "sendcode      {accepted} accepted of {iteration}, {:.0} /s, p50 {:.2} ms, p99 {:.2} ms",
            accepted as f64 / sending_took.as_secs_f64(),
            ms(&send_latency, 0.50),
            ms(&send_latency, 0.99),
        ),
        format!(
            "delivered     {:.0} /s (first SendCode to last provider request)",
            report.throughput()
        ),
        format!(
            "duplicates    {}",
            receiver.duplicates.load(Ordering::Relaxed)
        ),
    ];
    #[allow(clippy::print_stdout)] // the report is this program's output
    {
        println!("{}", lines.join("\n"));
    }
    Ok(())
}

/// Sends one code and waits until it reaches the provider: a platform just started has its
/// consumers still joining their groups (seconds on tansu), which is not what a steady rate
/// of codes meets. Untimed; the destination is one the run does not use.
async fn warm_up(
    receiver: &Receiver,
    channel: &tonic::transport::Channel,
    run: u32,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let destination = destination(run, WARM_UP_DESTINATION);
    let arrival = receiver.expect(&destination);
    VerificationServiceClient::new(channel.clone())
        .send_code(send_request(&destination, WARM_UP_DESTINATION))
        .await
        .map_err(|status| anyhow::anyhow!("warm-up SendCode: {status}"))?;
    tokio::time::timeout(WARM_UP_TIMEOUT, arrival)
        .await
        .map_err(|_| {
            anyhow::anyhow!("no code reached the provider within {WARM_UP_TIMEOUT:?}")
        })??;
    #[allow(clippy::print_stdout)] // the report is this program's output
    {
        println!(
            "warm-up       first code at the provider {:.1} s after it was sent (untimed)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// SendCode calls a second unless `--rate` says otherwise: issue 13's target rate.
const DEFAULT_RATE: f64 = 500.0;

/// Where the provider listens unless told otherwise; notification's
/// `MI_NOTIFICATION__HTTP_PROVIDER__URL` must point here.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 18080);
