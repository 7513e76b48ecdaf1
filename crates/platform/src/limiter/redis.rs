//! The Redis limiter: one Lua script call per decision, atomic across service replicas.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::{Decision, Quota, RateLimiter};

/// Removes calls older than the window, then counts and records this one if room is left.
/// Uses the Redis server clock, so replicas with skewed clocks agree.
const SLIDING_WINDOW: &str = r"
local key = KEYS[1]
local max = tonumber(ARGV[1])
local window_us = tonumber(ARGV[2])
local member = ARGV[3]
local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_us - window_us)
local used = redis.call('ZCARD', key)
if used < max then
  redis.call('ZADD', key, now_us, member)
  redis.call('PEXPIRE', key, math.ceil(window_us / 1000))
  return {1, max - used - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window_us - now_us}
";

/// Keeps each key's recent calls in a Redis sorted set.
#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: ConnectionManager,
    key_prefix: String,
    script: Script,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisRateLimiter")
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl RedisRateLimiter {
    /// Connects to Redis; the connection reconnects by itself after an outage.
    pub async fn connect(url: &str, key_prefix: &str) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url).with_context(|| format!("invalid redis url {url}"))?;
        let connection = ConnectionManager::new(client)
            .await
            .with_context(|| format!("cannot reach redis at {url}"))?;
        Ok(Self {
            connection,
            key_prefix: format!("{key_prefix}rate:"),
            script: Script::new(SLIDING_WINDOW),
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, key: &str, quota: Quota) -> anyhow::Result<Decision> {
        let window_us = u64::try_from(quota.window.as_micros()).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let (allowed, remaining, retry_after_us): (i64, i64, i64) = self
            .script
            .key(format!("{}{key}", self.key_prefix))
            .arg(quota.max)
            .arg(window_us)
            .arg(uuid::Uuid::new_v4().to_string())
            .invoke_async(&mut connection)
            .await
            .context("redis rate limit script failed")?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after: Duration::from_micros(u64::try_from(retry_after_us).unwrap_or(0)),
        })
    }
}
