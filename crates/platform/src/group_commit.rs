//! Group commit: concurrent calls join one batch that one transaction writes, then all are
//! answered. A call waits for at most the transaction in flight plus its own, never for a timer:
//! under light load each batch holds one call, under heavy load a batch holds every call that
//! arrived while the previous one was being written, so throughput grows with load at the cost
//! of one commit per batch instead of one per call. Nothing is acknowledged before it is
//! committed (this is not a write-behind cache).

use std::sync::Arc;

use anyhow::anyhow;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::outage::{Dependency, Unreachable, unreachable_dependency};

/// How a batch is formed and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitSettings {
    /// The most calls one transaction writes.
    pub max_calls: usize,
    /// Calls waiting for a writer beyond which new calls wait to be queued (back-pressure).
    pub queue: usize,
    /// Transactions written at once (PostgreSQL commits several in parallel; SQLite has one
    /// writer anyway).
    pub writers: usize,
}

/// A failed batch, as each of its callers gets it: the error's text, and whether it was an
/// outage (the error itself is one, and cannot be cloned for every caller).
#[derive(Debug, Clone)]
struct Failed {
    message: String,
    outage: Option<Dependency>,
}

impl Failed {
    fn into_error(self) -> anyhow::Error {
        match self.outage {
            Some(dependency) => anyhow::Error::new(Unreachable(dependency)).context(self.message),
            None => anyhow!(self.message),
        }
    }
}

type Reply<R> = oneshot::Sender<Result<R, Failed>>;
/// The queue's receiving end, shared by the writers.
type Queue<J, R> = Arc<Mutex<mpsc::Receiver<(J, Reply<R>)>>>;

/// Submits jobs of type `J` to writers that write them in batches and answer each with an `R`.
#[derive(Debug)]
pub struct GroupCommit<J, R> {
    queue: mpsc::Sender<(J, Reply<R>)>,
}

impl<J: Send + 'static, R: Send + 'static> GroupCommit<J, R> {
    /// Starts `settings.writers` writers; `write` writes one batch in one transaction and
    /// returns each job's result in the jobs' order. The writers stop when this is dropped.
    pub fn start<W, F>(settings: GroupCommitSettings, write: W) -> Self
    where
        W: Fn(Vec<J>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = anyhow::Result<Vec<R>>> + Send + 'static,
    {
        let (queue, receiver) = mpsc::channel(settings.queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..settings.writers.max(1) {
            tokio::spawn(run_writer(
                Arc::clone(&receiver),
                settings.max_calls.max(1),
                write.clone(),
            ));
        }
        Self { queue }
    }

    /// Writes `job` with whatever other jobs are waiting; returns its result once committed.
    pub async fn submit(&self, job: J) -> anyhow::Result<R> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((job, reply))
            .await
            .map_err(|_| anyhow!("the group commit writers stopped"))?;
        answer
            .await
            .map_err(|_| anyhow!("the group commit writer dropped the call"))?
            .map_err(Failed::into_error)
    }
}

async fn run_writer<J, R, W, F>(receiver: Queue<J, R>, max_calls: usize, write: W)
where
    W: Fn(Vec<J>) -> F,
    F: Future<Output = anyhow::Result<Vec<R>>>,
{
    let mut batch = Vec::with_capacity(max_calls);
    loop {
        // One writer takes what is waiting while the others write theirs.
        let received = receiver.lock().await.recv_many(&mut batch, max_calls).await;
        if received == 0 {
            return;
        }
        let (jobs, replies): (Vec<J>, Vec<Reply<R>>) = batch.drain(..).unzip();
        match write(jobs).await {
            Ok(results) => {
                debug_assert_eq!(results.len(), replies.len(), "one result per job");
                for (reply, result) in replies.into_iter().zip(results) {
                    // A caller that gave up no longer listens; its job is written all the same.
                    let _ = reply.send(Ok(result));
                }
            }
            Err(error) => {
                let failed = Failed {
                    message: format!("{error:#}"),
                    outage: unreachable_dependency(&error),
                };
                tracing::warn!(error = %failed.message, calls = replies.len(), "group commit failed");
                for reply in replies {
                    let _ = reply.send(Err(failed.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn settings(max_calls: usize) -> GroupCommitSettings {
        GroupCommitSettings {
            max_calls,
            queue: 1000,
            writers: 1,
        }
    }

    #[tokio::test]
    async fn concurrent_calls_share_transactions_and_each_gets_its_own_result() {
        let transactions = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&transactions);
        let commit = Arc::new(GroupCommit::start(settings(64), move |jobs: Vec<u32>| {
            let counted = Arc::clone(&counted);
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                // A slow commit, so that calls pile up behind it.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(jobs.into_iter().map(|job| job * 2).collect())
            }
        }));
        let calls: Vec<_> = (0..200u32)
            .map(|job| {
                let commit = Arc::clone(&commit);
                tokio::spawn(async move { commit.submit(job).await })
            })
            .collect();
        for (job, call) in (0..200u32).zip(calls) {
            assert_eq!(call.await.unwrap().unwrap(), job * 2);
        }
        let written = transactions.load(Ordering::SeqCst);
        assert!(
            (4..200).contains(&written),
            "200 calls in batches of at most 64 took {written} transactions"
        );
    }

    #[tokio::test]
    async fn a_failed_transaction_fails_every_call_in_it() {
        let commit = GroupCommit::start(settings(8), |_jobs: Vec<u32>| async {
            Err::<Vec<u32>, _>(anyhow!("disk full"))
        });
        let refused = commit.submit(1).await.unwrap_err();
        assert!(refused.to_string().contains("disk full"), "{refused:#}");
        assert_eq!(unreachable_dependency(&refused), None, "not an outage");
    }

    /// A consumer retries an outage for as long as it lasts and dead-letters anything else:
    /// a batch that failed for an outage must read as one to each of its callers (it read as
    /// plain text, and a PostgreSQL outage dead-lettered notification's events).
    #[tokio::test]
    async fn an_outage_stays_an_outage_for_every_call_in_the_batch() {
        let commit = GroupCommit::start(settings(8), |_jobs: Vec<u32>| async {
            Err::<Vec<u32>, _>(anyhow::Error::new(sqlx::Error::PoolTimedOut).context("begin"))
        });
        let refused = commit.submit(1).await.unwrap_err();
        assert_eq!(
            unreachable_dependency(&refused),
            Some(Dependency::Database),
            "{refused:#}"
        );
        assert!(refused.to_string().contains("begin"), "{refused:#}");
    }
}
