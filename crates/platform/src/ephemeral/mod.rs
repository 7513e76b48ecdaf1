//! Short-lived values read at most once (CAPTCHA answers), in Redis or in memory.
//! Both implementations pass `tests/ephemeral_contract.rs`.

mod memory;
mod redis;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryEphemeralStore;
pub use self::redis::RedisEphemeralStore;

/// Values that expire after a time and are removed when read.
#[async_trait]
pub trait EphemeralStore: Send + Sync + Debug {
    /// Stores `value` under `key` for `ttl`, replacing any earlier value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()>;

    /// Removes and returns the value, if it is there and has not expired.
    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
}
