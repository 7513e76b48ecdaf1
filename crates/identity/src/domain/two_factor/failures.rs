//! Brute-force protection of second factors (NIST SP 800-63B §5.2.2): one count of wrong
//! proofs per account, shared by CompleteSignIn and Reauthenticate, so neither a right
//! password nor a fresh challenge buys fresh guesses. Past `free_failures` each further proof
//! waits a doubling delay before it is even checked; only a right proof, or `failure_memory`
//! without a new failure, clears the count. Counters live in Redis (in memory in embedded
//! mode), shared by every replica.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{MiId, UnixMillis};
use mi_platform::backoff::Backoff;
use mi_platform::ephemeral::EphemeralStore;
use serde::Deserialize;

/// Delays after wrong second-factor proofs (`identity.second_factor.delays`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FactorDelaySettings {
    /// Wrong proofs in a row checked without delay; the owner is alerted when they run out.
    pub free_failures: u32,
    /// The wait after the last free failure, doubling with each further one.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The longest wait.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// How long failures are remembered without a new one.
    #[serde(with = "humantime_serde")]
    pub failure_memory: Duration,
}

impl Default for FactorDelaySettings {
    fn default() -> Self {
        Self {
            free_failures: 10,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            failure_memory: Duration::from_secs(24 * 3600),
        }
    }
}

/// A wrong proof, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCounted {
    /// Wrong proofs in a row so far.
    pub failures: u32,
    /// This failure used up the free ones: the owner is to hear of it.
    pub alert: bool,
}

/// Counts wrong second-factor proofs per account and decides the wait before the next one.
#[derive(Debug, Clone)]
pub struct FactorFailures {
    counters: Arc<dyn EphemeralStore>,
    settings: FactorDelaySettings,
}

impl FactorFailures {
    /// Failure counts over the shared counters.
    pub fn new(counters: Arc<dyn EphemeralStore>, settings: FactorDelaySettings) -> Self {
        Self { counters, settings }
    }

    /// How long the account must still wait before a proof is checked; `None`: check it now.
    pub async fn wait(&self, mi_id: MiId) -> anyhow::Result<Option<Duration>> {
        let Some(until) = self.counters.get(&wait_key(mi_id)).await? else {
            return Ok(None);
        };
        let until =
            UnixMillis::from_i64(String::from_utf8_lossy(&until).parse().unwrap_or_default());
        let left = until.duration_since(UnixMillis::now());
        Ok((!left.is_zero()).then_some(left))
    }

    /// Counts a wrong proof and sets the wait it earns.
    pub async fn record(&self, mi_id: MiId) -> anyhow::Result<FailureCounted> {
        let failures = self
            .counters
            .increment(&failures_key(mi_id), self.settings.failure_memory)
            .await?;
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if let Some(delay) = self.delay(failures) {
            let until = UnixMillis::now().saturating_add(delay);
            self.counters
                .put(
                    &wait_key(mi_id),
                    until.as_i64().to_string().as_bytes(),
                    delay,
                )
                .await?;
        }
        Ok(FailureCounted {
            failures,
            alert: failures == self.settings.free_failures,
        })
    }

    /// Forgets the failures and any wait (after a right proof).
    pub async fn clear(&self, mi_id: MiId) -> anyhow::Result<()> {
        self.counters
            .delete(&[&failures_key(mi_id), &wait_key(mi_id)])
            .await
    }

    /// The wait after `failures` wrong proofs in a row: the base delay once the free ones are
    /// used up, doubling per further failure, capped.
    fn delay(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.settings.free_failures)?;
        let backoff = Backoff {
            first: self.settings.base_delay,
            max: self.settings.max_delay,
        };
        Some(backoff.after(beyond + 1))
    }
}

fn failures_key(mi_id: MiId) -> String {
    format!("second-factor:failures:{mi_id}")
}

fn wait_key(mi_id: MiId) -> String {
    format!("second-factor:wait:{mi_id}")
}

#[cfg(test)]
mod tests {
    use mi_platform::ephemeral::MemoryEphemeralStore;

    use super::*;

    fn failures(settings: FactorDelaySettings) -> FactorFailures {
        FactorFailures::new(Arc::new(MemoryEphemeralStore::new()), settings)
    }

    #[test]
    fn delays_double_after_the_free_failures_up_to_the_cap() {
        let failures = failures(FactorDelaySettings::default());
        let seconds = |count| failures.delay(count).map(|delay| delay.as_secs());
        assert_eq!(seconds(9), None);
        assert_eq!(seconds(10), Some(30));
        assert_eq!(seconds(11), Some(60));
        assert_eq!(seconds(14), Some(480));
        assert_eq!(seconds(17), Some(3600));
        assert_eq!(seconds(400), Some(3600));
    }

    #[tokio::test]
    async fn the_last_free_failure_alerts_once_and_sets_a_wait_until_cleared() {
        let failures = failures(FactorDelaySettings {
            free_failures: 3,
            ..FactorDelaySettings::default()
        });
        let mi_id = MiId::new(1_234_567_890).expect("Mi ID");
        let mut alerts = 0;
        for _ in 0..2 {
            alerts += u32::from(failures.record(mi_id).await.unwrap().alert);
            assert_eq!(failures.wait(mi_id).await.unwrap(), None);
        }
        let third = failures.record(mi_id).await.unwrap();
        assert!(third.alert && third.failures == 3, "{third:?}");
        let wait = failures.wait(mi_id).await.unwrap().expect("a wait");
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        assert!(!failures.record(mi_id).await.unwrap().alert);
        assert_eq!(alerts, 0);
        failures.clear(mi_id).await.unwrap();
        assert_eq!(failures.wait(mi_id).await.unwrap(), None);
        assert_eq!(failures.record(mi_id).await.unwrap().failures, 1);
    }
}
