//! Brute-force protection of passwords, counted per sign-in identifier (a Mi ID, phone number
//! or email address in its canonical form) whether or not it names an account, so that an
//! unknown identifier and an existing one answer alike, and nobody can lock an owner out:
//!
//! - after `captcha_after` wrong passwords in a row, every sign-in with the identifier needs a
//!   solved CAPTCHA first, right password or wrong (as Google and Ory Kratos ask for one after
//!   failures, rather than Keycloak's temporary lockout, which refuses the owner's right
//!   password too and lets anyone keep an account locked with a few failures an hour);
//! - after `delay_after`, each further attempt waits a doubling delay, refused unchecked until
//!   then (NIST SP 800-63B §5.2.2), against CAPTCHA-solving farms;
//! - a right password clears the counts of all the account's identifiers;
//! - failures from one client address are capped per hour, across identifiers.
//!
//! Counters live in Redis (in memory in embedded mode), shared by every replica.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{MiId, UnixMillis};
use mi_platform::ephemeral::EphemeralStore;
use mi_platform::limiter::{Limit, RateLimiter};
use serde::Deserialize;

use crate::domain::delayed_count::DelayedCount;

const CLIENT_WINDOW: Duration = Duration::from_secs(3600);
/// How long past its expiry a spent pass is remembered: the verifier's leeway.
const PASS_LEEWAY: Duration = Duration::from_secs(5);

/// Brute-force protection of passwords (`identity.brute_force`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BruteForceSettings {
    /// Off only for load tests.
    pub enabled: bool,
    /// Wrong passwords in a row for an identifier from which its sign-ins need a CAPTCHA; the
    /// owner is alerted when it is reached.
    pub captcha_after: u32,
    /// Wrong passwords in a row from which each attempt also waits.
    pub delay_after: u32,
    /// The first wait, doubling with each further failure.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The longest wait.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// How long failures are remembered without a new one.
    #[serde(with = "humantime_serde")]
    pub failure_memory: Duration,
    /// Failed sign-ins allowed from one client address per hour, across identifiers.
    pub client_failures_per_hour: u32,
    /// At most one alert per account in this period, however often its identifiers reach the
    /// CAPTCHA threshold.
    #[serde(with = "humantime_serde")]
    pub alert_period: Duration,
}

impl Default for BruteForceSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            captcha_after: 5,
            delay_after: 20,
            base_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(15 * 60),
            failure_memory: Duration::from_secs(24 * 3600),
            client_failures_per_hour: 100,
            alert_period: Duration::from_secs(24 * 3600),
        }
    }
}

/// Where an identifier stands before a password is checked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Check the password.
    Open,
    /// Check it only with a CAPTCHA pass for the identifier.
    CaptchaRequired,
    /// Check nothing for this long.
    Delayed(Duration),
    /// This client address failed too often: check nothing for this long.
    ClientBlocked(Duration),
}

/// A wrong password, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCounted {
    /// Wrong passwords in a row for the identifier so far.
    pub failures: u32,
    /// Its sign-ins need a CAPTCHA from now on.
    pub captcha_required: bool,
}

/// Counts wrong passwords per identifier and per client, and decides what a sign-in needs.
#[derive(Debug, Clone)]
pub struct BruteForce {
    /// Spent passes and alert marks.
    counters: Arc<dyn EphemeralStore>,
    /// Wrong passwords per identifier, and their waits.
    failures: DelayedCount,
    limiter: Arc<dyn RateLimiter>,
    settings: BruteForceSettings,
}

impl BruteForce {
    /// Brute-force protection over the shared counters and limiter.
    pub fn new(
        counters: Arc<dyn EphemeralStore>,
        limiter: Arc<dyn RateLimiter>,
        settings: BruteForceSettings,
    ) -> Self {
        let failures = DelayedCount::new(
            Arc::clone(&counters),
            "signin",
            settings.delay_after,
            (settings.base_delay, settings.max_delay),
            settings.failure_memory,
        );
        Self {
            counters,
            failures,
            limiter,
            settings,
        }
    }

    /// What a password check for `identifier` from `client` needs now.
    pub async fn standing(&self, identifier: &str, client: &str) -> anyhow::Result<Standing> {
        if !self.settings.enabled {
            return Ok(Standing::Open);
        }
        let client_failures = self
            .limiter
            .usage(&[&client_key(client)], CLIENT_WINDOW)
            .await?;
        if client_failures >= self.settings.client_failures_per_hour {
            return Ok(Standing::ClientBlocked(CLIENT_WINDOW));
        }
        if let Some(left) = self.failures.wait(identifier).await? {
            return Ok(Standing::Delayed(left));
        }
        if self.failures.failures(identifier).await? >= self.settings.captcha_after {
            return Ok(Standing::CaptchaRequired);
        }
        Ok(Standing::Open)
    }

    /// Counts a wrong password for `identifier` from `client`, and sets the wait it earns.
    pub async fn record_failure(
        &self,
        identifier: &str,
        client: &str,
    ) -> anyhow::Result<FailureCounted> {
        if !self.settings.enabled {
            return Ok(FailureCounted {
                failures: 0,
                captcha_required: false,
            });
        }
        let client_limit = Limit::new(
            client_key(client),
            self.settings.client_failures_per_hour,
            CLIENT_WINDOW,
        );
        self.limiter
            .acquire(std::slice::from_ref(&client_limit))
            .await?;
        let failures = self.failures.record(identifier).await?;
        Ok(FailureCounted {
            failures,
            captcha_required: failures >= self.settings.captcha_after,
        })
    }

    /// Forgets the failures and waits of `identifiers` (after a right password or a reset).
    pub async fn clear(&self, identifiers: &[String]) -> anyhow::Result<()> {
        self.failures.clear(identifiers).await
    }

    /// Whether the account's owner may be alerted now: true once per `alert_period`.
    pub async fn first_alert_in_period(&self, mi_id: MiId) -> anyhow::Result<bool> {
        self.counters
            .put_if_absent(
                &format!("signin:alerted:{mi_id}"),
                b"1",
                self.settings.alert_period,
            )
            .await
    }

    /// Spends the CAPTCHA pass `pass_id`, valid until `expires_at`; false if it was spent
    /// before. It is remembered until no verifier would accept it any more.
    pub async fn spend_captcha_pass(
        &self,
        pass_id: &str,
        expires_at: UnixMillis,
    ) -> anyhow::Result<bool> {
        let remembered = expires_at
            .duration_since(UnixMillis::now())
            .saturating_add(PASS_LEEWAY);
        self.counters
            .put_if_absent(&format!("signin:captcha-pass:{pass_id}"), b"1", remembered)
            .await
    }
}

fn client_key(client: &str) -> String {
    format!("signin:client-failures:{client}")
}

#[cfg(test)]
mod tests {
    use mi_platform::ephemeral::MemoryEphemeralStore;
    use mi_platform::limiter::MemoryRateLimiter;

    use super::*;

    fn brute_force(settings: BruteForceSettings) -> BruteForce {
        BruteForce::new(
            Arc::new(MemoryEphemeralStore::new()),
            Arc::new(MemoryRateLimiter::new()),
            settings,
        )
    }

    #[test]
    fn delays_double_from_their_threshold_up_to_the_cap() {
        let brute_force = brute_force(BruteForceSettings::default());
        let minutes = |failures| {
            brute_force
                .failures
                .delay(failures)
                .map(|d| d.as_secs() / 60)
        };
        assert_eq!(minutes(19), None);
        assert_eq!(minutes(20), Some(1));
        assert_eq!(minutes(21), Some(2));
        assert_eq!(minutes(23), Some(8));
        assert_eq!(minutes(24), Some(15));
        assert_eq!(minutes(400), Some(15));
    }

    #[tokio::test]
    async fn an_identifier_needs_a_captcha_then_waits_until_cleared() {
        let brute_force = brute_force(BruteForceSettings {
            captcha_after: 2,
            delay_after: 3,
            ..BruteForceSettings::default()
        });
        let (identifier, other, client) = ("alice@example.com", "4071234567", "192.0.2.1");
        let standing = || brute_force.standing(identifier, client);
        assert_eq!(standing().await.unwrap(), Standing::Open);
        assert!(
            !brute_force
                .record_failure(identifier, client)
                .await
                .unwrap()
                .captcha_required
        );
        assert_eq!(standing().await.unwrap(), Standing::Open);
        let second = brute_force
            .record_failure(identifier, client)
            .await
            .unwrap();
        assert!(
            second.captcha_required && second.failures == 2,
            "{second:?}"
        );
        assert_eq!(standing().await.unwrap(), Standing::CaptchaRequired);
        assert_eq!(
            brute_force.standing(other, client).await.unwrap(),
            Standing::Open,
            "another identifier counts apart"
        );
        brute_force
            .record_failure(identifier, client)
            .await
            .unwrap();
        assert!(
            matches!(standing().await.unwrap(), Standing::Delayed(wait) if wait > Duration::from_secs(55)),
            "{:?}",
            standing().await
        );
        brute_force
            .clear(&[other.to_owned(), identifier.to_owned()])
            .await
            .unwrap();
        assert_eq!(standing().await.unwrap(), Standing::Open);
    }

    #[tokio::test]
    async fn a_client_that_fails_too_often_is_blocked_across_identifiers() {
        let brute_force = brute_force(BruteForceSettings {
            client_failures_per_hour: 3,
            ..BruteForceSettings::default()
        });
        for identifier in ["1000000001", "1000000002", "1000000003"] {
            brute_force
                .record_failure(identifier, "192.0.2.1")
                .await
                .unwrap();
        }
        assert!(matches!(
            brute_force
                .standing("1000000004", "192.0.2.1")
                .await
                .unwrap(),
            Standing::ClientBlocked(_)
        ));
        assert_eq!(
            brute_force
                .standing("1000000004", "192.0.2.2")
                .await
                .unwrap(),
            Standing::Open
        );
    }

    #[tokio::test]
    async fn passes_are_spent_once_and_alerts_sent_once_per_period() {
        let brute_force = brute_force(BruteForceSettings::default());
        let until = UnixMillis::now().saturating_add(Duration::from_secs(120));
        assert!(brute_force.spend_captcha_pass("p1", until).await.unwrap());
        assert!(!brute_force.spend_captcha_pass("p1", until).await.unwrap());
        assert!(brute_force.spend_captcha_pass("p2", until).await.unwrap());
        let mi_id = MiId::new(4_071_234_567).unwrap();
        assert!(brute_force.first_alert_in_period(mi_id).await.unwrap());
        assert!(!brute_force.first_alert_in_period(mi_id).await.unwrap());
    }
}
