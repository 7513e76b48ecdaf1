//! The account snapshot backfill. Other services project accounts from identity's events (the
//! device registry keeps each account's alert audience and whether it has a second factor, which
//! an erase then requires); a projection that started after an account's events left the topic
//! (retention, or a service deployed later) never heard of it. So identity publishes one
//! `AccountSnapshot` per existing account, once per [`SNAPSHOT_VERSION`], from a background job
//! every replica starts: the store hands out batches under a claim only one replica holds at a
//! time, and remembers the last Mi ID done, so a crash resumes where it stopped. New accounts
//! need no snapshot: their own events (SignedIn at sign-up) carry the same facts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mi_contracts::UnixMillis;
use mi_platform::backoff::Backoff;
use tokio_util::sync::CancellationToken;

/// Raise it to publish every account's snapshot once more, e.g. when a new consumer needs the
/// projection from scratch or the snapshot carries a new field.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Accounts per transaction: large enough that a million accounts take 2,000 transactions,
/// small enough that a batch holds its accounts' row locks for milliseconds.
pub const SNAPSHOT_BATCH_SIZE: u32 = 500;

/// How long a claim stays another replica's after its last batch: past it, a replica that
/// died mid-backfill is taken over.
pub const SNAPSHOT_CLAIM_LEASE: Duration = Duration::from_secs(30);

/// One batch the store is asked to publish.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotBatch<'a> {
    /// Which backfill.
    pub version: u32,
    /// Who asks: the claim's holder, unique per running replica.
    pub worker: &'a str,
    /// At most this many accounts.
    pub size: u32,
    /// The current time, which the lease counts from.
    pub now: UnixMillis,
    /// How long the claim stays this worker's after this batch.
    pub lease: Duration,
}

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Snapshots of this many accounts were published; `finished` once none are left.
    Published {
        /// How many accounts.
        accounts: u32,
        /// The backfill of this version is complete.
        finished: bool,
    },
    /// The backfill of this version was complete already.
    Finished,
    /// Another worker holds the claim and its lease has not run out.
    ClaimedElsewhere,
}

/// Where the backfill's progress is kept, and the accounts it reads.
#[async_trait]
pub trait SnapshotStore: Send + Sync + std::fmt::Debug {
    /// In one transaction: claims (or renews) the backfill of `batch.version` for
    /// `batch.worker`, writes the snapshots of the next accounts after the last Mi ID done to
    /// the outbox, and records the new last Mi ID (and the end, when none are left).
    async fn publish_snapshot_batch(
        &self,
        batch: &SnapshotBatch<'_>,
    ) -> anyhow::Result<BatchOutcome>;
}

/// The backfill one replica runs at startup.
#[derive(Debug, Clone)]
pub struct SnapshotBackfill {
    store: Arc<dyn SnapshotStore>,
    worker: String,
    retry: Backoff,
}

impl SnapshotBackfill {
    /// A backfill over `store`, as a worker of its own.
    pub fn new(store: Arc<dyn SnapshotStore>) -> Self {
        Self {
            store,
            worker: uuid::Uuid::now_v7().to_string(),
            retry: Backoff::infrastructure(SNAPSHOT_CLAIM_LEASE),
        }
    }

    /// Publishes batches until the backfill of [`SNAPSHOT_VERSION`] is complete (here or on
    /// another replica) or `shutdown`. While another replica holds the claim it waits a lease
    /// and asks again, so it takes over if that replica dies; a failed batch is retried with
    /// backoff.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (mut published, mut failures) = (0_u64, 0_u32);
        while !shutdown.is_cancelled() {
            let batch = SnapshotBatch {
                version: SNAPSHOT_VERSION,
                worker: &self.worker,
                size: SNAPSHOT_BATCH_SIZE,
                now: UnixMillis::now(),
                lease: SNAPSHOT_CLAIM_LEASE,
            };
            let pause = match self.store.publish_snapshot_batch(&batch).await {
                Ok(BatchOutcome::Published { accounts, finished }) => {
                    failures = 0;
                    published += u64::from(accounts);
                    if finished {
                        tracing::info!(
                            version = SNAPSHOT_VERSION,
                            accounts = published,
                            "account snapshots published"
                        );
                        return Ok(());
                    }
                    continue;
                }
                Ok(BatchOutcome::Finished) => return Ok(()),
                Ok(BatchOutcome::ClaimedElsewhere) => SNAPSHOT_CLAIM_LEASE,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(
                        error = %format!("{error:#}"),
                        failures,
                        "cannot publish account snapshots"
                    );
                    self.retry.after(failures)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(pause) => {}
            }
        }
        Ok(())
    }
}
