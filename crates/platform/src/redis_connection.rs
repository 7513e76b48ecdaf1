//! The Redis connection the limiter and the ephemeral store share: to one server, or to a
//! Redis Cluster.
//!
//! Both kinds give the same behaviour to their users: every script touches the keys of one
//! slot (`limiter` groups the keys one call counts together under one hash tag; the ephemeral
//! store's scripts take one key), so a script runs unchanged on either.

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, TlsCertificates, Value};

/// A handle on Redis that reconnects by itself after an outage and is cheap to clone (clones
/// share the connections).
#[derive(Clone)]
pub enum RedisConnection {
    /// One server (`redis.url`).
    Server(ConnectionManager),
    /// A Redis Cluster (`redis.cluster_urls`): each command goes to the node that holds its
    /// key's slot, following the cluster's redirections when slots move.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Server(_) => "RedisConnection::Server",
            Self::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Connects to one Redis server. `rediss://` URLs use TLS, verified against the system's
/// roots; `redis://user:password@host` authenticates as an ACL user. Commands and connection
/// attempts fail after the default `redis.timeout`.
pub async fn connect(url: &str) -> anyhow::Result<RedisConnection> {
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
) -> anyhow::Result<RedisConnection> {
    let shown = crate::redact::url(url);
    let client = match ca {
        Some(ca) => redis::Client::build_with_tls(url, certificates(ca)),
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
    let connection = ConnectionManager::new_with_config(client, config)
        .await
        .with_context(|| format!("cannot reach redis at {shown}"))?;
    Ok(RedisConnection::Server(connection))
}

/// Connects to a Redis Cluster through any of its nodes `urls` (the rest are discovered from
/// the cluster's slot map), with the same TLS, credentials and timeouts as [`connect_with_ca`].
pub async fn connect_cluster(
    urls: &[&str],
    ca: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<RedisConnection> {
    let shown = urls
        .iter()
        .map(|url| crate::redact::url(url))
        .collect::<Vec<_>>()
        .join(",");
    let mut builder = ClusterClientBuilder::new(urls.iter().copied())
        .connection_timeout(timeout)
        .response_timeout(timeout)
        // As with one server: a single retry (after a moved slot, a failover or a dropped
        // connection) and a short wait before it, so an unreachable node answers within about
        // two timeouts and the next request tries again.
        .retries(1)
        .min_retry_wait(10)
        .max_retry_wait(100)
        .overall_response_timeout(Some(timeout * 2));
    if let Some(ca) = ca {
        builder = builder.certs(certificates(ca));
    }
    let client = builder
        .build()
        .with_context(|| format!("invalid redis cluster urls {shown}"))?;
    let connection = client
        .get_async_connection()
        .await
        .with_context(|| format!("cannot reach the redis cluster at {shown}"))?;
    Ok(RedisConnection::Cluster(connection))
}

fn certificates(ca: &str) -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: Some(ca.as_bytes().to_vec()),
    }
}
