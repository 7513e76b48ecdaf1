//! Wake-ups across replicas: a writer says "something changed under `key`" inside its
//! transaction, and every task of every replica waiting on that key wakes once it commits.
//!
//! A waiter [`Wake::subscribe`]s before it reads, then [`Subscription::wait`]s: it returns when
//! the key was signalled since the last wait (no signal between the read and the wait is lost),
//! at the waiter's own deadline, or after the fallback poll at the latest, so a missed signal
//! (a listener reconnecting) delays a waiter by at most one poll and never strands it.
//!
//! On PostgreSQL, [`Wake::notify`] is `pg_notify(channel, key)` in the writer's transaction
//! (delivered at commit, dropped on rollback), and one `LISTEN` connection per process
//! ([`Wake::listen`], reconnecting on error) fans signals out to the process's waiters. On
//! SQLite (embedded mode: one process) [`Wake::committed`] signals the waiters after commit.
//! Writers call both; each does nothing where the other applies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Wake-ups on one notification channel; cheap to clone.
#[derive(Debug, Clone)]
pub struct Wake {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    channel: String,
    postgres: bool,
    fallback_poll: Duration,
    /// One sender per key someone waits on, counting signals.
    waiters: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Wake {
    /// Wake-ups on `channel` (a PostgreSQL identifier), through PostgreSQL when `postgres`;
    /// waiters poll every `fallback_poll` at the latest.
    pub fn new(channel: &str, postgres: bool, fallback_poll: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                channel: channel.to_owned(),
                postgres,
                fallback_poll,
                waiters: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Signals `key` when the transaction on `connection` commits (PostgreSQL; nothing on
    /// SQLite).
    pub async fn notify(&self, connection: &mut AnyConnection, key: &str) -> sqlx::Result<()> {
        if self.inner.postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.inner.channel)
                .bind(key)
                .execute(connection)
                .await?;
        }
        Ok(())
    }

    /// Signals `key` in this process after a commit (SQLite; on PostgreSQL the listener does).
    pub fn committed(&self, key: &str) {
        if !self.inner.postgres {
            self.signal(key);
        }
    }

    /// A waiter on `key`; subscribe before reading what the key guards.
    pub fn subscribe(&self, key: &str) -> Subscription {
        let mut waiters = self.waiters();
        let receiver = waiters
            .entry(key.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Subscription {
            wake: self.clone(),
            key: key.to_owned(),
            receiver,
        }
    }

    /// Fans PostgreSQL notifications on the channel out to this process's waiters until
    /// `shutdown`, reconnecting after errors (every waiter is woken then, for what it missed).
    pub async fn listen(self, url: String, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let listening = async {
                let mut listener = PgListener::connect(&url).await?;
                listener.listen(&self.inner.channel).await?;
                self.signal_all();
                loop {
                    // `None`: the connection dropped and sqlx reconnects; signals may be lost.
                    match listener.try_recv().await? {
                        Some(notification) => self.signal(notification.payload()),
                        None => self.signal_all(),
                    }
                }
            };
            let failed: anyhow::Result<()> = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                failed = listening => failed,
            };
            if let Err(error) = failed {
                tracing::warn!(error = format!("{error:#}"), channel = %self.inner.channel,
                    "wake listener failed; reconnecting");
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn signal(&self, key: &str) {
        if let Some(sender) = self.waiters().get(key) {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }

    fn signal_all(&self) {
        for sender in self.waiters().values() {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        // A panic while holding the map leaves it consistent: every operation is one call.
        self.inner
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One waiter on one key.
#[derive(Debug)]
pub struct Subscription {
    wake: Wake,
    key: String,
    receiver: watch::Receiver<u64>,
}

impl Subscription {
    /// Returns when the key was signalled since the last wait, at `until`, or after the
    /// fallback poll, whichever comes first.
    pub async fn wait(&mut self, until: tokio::time::Instant) {
        let poll = tokio::time::Instant::now() + self.wake.inner.fallback_poll;
        self.wait_until(until.min(poll)).await;
    }

    /// Returns when the key was signalled since the last wait, or at `until`, without the
    /// fallback poll: for a waiter that looks again by `until` anyway (a command channel at
    /// its heartbeat), for which the poll would only add reads. A signal lost while the
    /// listener reconnects wakes every waiter, so only a waiter's own `until` bounds the rest.
    pub async fn wait_until(&mut self, until: tokio::time::Instant) {
        // The sender lives as long as any subscription of its key, so this never errs.
        let _ = tokio::time::timeout_at(until, self.receiver.changed()).await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiters = self.wake.waiters();
        // This receiver is still counted: the key goes with its last waiter.
        if waiters
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            waiters.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_after_subscribing_wakes_the_waiter_and_others_do_not() {
        let wake = Wake::new("test", false, Duration::from_secs(60));
        let mut waiter = wake.subscribe("device-1");
        // Signalled between the subscription and the wait: not lost.
        wake.committed("device-1");
        let started = tokio::time::Instant::now();
        waiter.wait(started + Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(1));

        wake.committed("device-2");
        let started = tokio::time::Instant::now();
        waiter.wait(started + Duration::from_millis(200)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "another key woke it"
        );
    }

    #[tokio::test]
    async fn a_waiter_polls_without_signals_and_keys_go_with_their_last_waiter() {
        let wake = Wake::new("test", false, Duration::from_millis(100));
        let mut waiter = wake.subscribe("device-1");
        let started = tokio::time::Instant::now();
        waiter.wait(started + Duration::from_secs(10)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(5));
        let second = wake.subscribe("device-1");
        drop(waiter);
        assert_eq!(wake.waiters().len(), 1);
        drop(second);
        assert!(wake.waiters().is_empty());
    }
}
