//! Short-lived values read at most once (CAPTCHA answers), marks set at most once (spent
//! tokens, alerts sent) and expiring counters (brute-force protection), in Redis or in memory. Both implementations pass `tests/ephemeral_contract.rs`.
//!
//! Values and counters share one key space. A counter is kept as its count in decimal ASCII
//! (3 is `b"3"`), which is how Redis stores an `INCR`ed key, so `get` returns the same bytes
//! from either store and `increment` fails on a value that is not such a number.

mod memory;
mod redis;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryEphemeralStore;
pub use self::redis::RedisEphemeralStore;

/// Values and counters that expire after a time; `take` removes a value as it reads it.
#[async_trait]
pub trait EphemeralStore: Send + Sync + Debug {
    /// Stores `value` under `key` for `ttl`, replacing any earlier value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()>;

    /// Stores `value` under `key` for `ttl` unless the key holds an unexpired value; true if
    /// it was stored. Atomic across callers and replicas, so exactly one of several racing
    /// callers wins (a token spent once, an alert sent once per period).
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<bool>;

    /// Removes and returns the value, if it is there and has not expired.
    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;

    /// Reads a value without removing it, if it is there and has not expired.
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;

    /// Adds one to the counter under `key` (a missing or expired key counts from 0), sets its
    /// expiry to `ttl` from now, and returns the new count; atomic across callers and replicas.
    async fn increment(&self, key: &str, ttl: Duration) -> anyhow::Result<u64>;

    /// Removes the keys (missing ones are fine).
    async fn delete(&self, keys: &[&str]) -> anyhow::Result<()>;
}
