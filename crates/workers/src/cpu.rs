//! A bounded pool for CPU-heavy work (password hashing), kept off the async workers.
//!
//! The pool owns `threads` OS threads that run at a lower scheduling priority (nice 10 on
//! Linux): when hashing saturates every core, the async workers still get the CPU as soon as
//! a request arrives, so cheap RPCs keep their latency. At most `threads` jobs are handed over
//! at once; further callers wait asynchronously, so a burst queues instead of piling up.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::sync::{Semaphore, oneshot};

use crate::jobs_gauge::CountedJob;

/// The `pool` label of this pool's jobs in `mi_worker_jobs`.
const POOL_NAME: &str = "cpu";

/// The nice value of the pool's threads: below the async workers, above idle.
const POOL_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Runs CPU-heavy closures on its own low-priority threads, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    jobs: SyncSender<Job>,
    threads: usize,
}

impl CpuPool {
    /// A pool of `threads` threads; `None` means one per CPU core.
    pub fn new(threads: Option<usize>) -> Self {
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        let (jobs, queue) = sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("cpu-pool-{index}"))
                .spawn(move || work(&queue));
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a cpu pool thread");
            }
        }
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            jobs,
            threads,
        }
    }

    /// How many jobs run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on a pool thread once one is free, and returns its result.
    pub async fn run<R, F>(&self, job: F) -> anyhow::Result<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let waiting = CountedJob::new(POOL_NAME, "waiting");
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .context("cpu pool is closed")?;
        drop(waiting);
        let running = CountedJob::new(POOL_NAME, "running");
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Held until the job is done, not until the caller stops waiting: a caller that
            // goes away (a cancelled RPC) must not free a slot its job still takes.
            let _permit = permit;
            let _running = running;
            // The caller may have gone away; then nobody needs the result.
            let _ = done.send(job());
        });
        // Never blocks: every queued or running job holds one of `threads` permits, so the
        // channel of `threads` slots has room.
        self.jobs.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => anyhow::anyhow!("cpu pool queue is full"),
            TrySendError::Disconnected(_) => anyhow::anyhow!("cpu pool threads are gone"),
        })?;
        result.await.context("cpu pool job panicked")
    }
}

/// A pool thread: lower its priority, then run jobs until the pool is dropped.
fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else {
            return;
        };
        // A panicking job drops its result sender; the caller sees the error, the thread lives.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value alone.
    let thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(thread), POOL_NICENESS) {
        tracing::warn!(%error, "cannot lower the cpu pool thread priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_bound_run_at_once() {
        let pool = CpuPool::new(Some(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
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
            })
            .collect();
        for job in jobs {
            job.await.expect("join").expect("run");
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_goes_on() {
        let pool = CpuPool::new(Some(1));
        let failed = pool.run(|| panic!("boom")).await;
        assert!(failed.is_err());
        assert_eq!(pool.run(|| 7).await.expect("run"), 7);
    }

    /// Found by the gRPC fuzzer (docs/fuzzing.md): RPCs cancelled while their hash ran freed
    /// their slot early, and the next callers got INTERNAL ("threads are gone").
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_that_give_up_do_not_overfill_the_queue() {
        let pool = CpuPool::new(Some(1));
        for _ in 0..2 {
            let slow = pool.run(|| std::thread::sleep(std::time::Duration::from_millis(300)));
            let gave_up = tokio::time::timeout(std::time::Duration::from_millis(30), slow).await;
            assert!(gave_up.is_err());
        }
        assert_eq!(pool.run(|| 7).await.expect("run"), 7);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn pool_threads_run_below_normal_priority() {
        let pool = CpuPool::new(Some(1));
        let nice = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("run")
            .expect("getpriority");
        assert_eq!(nice, POOL_NICENESS);
    }
}
