//! Wrong attempts counted per key, with a doubling wait past a threshold: the one mechanism
//! under brute-force protection of passwords (per sign-in identifier, `passwords/brute_force.rs`)
//! and of second factors (per account, `two_factor/failures.rs`), as NIST SP 800-63B §5.2.2
//! describes it. Counters live in the shared ephemeral store (Redis; memory in embedded mode),
//! so every replica sees the same counts and waits.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::UnixMillis;
use mi_platform::backoff::Backoff;
use mi_platform::ephemeral::EphemeralStore;

/// Counts of wrong attempts and the waits they earn, under one key prefix.
#[derive(Debug, Clone)]
pub struct DelayedCount {
    counters: Arc<dyn EphemeralStore>,
    /// Keeps the counts of one use apart from another's (`signin`, `second-factor`).
    prefix: &'static str,
    /// The count from which each failure sets a wait.
    delay_from: u32,
    /// The wait at `delay_from`, doubling per further failure, capped.
    backoff: Backoff,
    /// How long a count is remembered without a new failure.
    memory: Duration,
}

impl DelayedCount {
    /// Counts under `prefix`: from the `delay_from`-th failure on, a wait of `first`
    /// doubling up to `max`; forgotten `memory` after the last failure.
    pub fn new(
        counters: Arc<dyn EphemeralStore>,
        prefix: &'static str,
        delay_from: u32,
        (first, max): (Duration, Duration),
        memory: Duration,
    ) -> Self {
        Self {
            counters,
            prefix,
            delay_from,
            backoff: Backoff { first, max },
            memory,
        }
    }

    /// How long `key` must still wait before its next attempt is checked; `None`: now.
    pub async fn wait(&self, key: &str) -> anyhow::Result<Option<Duration>> {
        let Some(until) = self.counters.get(&self.wait_key(key)).await? else {
            return Ok(None);
        };
        let until =
            UnixMillis::from_i64(String::from_utf8_lossy(&until).parse().unwrap_or_default());
        let left = until.duration_since(UnixMillis::now());
        Ok((!left.is_zero()).then_some(left))
    }

    /// Wrong attempts in a row for `key` so far.
    pub async fn failures(&self, key: &str) -> anyhow::Result<u32> {
        Ok(self
            .counters
            .get(&self.failures_key(key))
            .await?
            .and_then(|count| String::from_utf8_lossy(&count).parse::<u32>().ok())
            .unwrap_or(0))
    }

    /// Counts a wrong attempt for `key`, sets the wait it earns, and returns the count.
    pub async fn record(&self, key: &str) -> anyhow::Result<u32> {
        let failures = self
            .counters
            .increment(&self.failures_key(key), self.memory)
            .await?;
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if let Some(delay) = self.delay(failures) {
            let until = UnixMillis::now().saturating_add(delay);
            self.counters
                .put(
                    &self.wait_key(key),
                    until.as_i64().to_string().as_bytes(),
                    delay,
                )
                .await?;
        }
        Ok(failures)
    }

    /// Forgets the counts and waits of `keys`.
    pub async fn clear(&self, keys: &[String]) -> anyhow::Result<()> {
        let stored: Vec<String> = keys
            .iter()
            .flat_map(|key| [self.failures_key(key), self.wait_key(key)])
            .collect();
        let stored: Vec<&str> = stored.iter().map(String::as_str).collect();
        self.counters.delete(&stored).await
    }

    /// The wait after `failures` wrong attempts in a row: the first wait at `delay_from`,
    /// doubling per further failure, capped.
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.delay_from)?;
        Some(self.backoff.after(beyond + 1))
    }

    fn failures_key(&self, key: &str) -> String {
        format!("{}:failures:{key}", self.prefix)
    }

    fn wait_key(&self, key: &str) -> String {
        format!("{}:wait:{key}", self.prefix)
    }
}
