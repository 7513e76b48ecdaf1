//! The load driver: N workers call one operation in a loop for a time (closed loop), or calls
//! start at a fixed rate whatever the answers take (open loop); every call's latency goes into
//! one histogram.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// Successful calls.
    pub succeeded: u64,
    /// Failed calls (not in the latency histogram).
    pub failed: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of successful calls, in microseconds.
    pub latency_us: Histogram<u64>,
    /// The first error seen, to explain failures.
    pub first_error: Option<String>,
}

impl Report {
    pub(crate) fn new() -> anyhow::Result<Self> {
        Ok(Self {
            succeeded: 0,
            failed: 0,
            elapsed: Duration::ZERO,
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            first_error: None,
        })
    }

    /// Counts one call: its latency, or why it failed.
    pub(crate) fn record(&mut self, outcome: Result<Duration, String>) {
        match outcome {
            Ok(latency) => {
                self.succeeded += 1;
                self.latency_us.saturating_record(
                    u64::try_from(latency.as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1),
                );
            }
            Err(error) => {
                self.failed += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    /// Successful calls per second.
    pub(crate) fn throughput(&self) -> f64 {
        self.succeeded as f64 / self.elapsed.as_secs_f64()
    }

    /// Prints one line per figure, the format docs/benchmarks.md quotes.
    pub(crate) fn print(&self, name: &str) {
        let percentile =
            |quantile: f64| self.latency_us.value_at_quantile(quantile) as f64 / 1000.0;
        let lines = [
            format!("scenario      {name}"),
            format!("succeeded     {}", self.succeeded),
            format!("failed        {}", self.failed),
            format!("elapsed       {:.2} s", self.elapsed.as_secs_f64()),
            format!("throughput    {:.0} /s", self.throughput()),
            format!("p50           {:.2} ms", percentile(0.50)),
            format!("p99           {:.2} ms", percentile(0.99)),
            format!("p999          {:.2} ms", percentile(0.999)),
            format!(
                "max           {:.2} ms",
                self.latency_us.max() as f64 / 1000.0
            ),
        ];
        let mut out = lines.join("\n");
        if let Some(error) = &self.first_error {
            out.push_str(&format!("\nfirst error   {error}"));
        }
        #[allow(clippy::print_stdout)] // the report is this program's output
        {
            println!("{out}");
        }
    }
}

/// How calls are started.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// By this many clients, each as soon as its previous call is answered ([`run`]).
    Closed(usize),
    /// This many a second whatever the answers take ([`paced`]).
    Open(f64),
}

/// Runs `call(iteration)` at `pace` for `duration`.
pub(crate) async fn run_at<F, Fut>(
    pace: Pace,
    duration: Duration,
    call: F,
) -> anyhow::Result<Report>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Duration, String>> + Send + 'static,
{
    match pace {
        Pace::Closed(concurrency) => {
            run(concurrency, duration, u64::MAX, move |_, iteration| {
                call(iteration)
            })
            .await
        }
        Pace::Open(rate) => paced(rate, duration, call).await,
    }
}

/// Runs `call(worker, iteration)` from `concurrency` workers until `duration` has passed or
/// `max_calls` calls were started; `call` returns the latency it measured itself.
pub(crate) async fn run<F, Fut>(
    concurrency: usize,
    duration: Duration,
    max_calls: u64,
    call: F,
) -> anyhow::Result<Report>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Duration, String>> + Send,
{
    let call = Arc::new(call);
    let started_calls = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let call = Arc::clone(&call);
        let started_calls = Arc::clone(&started_calls);
        workers.push(tokio::spawn(async move {
            let mut report = Report::new()?;
            while Instant::now() < deadline {
                let iteration = started_calls.fetch_add(1, Ordering::Relaxed);
                if iteration >= max_calls {
                    break;
                }
                report.record(call(worker, iteration).await);
            }
            anyhow::Ok(report)
        }));
    }
    let mut report = Report::new()?;
    for worker in workers {
        let worker = worker.await??;
        report.latency_us.add(worker.latency_us)?;
        report.succeeded += worker.succeeded;
        report.failed += worker.failed;
        if report.first_error.is_none() {
            report.first_error = worker.first_error;
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Starts `call(iteration)` `rate` times a second for `duration` whatever the answers take (an
/// open loop: slow answers do not slow the arrivals down, as with people), then waits for
/// every call; `call` returns the latency it measured itself. Unlike a closed loop, this
/// measures latency at a load the platform has room for.
pub(crate) async fn paced<F, Fut>(rate: f64, duration: Duration, call: F) -> anyhow::Result<Report>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<Duration, String>> + Send + 'static,
{
    anyhow::ensure!(rate > 0.0, "--rate must be above 0");
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    // Calls late because the machine stalled are started at once, not dropped.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let deadline = start + duration;
    let mut calls = tokio::task::JoinSet::new();
    let mut iteration = 0;
    while Instant::now() < deadline {
        ticker.tick().await;
        calls.spawn(call(iteration));
        iteration += 1;
    }
    let mut report = Report::new()?;
    while let Some(outcome) = calls.join_next().await {
        report.record(outcome?);
    }
    report.elapsed = start.elapsed();
    Ok(report)
}
