//! The in-memory limiter of embedded mode (one process, so one map is the whole truth).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use super::{Decision, Quota, RateLimiter};

/// Keeps each key's recent call times in a map.
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    // A std mutex: held for a few map operations, never across an await.
    calls: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn acquire(&self, key: &str, quota: Quota) -> anyhow::Result<Decision> {
        let now = Instant::now();
        let mut calls = self
            .calls
            .lock()
            .map_err(|_| anyhow::anyhow!("rate limiter state poisoned"))?;
        // Forget keys whose windows have fully passed, so the map does not grow without bound.
        if calls.len() > 10_000 {
            calls.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < quota.window)
            });
        }
        let times = calls.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= quota.window)
        {
            times.pop_front();
        }
        let used = u32::try_from(times.len()).unwrap_or(u32::MAX);
        if used < quota.max {
            times.push_back(now);
            return Ok(Decision {
                allowed: true,
                remaining: quota.max - used - 1,
                retry_after: std::time::Duration::ZERO,
            });
        }
        let oldest = times.front().copied().unwrap_or(now);
        Ok(Decision {
            allowed: false,
            remaining: 0,
            retry_after: quota.window.saturating_sub(now.duration_since(oldest)),
        })
    }
}
