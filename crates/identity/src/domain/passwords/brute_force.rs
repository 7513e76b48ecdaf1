//! Brute-force protection of password sign-in: consecutive failures per account lock its
//! password sign-in for a doubling time; failures per client address are capped per hour.
//! Counters live in Redis (in memory in embedded mode), shared by every replica.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{MiId, UnixMillis};
use mi_platform::ephemeral::EphemeralStore;
use mi_platform::limiter::{Limit, RateLimiter};
use serde::Deserialize;

const CLIENT_WINDOW: Duration = Duration::from_secs(3600);

/// Brute-force protection: after `max_failures` consecutive wrong passwords the account's
/// password sign-in is refused for `base_duration`, doubling with each further failure up to
/// `max_duration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LockoutSettings {
    /// Off only for load tests.
    pub enabled: bool,
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// The first lock's length.
    #[serde(with = "humantime_serde")]
    pub base_duration: Duration,
    /// The longest lock.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// How long failures are remembered without a new one.
    #[serde(with = "humantime_serde")]
    pub failure_memory: Duration,
    /// Failed sign-ins allowed from one client address per hour, across accounts.
    pub client_failures_per_hour: u32,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            base_duration: Duration::from_secs(60),
            max_duration: Duration::from_secs(15 * 60),
            failure_memory: Duration::from_secs(24 * 3600),
            client_failures_per_hour: 100,
        }
    }
}

/// Why a password sign-in is refused before the password is even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The account is locked for this long.
    Account(Duration),
    /// This client address failed too often.
    Client(Duration),
}

/// A lock that a failure just set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLock {
    /// Consecutive failures so far.
    pub failures: u32,
    /// When the lock ends.
    pub locked_until: UnixMillis,
}

/// Counts failures and decides locks.
#[derive(Debug, Clone)]
pub struct Lockout {
    counters: Arc<dyn EphemeralStore>,
    limiter: Arc<dyn RateLimiter>,
    settings: LockoutSettings,
}

impl Lockout {
    /// Lockout over the shared counters and limiter.
    pub fn new(
        counters: Arc<dyn EphemeralStore>,
        limiter: Arc<dyn RateLimiter>,
        settings: LockoutSettings,
    ) -> Self {
        Self {
            counters,
            limiter,
            settings,
        }
    }

    /// Whether a sign-in must be refused now without checking the password.
    pub async fn blocked(
        &self,
        mi_id: Option<MiId>,
        client: &str,
    ) -> anyhow::Result<Option<Blocked>> {
        if !self.settings.enabled {
            return Ok(None);
        }
        if let Some(mi_id) = mi_id
            && let Some(until) = self.counters.get(&lock_key(mi_id)).await?
        {
            let until =
                UnixMillis::from_i64(String::from_utf8_lossy(&until).parse().unwrap_or_default());
            let left = until.duration_since(UnixMillis::now());
            if !left.is_zero() {
                return Ok(Some(Blocked::Account(left)));
            }
        }
        let client_failures = self
            .limiter
            .usage(&[&client_key(client)], CLIENT_WINDOW)
            .await?;
        if client_failures >= self.settings.client_failures_per_hour {
            return Ok(Some(Blocked::Client(CLIENT_WINDOW)));
        }
        Ok(None)
    }

    /// Counts a wrong password (for an account, if the identifier named one); returns the lock
    /// it set, if this failure locked the account.
    pub async fn record_failure(
        &self,
        mi_id: Option<MiId>,
        client: &str,
    ) -> anyhow::Result<Option<NewLock>> {
        if !self.settings.enabled {
            return Ok(None);
        }
        let client_limit = Limit::new(
            client_key(client),
            self.settings.client_failures_per_hour,
            CLIENT_WINDOW,
        );
        self.limiter
            .acquire(std::slice::from_ref(&client_limit))
            .await?;
        let Some(mi_id) = mi_id else {
            return Ok(None);
        };
        let failures = self
            .counters
            .increment(&failures_key(mi_id), self.settings.failure_memory)
            .await?;
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        let Some(duration) = self.lock_duration(failures) else {
            return Ok(None);
        };
        let locked_until = UnixMillis::now().saturating_add(duration);
        self.counters
            .put(
                &lock_key(mi_id),
                locked_until.as_i64().to_string().as_bytes(),
                duration,
            )
            .await?;
        Ok(Some(NewLock {
            failures,
            locked_until,
        }))
    }

    /// Forgets the failures and any lock (after a right password or a reset).
    pub async fn clear(&self, mi_id: MiId) -> anyhow::Result<()> {
        self.counters
            .delete(&[&failures_key(mi_id), &lock_key(mi_id)])
            .await
    }

    /// How long `failures` consecutive failures lock the account: the base time at the
    /// threshold, doubling per further failure, capped.
    fn lock_duration(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.settings.max_failures)?;
        let factor = 1u32 << beyond.min(16);
        Some(
            self.settings
                .base_duration
                .saturating_mul(factor)
                .min(self.settings.max_duration),
        )
    }
}

fn failures_key(mi_id: MiId) -> String {
    format!("signin:failures:{mi_id}")
}

fn lock_key(mi_id: MiId) -> String {
    format!("signin:lock:{mi_id}")
}

fn client_key(client: &str) -> String {
    format!("signin:client-failures:{client}")
}

#[cfg(test)]
mod tests {
    use mi_platform::ephemeral::MemoryEphemeralStore;
    use mi_platform::limiter::MemoryRateLimiter;

    use super::*;

    #[test]
    fn locks_double_from_the_threshold_up_to_the_cap() {
        let lockout = Lockout::new(
            Arc::new(MemoryEphemeralStore::new()),
            Arc::new(MemoryRateLimiter::new()),
            LockoutSettings::default(),
        );
        let minutes = |failures| lockout.lock_duration(failures).map(|d| d.as_secs() / 60);
        assert_eq!(minutes(4), None);
        assert_eq!(minutes(5), Some(1));
        assert_eq!(minutes(6), Some(2));
        assert_eq!(minutes(8), Some(8));
        assert_eq!(minutes(9), Some(15));
        assert_eq!(minutes(40), Some(15));
    }
}
