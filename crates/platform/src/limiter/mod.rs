//! Rate limiting: sliding-window logs per key, in Redis or in memory.
//!
//! "At most `max` calls in any `window`" holds exactly (unlike a token bucket, which lets a
//! burst and a refill add up). One call may be checked against several limits at once (per
//! destination per minute, per hour, per client address...): it is counted against all of them
//! or, if any refuses, against none; the keys of such a call are in one group ([`grouped`]).
//! Both implementations pass `tests/limiter_contract.rs`.

mod group;
mod memory;
mod redis;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

pub use self::group::grouped;
pub use self::memory::MemoryRateLimiter;
pub use self::redis::RedisRateLimiter;

/// At most `max` calls per key in any window of this length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Calls allowed per window; 0 refuses every call.
    pub max: u32,
    /// The window length.
    pub window: Duration,
}

/// One limit a call must fit in: a key (what is counted) and its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What is counted, e.g. `check:client-hour:192.0.2.1`, or `{send}:destination-hour:+8613800138000`
    /// when counted together with other keys of its group ([`grouped`]).
    pub key: String,
    /// How much of it is allowed.
    pub quota: Quota,
}

impl Limit {
    /// A limit on `key`.
    pub fn new(key: impl Into<String>, max: u32, window: Duration) -> Self {
        Self {
            key: key.into(),
            quota: Quota { max, window },
        }
    }
}

/// The limiter's answer to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call may proceed; an allowed call is counted against every limit.
    pub allowed: bool,
    /// When allowed, the calls still allowed by the tightest limit; 0 when refused.
    pub remaining: u32,
    /// When refused, how long until the refusing limit would allow a call; zero when allowed.
    pub retry_after: Duration,
    /// When refused, the index of the limit that refused (the one to wait longest for).
    pub refused_by: Option<usize>,
}

/// Counts calls per key against quotas.
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug {
    /// Counts one call against every limit if all of them allow it, atomically. Fails when
    /// the limits' keys are not in one group ([`grouped`]).
    async fn acquire(&self, limits: &[Limit]) -> anyhow::Result<Decision>;

    /// The most calls counted for any of `keys` in the last `window`, without counting one
    /// (one round trip however many keys, which must be in one group).
    async fn usage(&self, keys: &[&str], window: Duration) -> anyhow::Result<u32>;
}
