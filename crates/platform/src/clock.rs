//! Wall-clock time as stored in the databases: milliseconds since the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the timestamp format of every table.
pub fn now_millis() -> i64 {
    to_millis(SystemTime::now())
}

/// Converts a time to milliseconds since the Unix epoch (negative before 1970).
pub fn to_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Converts stored milliseconds to a protobuf timestamp.
pub fn millis_to_timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// Adds a duration to stored milliseconds, saturating instead of overflowing.
pub fn add_millis(millis: i64, duration: Duration) -> i64 {
    millis.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}
