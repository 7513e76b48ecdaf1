//! The Redis connection the limiter and the ephemeral store share.

use anyhow::Context;
use redis::aio::ConnectionManager;

/// Connects to Redis; the returned handle reconnects by itself after an outage and is cheap
/// to clone (clones share the connection).
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    let shown = crate::redact::url(url);
    let client = redis::Client::open(url).with_context(|| format!("invalid redis url {shown}"))?;
    ConnectionManager::new(client)
        .await
        .with_context(|| format!("cannot reach redis at {shown}"))
}
