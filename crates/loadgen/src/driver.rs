//! The load driver: N workers call one operation in a loop for a time, and every call's
//! latency goes into one histogram.

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
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let (mut succeeded, mut failed, mut first_error) = (0u64, 0u64, None);
            while Instant::now() < deadline {
                let iteration = started_calls.fetch_add(1, Ordering::Relaxed);
                if iteration >= max_calls {
                    break;
                }
                match call(worker, iteration).await {
                    Ok(latency) => {
                        succeeded += 1;
                        histogram.saturating_record(
                            u64::try_from(latency.as_micros())
                                .unwrap_or(u64::MAX)
                                .max(1),
                        );
                    }
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert(error);
                    }
                }
            }
            (histogram, succeeded, failed, first_error)
        }));
    }
    let mut report = Report {
        succeeded: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        first_error: None,
    };
    for worker in workers {
        let (histogram, succeeded, failed, first_error) = worker.await?;
        report.latency_us.add(histogram)?;
        report.succeeded += succeeded;
        report.failed += failed;
        if report.first_error.is_none() {
            report.first_error = first_error;
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}
