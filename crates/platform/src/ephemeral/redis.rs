//! The Redis store: `SET ... PX` (with `NX` to set only once) and `GETDEL`, so a value is read at most once across replicas,
//! and `INCR` with `PEXPIRE` in one Lua script, so a count is atomic across replicas.
//!
//! Key layout: `{key_prefix}value:{key}`. Every command and script takes one key, so each runs
//! on Redis Cluster as on one server; `delete` of several keys is split by slot there (the
//! cluster client sends one `DEL` per node), which only clears counters, so it needs no
//! atomicity across keys.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use redis::Script;

use super::EphemeralStore;
use crate::redis_connection::RedisConnection;

/// Adds one to the integer at `KEYS[1]` (missing counts from 0) and sets its expiry to `ARGV[1]`
/// ms; returns the new count. An `INCR` error (a non-integer value) aborts before any write.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return count
";

/// Values in Redis under a key prefix.
#[derive(Clone)]
pub struct RedisEphemeralStore {
    connection: RedisConnection,
    key_prefix: String,
    increment: Script,
}

impl std::fmt::Debug for RedisEphemeralStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisEphemeralStore")
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl RedisEphemeralStore {
    /// A store over a shared connection (see `redis_connection::connect`).
    pub fn new(connection: RedisConnection, key_prefix: &str) -> Self {
        Self {
            connection,
            key_prefix: format!("{key_prefix}value:"),
            increment: Script::new(INCREMENT),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }
}

/// A TTL in whole milliseconds, at least 1 (Redis refuses an expiry of 0).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl EphemeralStore for RedisEphemeralStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut connection)
            .await
            .context("redis SET failed")
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<bool> {
        let mut connection = self.connection.clone();
        // `SET ... NX` answers OK when it stored the value and nil when the key existed.
        let stored: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await
            .context("redis SET NX failed")?;
        Ok(stored.is_some())
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut connection = self.connection.clone();
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .context("redis GETDEL failed")
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut connection = self.connection.clone();
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .context("redis GET failed")
    }

    async fn increment(&self, key: &str, ttl: Duration) -> anyhow::Result<u64> {
        let mut connection = self.connection.clone();
        let count: i64 = self
            .increment
            .key(self.key(key))
            .arg(millis(ttl))
            .invoke_async(&mut connection)
            .await
            .context("redis increment script failed")?;
        u64::try_from(count).context("redis counter is negative")
    }

    async fn delete(&self, keys: &[&str]) -> anyhow::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("DEL");
        for key in keys {
            command.arg(self.key(key));
        }
        command
            .query_async::<()>(&mut connection)
            .await
            .context("redis DEL failed")
    }
}
