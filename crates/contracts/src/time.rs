//! Wall-clock time as every table stores it and every service passes it around.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch (negative before 1970).
///
/// Tables store it as a BIGINT (portable across PostgreSQL and SQLite); the wire carries it as
/// a `google.protobuf.Timestamp`. Arithmetic saturates instead of overflowing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(i64);

impl UnixMillis {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// Now, by the system clock.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The same instant as a [`SystemTime`].
    pub fn from_system_time(time: SystemTime) -> Self {
        Self(match time.duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// The value a table stores.
    pub fn from_i64(millis: i64) -> Self {
        Self(millis)
    }

    /// The value a table stores.
    pub fn as_i64(self) -> i64 {
        self.0
    }

    /// This time plus `duration`, saturating.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(duration)))
    }

    /// This time minus `duration`, saturating.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(duration)))
    }

    /// How long after `earlier` this is; zero when it is not after.
    pub fn duration_since(self, earlier: Self) -> Duration {
        u64::try_from(self.0.saturating_sub(earlier.0))
            .map(Duration::from_millis)
            .unwrap_or_default()
    }

    /// The protobuf timestamp of this instant.
    pub fn to_timestamp(self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.0.div_euclid(1000),
            // Below 1,000,000,000, so it always fits.
            nanos: i32::try_from(self.0.rem_euclid(1000) * 1_000_000).unwrap_or(0),
        }
    }

    /// The instant of a protobuf timestamp, to the millisecond (sub-millisecond parts are cut).
    pub fn from_timestamp(timestamp: &prost_types::Timestamp) -> Self {
        Self(
            timestamp
                .seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(timestamp.nanos.div_euclid(1_000_000))),
        )
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl From<UnixMillis> for prost_types::Timestamp {
    fn from(time: UnixMillis) -> Self {
        time.to_timestamp()
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_before_and_after_the_epoch() {
        for millis in [0, 1, 999, 1_000, 1_764_000_123_456, -1, -999, -1_001] {
            let time = UnixMillis::from_i64(millis);
            let timestamp = time.to_timestamp();
            assert!((0..1_000_000_000).contains(&timestamp.nanos));
            assert_eq!(UnixMillis::from_timestamp(&timestamp), time);
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let late = UnixMillis::from_i64(i64::MAX - 1);
        assert_eq!(
            late.saturating_add(Duration::from_secs(5)).as_i64(),
            i64::MAX
        );
        let start = UnixMillis::from_i64(10_000);
        let later = start.saturating_add(Duration::from_millis(2_500));
        assert_eq!(later.duration_since(start), Duration::from_millis(2_500));
        assert_eq!(start.duration_since(later), Duration::ZERO);
        assert_eq!(later.saturating_sub(Duration::from_millis(2_500)), start);
    }

    #[test]
    fn now_agrees_with_the_system_clock() {
        let before = SystemTime::now();
        let now = UnixMillis::now();
        assert!(now >= UnixMillis::from_system_time(before));
    }
}
