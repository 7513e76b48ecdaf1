//! The Redis connection the limiter and the ephemeral store share.

use anyhow::Context;
use redis::aio::ConnectionManager;

/// Connects to Redis; the returned handle reconnects by itself after an outage and is cheap
/// to clone (clones share the connection). `rediss://` URLs use TLS, verified against the
/// system's roots; `redis://user:password@host` authenticates as an ACL user.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    connect_with_ca(url, None).await
}

/// Like [`connect`], verifying a `rediss://` server against the PEM CA certificates `ca`
/// instead of the system's roots.
pub async fn connect_with_ca(url: &str, ca: Option<&str>) -> anyhow::Result<ConnectionManager> {
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
    ConnectionManager::new(client)
        .await
        .with_context(|| format!("cannot reach redis at {shown}"))
}
