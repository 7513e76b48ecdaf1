//! Brute-force protection of second factors (NIST SP 800-63B §5.2.2): one count of wrong
//! proofs per account, shared by CompleteSignIn and Reauthenticate, so neither a right
//! password nor a fresh challenge buys fresh guesses. Past `free_failures` each further proof
//! waits a doubling delay before it is even checked; only a right proof, or `failure_memory`
//! without a new failure, clears the count. Counters live in Redis (in memory in embedded
//! mode), shared by every replica.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::MiId;
use mi_platform::ephemeral::EphemeralStore;
use serde::Deserialize;

use crate::domain::delayed_count::DelayedCount;

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
    failures: DelayedCount,
    settings: FactorDelaySettings,
}

impl FactorFailures {
    /// Failure counts over the shared counters.
    pub fn new(counters: Arc<dyn EphemeralStore>, settings: FactorDelaySettings) -> Self {
        let failures = DelayedCount::new(
            counters,
            "second-factor",
            settings.free_failures,
            (settings.base_delay, settings.max_delay),
            settings.failure_memory,
        );
        Self { failures, settings }
    }

    /// How long the account must still wait before a proof is checked; `None`: check it now.
    pub async fn wait(&self, mi_id: MiId) -> anyhow::Result<Option<Duration>> {
        self.failures.wait(&mi_id.to_string()).await
    }

    /// Counts a wrong proof and sets the wait it earns.
    pub async fn record(&self, mi_id: MiId) -> anyhow::Result<FailureCounted> {
        let failures = self.failures.record(&mi_id.to_string()).await?;
        Ok(FailureCounted {
            failures,
            alert: failures == self.settings.free_failures,
        })
    }

    /// Forgets the failures and any wait (after a right proof).
    pub async fn clear(&self, mi_id: MiId) -> anyhow::Result<()> {
        self.failures.clear(&[mi_id.to_string()]).await
    }
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
        let seconds = |count| failures.failures.delay(count).map(|delay| delay.as_secs());
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
