//! The in-memory limiter of embedded mode (one process, so one map is the whole truth).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::group::ensure_one_group;
use super::{Decision, Limit, RateLimiter};

/// Keys whose newest call is older than this are forgotten when the map grows large.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

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

fn expire(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|first| now.duration_since(*first) >= window)
    {
        times.pop_front();
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn acquire(&self, limits: &[Limit]) -> anyhow::Result<Decision> {
        ensure_one_group(limits.iter().map(|limit| limit.key.as_str()))?;
        let now = Instant::now();
        let mut calls = self
            .calls
            .lock()
            .map_err(|_| anyhow::anyhow!("rate limiter state poisoned"))?;
        if calls.len() > 100_000 {
            calls.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < FORGET_AFTER)
            });
        }
        let mut remaining = u32::MAX;
        let mut refusal: Option<(usize, Duration)> = None;
        for (index, limit) in limits.iter().enumerate() {
            let times = calls.entry(limit.key.clone()).or_default();
            expire(times, now, limit.quota.window);
            let used = u32::try_from(times.len()).unwrap_or(u32::MAX);
            if used < limit.quota.max {
                remaining = remaining.min(limit.quota.max - used - 1);
                continue;
            }
            let retry_after = match times.front() {
                Some(oldest) => limit
                    .quota
                    .window
                    .saturating_sub(now.duration_since(*oldest)),
                None => limit.quota.window,
            };
            if refusal.is_none_or(|(_, longest)| retry_after > longest) {
                refusal = Some((index, retry_after));
            }
        }
        if let Some((index, retry_after)) = refusal {
            return Ok(Decision {
                allowed: false,
                remaining: 0,
                retry_after,
                refused_by: Some(index),
            });
        }
        for limit in limits {
            calls.entry(limit.key.clone()).or_default().push_back(now);
        }
        Ok(Decision {
            allowed: true,
            remaining,
            retry_after: Duration::ZERO,
            refused_by: None,
        })
    }

    async fn usage(&self, keys: &[&str], window: Duration) -> anyhow::Result<u32> {
        ensure_one_group(keys.iter().copied())?;
        let now = Instant::now();
        let calls = self
            .calls
            .lock()
            .map_err(|_| anyhow::anyhow!("rate limiter state poisoned"))?;
        let used = keys
            .iter()
            .filter_map(|key| calls.get(*key))
            .map(|times| {
                times
                    .iter()
                    .filter(|time| now.duration_since(**time) < window)
                    .count()
            })
            .max()
            .unwrap_or(0);
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }
}
