//! A bounded pool for CPU-heavy work (password hashing), kept off the async workers.
//!
//! Work runs on `spawn_blocking` threads, at most `threads` at a time; callers beyond that
//! wait their turn asynchronously, so a burst of sign-ins queues instead of starving the
//! runtime or spawning hundreds of threads.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Semaphore;

/// Runs CPU-heavy closures, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    threads: usize,
}

impl CpuPool {
    /// A pool running at most `threads` jobs at once; `None` means one per CPU core.
    pub fn new(threads: Option<usize>) -> Self {
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            threads,
        }
    }

    /// How many jobs run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on a blocking thread once a slot is free, and returns its result.
    pub async fn run<R, F>(&self, job: F) -> anyhow::Result<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let _permit = self.permits.acquire().await.context("cpu pool is closed")?;
        tokio::task::spawn_blocking(job)
            .await
            .context("cpu pool job panicked")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_bound_run_at_once() {
        let pool = CpuPool::new(Some(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let (pool, running, peak) = (pool.clone(), Arc::clone(&running), Arc::clone(&peak));
            tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            })
        });
        for job in jobs {
            job.await.expect("join").expect("run");
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
