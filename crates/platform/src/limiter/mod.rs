//! Rate limiting: a sliding-window log per key, in Redis or in memory.
//!
//! "At most `max` calls in any `window`" holds exactly (unlike a token bucket, which lets a
//! burst and a refill add up). Both implementations pass `tests/limiter_contract.rs`.

mod memory;
mod redis;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryRateLimiter;
pub use self::redis::RedisRateLimiter;

/// At most `max` calls per key in any window of this length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Calls allowed per window.
    pub max: u32,
    /// The window length.
    pub window: Duration,
}

/// The limiter's answer to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call may proceed; an allowed call is counted.
    pub allowed: bool,
    /// Calls still allowed in the current window after this one.
    pub remaining: u32,
    /// When refused, how long until a call would be allowed; zero when allowed.
    pub retry_after: Duration,
}

/// Counts calls per key against a quota.
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug {
    /// Counts one call for `key` if the quota allows it.
    async fn acquire(&self, key: &str, quota: Quota) -> anyhow::Result<Decision>;
}
