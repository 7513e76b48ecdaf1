//! The Redis connection the limiter and the ephemeral store share.

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Connects to Redis; the returned handle reconnects by itself after an outage and is cheap
/// to clone (clones share the connection). `rediss://` URLs use TLS, verified against the
/// system's roots; `redis://user:password@host` authenticates as an ACL user. Commands and
/// connection attempts fail after the default `redis.timeout`.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    let timeout = crate::config::RedisConfig::default().timeout;
    connect_with_ca(url, None, timeout).await
}

/// Like [`connect`], verifying a `rediss://` server against the PEM CA certificates `ca`
/// instead of the system's roots, with commands and connection attempts failing after
/// `timeout`.
pub async fn connect_with_ca(
    url: &str,
    ca: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<ConnectionManager> {
    let shown = crate::redact::url(url);
    let client = match ca {
        Some(ca) => {
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.as_bytes().to_vec()),
            };
            redis::Client::build_with_tls(url, certificates)
        }
        None => redis::Client::open(url),
    }
    .with_context(|| format!("invalid redis url {shown}"))?;
    // One reconnection attempt per failed command: while Redis is down a request fails within
    // about two timeouts instead of retrying through its client's deadline; the next request
    // tries again, so the service recovers by itself when Redis is back.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, config)
        .await
        .with_context(|| format!("cannot reach redis at {shown}"))
}
