//! The in-memory store of embedded mode.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::EphemeralStore;

/// Values with their expiry time, in a map.
#[derive(Debug, Default)]
pub struct MemoryEphemeralStore {
    // A std mutex: held for a few map operations, never across an await.
    values: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl MemoryEphemeralStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl EphemeralStore for MemoryEphemeralStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut values = self
            .values
            .lock()
            .map_err(|_| anyhow::anyhow!("ephemeral store poisoned"))?;
        if values.len() > 10_000 {
            values.retain(|_, (_, expires_at)| *expires_at > now);
        }
        values.insert(key.to_owned(), (value.to_vec(), now + ttl));
        Ok(())
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut values = self
            .values
            .lock()
            .map_err(|_| anyhow::anyhow!("ephemeral store poisoned"))?;
        Ok(values
            .remove(key)
            .filter(|(_, expires_at)| *expires_at > Instant::now())
            .map(|(value, _)| value))
    }
}
