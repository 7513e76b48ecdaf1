//! The one backoff every retry loop uses: a first wait, doubling per further failure, capped.

use std::time::Duration;

/// Waits between retries of something that keeps failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// Retries of the bus or the database (publishing, subscribing, creating topics): from
    /// 100 ms, which rides out a blip without hammering a server that is down.
    pub fn infrastructure(max: Duration) -> Self {
        Self {
            first: Duration::from_millis(100),
            max,
        }
    }

    /// The wait after `failures` failures in a row (the first failure is 1).
    pub fn after(&self, failures: u32) -> Duration {
        // 2^16 times the first wait is past any sensible cap; the bound keeps the shift and the
        // multiplication from overflowing.
        let doublings = failures.saturating_sub(1).min(16);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infrastructure_backoff_doubles_from_100_ms_up_to_the_cap() {
        let backoff = Backoff::infrastructure(Duration::from_secs(2));
        assert_eq!(backoff.after(1), Duration::from_millis(100));
        assert_eq!(backoff.after(2), Duration::from_millis(200));
        assert_eq!(backoff.after(4), Duration::from_millis(800));
        assert_eq!(backoff.after(30), Duration::from_secs(2));
    }

    #[test]
    fn backoff_starts_at_its_first_wait() {
        let backoff = Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(200),
        };
        assert_eq!(backoff.after(1), Duration::from_millis(20));
        assert_eq!(backoff.after(3), Duration::from_millis(80));
        assert_eq!(backoff.after(u32::MAX), Duration::from_millis(200));
    }
}
