//! The Redis store: `SET ... PX` and `GETDEL`, so a value is read at most once across replicas.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::EphemeralStore;

/// Values in Redis under a key prefix.
#[derive(Clone)]
pub struct RedisEphemeralStore {
    connection: ConnectionManager,
    key_prefix: String,
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
    pub fn new(connection: ConnectionManager, key_prefix: &str) -> Self {
        Self {
            connection,
            key_prefix: format!("{key_prefix}value:"),
        }
    }
}

#[async_trait]
impl EphemeralStore for RedisEphemeralStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        redis::cmd("SET")
            .arg(format!("{}{key}", self.key_prefix))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .query_async::<()>(&mut connection)
            .await
            .context("redis SET failed")
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut connection = self.connection.clone();
        redis::cmd("GETDEL")
            .arg(format!("{}{key}", self.key_prefix))
            .query_async(&mut connection)
            .await
            .context("redis GETDEL failed")
    }
}
