//! Which failures mean a dependency is down (PostgreSQL unreachable or restarting, no pooled
//! connection within `postgres.acquire_timeout`, Redis unreachable or timing out) rather than
//! a bug: a request that meets one answers UNAVAILABLE, which clients retry, not INTERNAL.

use std::fmt;

/// A dependency a request could not reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The service's PostgreSQL (or SQLite) database.
    Database,
    /// Redis: rate limits, brute-force counters, short-lived state.
    Redis,
}

impl Dependency {
    /// The name clients see in the error's metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Redis => "redis",
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An outage of a dependency, met where the original error could not be passed on: one
/// failed transaction shared by many callers (`crate::group_commit`) gives each its message,
/// and this keeps it an outage for them (an outage is retried, never dead-lettered).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0} unreachable")]
pub struct Unreachable(pub Dependency);

/// The dependency whose outage `error` (or one of its causes) is, if it is one.
pub fn unreachable_dependency(error: &anyhow::Error) -> Option<Dependency> {
    error.chain().find_map(|cause| {
        if let Some(Unreachable(dependency)) = cause.downcast_ref::<Unreachable>() {
            return Some(*dependency);
        }
        if let Some(error) = cause.downcast_ref::<sqlx::Error>() {
            return database_outage(error).then_some(Dependency::Database);
        }
        if let Some(error) = cause.downcast_ref::<redis::RedisError>() {
            return redis_outage(error).then_some(Dependency::Redis);
        }
        None
    })
}

fn database_outage(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Connection exceptions (class 08), the server shutting down or starting up (57P01-03)
        // and a full server (53300).
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

fn redis_outage(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        // On Redis Cluster: no connection to the node holding the slot, the cluster failing
        // (slots not covered while a primary is down), a primary down, a slot migrating, or a
        // redirection (MOVED, ASK) still unanswered when the client's retry is spent: what a
        // surviving node says of a dead node's slots.
        || error.is_cluster_error()
        || matches!(
            error.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(ServerErrorKind::MasterDown | ServerErrorKind::BusyLoading)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_outages_and_others_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let pool = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("cannot begin");
        assert_eq!(unreachable_dependency(&pool), Some(Dependency::Database));
        let io = anyhow::Error::new(sqlx::Error::Io(refused)).context("query failed");
        assert_eq!(unreachable_dependency(&io), Some(Dependency::Database));
        let redis = anyhow::Error::new(redis::RedisError::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(unreachable_dependency(&redis), Some(Dependency::Redis));

        for kind in [
            redis::ErrorKind::ClusterConnectionNotFound,
            redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown),
            redis::ErrorKind::Server(redis::ServerErrorKind::MasterDown),
            redis::ErrorKind::Server(redis::ServerErrorKind::Moved),
        ] {
            let cluster = anyhow::Error::new(redis::RedisError::from((kind, "node down")));
            assert_eq!(unreachable_dependency(&cluster), Some(Dependency::Redis));
        }
        let cross_slot = anyhow::Error::new(redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::CrossSlot),
            "keys in different slots",
        )));
        assert_eq!(
            unreachable_dependency(&cross_slot),
            None,
            "a bug, not an outage"
        );

        let missing = anyhow::Error::new(sqlx::Error::RowNotFound);
        assert_eq!(unreachable_dependency(&missing), None);
        let bug = anyhow::anyhow!("unexpected state");
        assert_eq!(unreachable_dependency(&bug), None);
    }
}
