//! The Redis limiter: one Lua script call per decision, atomic across service replicas.
//!
//! Key layout: `{key_prefix}rate:{key}`, one sorted set per key. A grouped key
//! (`{send}:destination-hour:…`) carries its group as the Redis hash tag, so every key one
//! script touches is in one slot and the scripts run unchanged on Redis Cluster; a key counted
//! alone hashes whole, so those spread over the cluster's nodes. `redis.key_prefix` holds no
//! braces (checked at start), so the prefix never becomes the hash tag.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use redis::Script;

use super::group::ensure_one_group;
use super::{Decision, Limit, RateLimiter};
use crate::redis_connection::RedisConnection;

/// Checks every limit (`KEYS[i]`, max `ARGV[2i]`, window `ARGV[2i+1]` in µs), then records the
/// call (member `ARGV[1]`) in all of them only if none refused. Uses the Redis server clock, so
/// replicas with skewed clocks agree. Returns {allowed, remaining, retry_after_us, refused_index}.
const ACQUIRE: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local member = ARGV[1]
local remaining = -1
local refused, longest = 0, -1
for i = 1, #KEYS do
  local max = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local used = redis.call('ZCARD', KEYS[i])
  if used < max then
    if remaining < 0 or max - used - 1 < remaining then remaining = max - used - 1 end
  else
    local retry = window
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    if oldest[2] then retry = tonumber(oldest[2]) + window - now end
    if retry > longest then refused, longest = i, retry end
  end
end
if refused > 0 then return {0, 0, longest, refused} end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 * i + 1]) / 1000))
end
return {1, remaining, 0, 0}
";

/// The most calls in the last `ARGV[1]` µs of any of `KEYS`, without recording one.
const USAGE: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local most = 0
for i = 1, #KEYS do
  local used = redis.call('ZCOUNT', KEYS[i], '(' .. (now - tonumber(ARGV[1])), '+inf')
  if used > most then most = used end
end
return most
";

/// Keeps each key's recent calls in a Redis sorted set.
#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: RedisConnection,
    key_prefix: String,
    acquire: Script,
    usage: Script,
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
    /// A limiter over a shared connection (see `redis_connection::connect`).
    pub fn new(connection: RedisConnection, key_prefix: &str) -> Self {
        Self {
            connection,
            key_prefix: format!("{key_prefix}rate:"),
            acquire: Script::new(ACQUIRE),
            usage: Script::new(USAGE),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, limits: &[Limit]) -> anyhow::Result<Decision> {
        ensure_one_group(limits.iter().map(|limit| limit.key.as_str()))?;
        let mut invocation = self.acquire.prepare_invoke();
        invocation.arg(uuid::Uuid::new_v4().to_string());
        for limit in limits {
            invocation
                .key(format!("{}{}", self.key_prefix, limit.key))
                .arg(limit.quota.max)
                .arg(micros(limit.quota.window));
        }
        let mut connection = self.connection.clone();
        let (allowed, remaining, retry_after_us, refused_index): (i64, i64, i64, i64) = invocation
            .invoke_async(&mut connection)
            .await
            .context("redis rate limit script failed")?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after: Duration::from_micros(u64::try_from(retry_after_us).unwrap_or(0)),
            refused_by: usize::try_from(refused_index)
                .ok()
                .and_then(|index| index.checked_sub(1)),
        })
    }

    async fn usage(&self, keys: &[&str], window: Duration) -> anyhow::Result<u32> {
        ensure_one_group(keys.iter().copied())?;
        let mut invocation = self.usage.prepare_invoke();
        for key in keys {
            invocation.key(format!("{}{key}", self.key_prefix));
        }
        invocation.arg(micros(window));
        let mut connection = self.connection.clone();
        let used: i64 = invocation
            .invoke_async(&mut connection)
            .await
            .context("redis rate limit usage script failed")?;
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }
}
