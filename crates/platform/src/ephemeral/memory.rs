//! The in-memory store of embedded mode; counters are stored as decimal text, as Redis does.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::EphemeralStore;

/// Entries beyond this many trigger a sweep of the expired ones on the next write.
const SWEEP_ABOVE: usize = 10_000;

type Values = HashMap<String, (Vec<u8>, Instant)>;

/// Values with their expiry time, in a map.
#[derive(Debug, Default)]
pub struct MemoryEphemeralStore {
    // A std mutex: held for a few map operations, never across an await.
    values: Mutex<Values>,
}

impl MemoryEphemeralStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn values(&self) -> anyhow::Result<MutexGuard<'_, Values>> {
        self.values
            .lock()
            .map_err(|_| anyhow::anyhow!("ephemeral store poisoned"))
    }
}

fn sweep(values: &mut Values, now: Instant) {
    if values.len() > SWEEP_ABOVE {
        values.retain(|_, (_, expires_at)| *expires_at > now);
    }
}

fn parse_count(value: &[u8]) -> anyhow::Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("ephemeral value is not a counter"))
}

#[async_trait]
impl EphemeralStore for MemoryEphemeralStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut values = self.values()?;
        sweep(&mut values, now);
        values.insert(key.to_owned(), (value.to_vec(), now + ttl));
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> anyhow::Result<bool> {
        let now = Instant::now();
        let mut values = self.values()?;
        sweep(&mut values, now);
        if values
            .get(key)
            .is_some_and(|(_, expires_at)| *expires_at > now)
        {
            return Ok(false);
        }
        values.insert(key.to_owned(), (value.to_vec(), now + ttl));
        Ok(true)
    }

    async fn take(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut values = self.values()?;
        Ok(values
            .remove(key)
            .filter(|(_, expires_at)| *expires_at > Instant::now())
            .map(|(value, _)| value))
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let values = self.values()?;
        Ok(values
            .get(key)
            .filter(|(_, expires_at)| *expires_at > Instant::now())
            .map(|(value, _)| value.clone()))
    }

    async fn increment(&self, key: &str, ttl: Duration) -> anyhow::Result<u64> {
        let now = Instant::now();
        let mut values = self.values()?;
        sweep(&mut values, now);
        let previous = match values.get(key) {
            Some((value, expires_at)) if *expires_at > now => parse_count(value)?,
            _ => 0,
        };
        let count = previous
            .checked_add(1)
            .ok_or_else(|| anyhow::anyhow!("ephemeral counter overflow"))?;
        values.insert(key.to_owned(), (count.to_string().into_bytes(), now + ttl));
        Ok(count)
    }

    async fn delete(&self, keys: &[&str]) -> anyhow::Result<()> {
        let mut values = self.values()?;
        for key in keys {
            values.remove(*key);
        }
        Ok(())
    }
}
