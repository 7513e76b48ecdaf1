//! Database pools for PostgreSQL and SQLite behind one type, with embedded migrations.
//!
//! Both backends go through sqlx's `Any` driver and the SQL is written to run on both
//! (`$n` parameters, `BIGINT` milliseconds, `BYTEA` blobs, `ON CONFLICT`, `RETURNING`), so each
//! store has one implementation and one contract test suite run against both.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{Any, AnyPool, ConnectOptions, Transaction};

use url::Url;

use crate::config::{InfraConfig, PostgresConfig};
use crate::redact;

/// Which server is behind a pool, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, the production database.
    Postgres,
    /// SQLite, the embedded-mode database.
    Sqlite,
}

/// The URL of `database` on the configured server: the server URL's path replaced by the
/// database name, its query (`sslmode`, `sslrootcert`, ...) kept, and `postgres.ssl_mode` and
/// `postgres.ssl_root_cert` set in it when configured (they win over the URL's own).
pub fn database_url(postgres: &PostgresConfig, database: &str) -> anyhow::Result<String> {
    let server_url = postgres.url.as_deref().unwrap_or_default();
    let mut url = Url::parse(server_url)
        .with_context(|| format!("invalid postgres.url {}", redact::url(server_url)))?;
    url.set_path(&format!("/{database}"));
    let overrides = [
        ("sslmode", postgres.ssl_mode.clone()),
        (
            "sslrootcert",
            postgres
                .ssl_root_cert
                .as_ref()
                .map(|path| path.display().to_string()),
        ),
    ];
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            !overrides
                .iter()
                .any(|(name, value)| key == name && value.is_some())
        })
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let added = overrides
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), value.clone()?)));
    let pairs: Vec<(String, String)> = kept.into_iter().chain(added).collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Ok(url.into())
}

/// The URL of the PostgreSQL database named `name` (`{prefix}{name}`), or `None` in embedded
/// mode.
pub fn postgres_url(infra: &InfraConfig, name: &str) -> anyhow::Result<Option<String>> {
    if infra.postgres.url.is_none() {
        return Ok(None);
    }
    let database = format!("{}{name}", infra.postgres.database_prefix);
    database_url(&infra.postgres, &database).map(Some)
}

/// A connection pool to one service's database.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

impl Database {
    /// Connects to the database named `name`: `{prefix}{name}` on PostgreSQL when configured
    /// (created if missing), else `{data_dir}/{name}.db`.
    pub async fn connect(infra: &InfraConfig, name: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        match postgres_url(infra, name)? {
            Some(url) => {
                Self::connect_postgres_with(
                    &url,
                    infra.postgres.max_connections,
                    infra.postgres.acquire_timeout,
                )
                .await
            }
            None => Self::connect_sqlite(&infra.sqlite_path(name)).await,
        }
    }

    /// Connects to a PostgreSQL database URL, creating the database if it is missing, with the
    /// default `postgres.acquire_timeout`.
    pub async fn connect_postgres(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let acquire_timeout = PostgresConfig::default().acquire_timeout;
        Self::connect_postgres_with(url, max_connections, acquire_timeout).await
    }

    /// Like [`Self::connect_postgres`]; a request waits at most `acquire_timeout` for a
    /// connection, after which it fails as an outage (`crate::outage`).
    pub async fn connect_postgres_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let exists = Any::database_exists(url)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {}", redact::url(url)))?;
        if !exists
            && let Err(error) = Any::create_database(url).await
            && !Any::database_exists(url).await.unwrap_or(false)
        {
            return Err(error)
                .with_context(|| format!("cannot create database {}", redact::url(url)));
        }
        let options =
            AnyConnectOptions::from_str(url)?.log_statements(tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to {}", redact::url(url)))?;
        Ok(Self {
            pool,
            backend: Backend::Postgres,
        })
    }

    /// Opens (creating if needed) a SQLite database file in WAL mode.
    pub async fn connect_sqlite(path: &std::path::Path) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create data directory {}", parent.display()))?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options =
            AnyConnectOptions::from_str(&url)?.log_statements(tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            // SQLite has one writer at a time; a few connections serve readers meanwhile.
            .max_connections(4)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *connection)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *connection)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *connection)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
        })
    }

    /// Runs the platform's migrations (outbox, processed events), then the service's own.
    pub async fn migrate(&self, mut service_migrations: Migrator) -> anyhow::Result<()> {
        let mut platform_migrations = sqlx::migrate!("./migrations");
        // Each migrator sees the other's applied versions: not missing, just not its own.
        platform_migrations.set_ignore_missing(true);
        service_migrations.set_ignore_missing(true);
        for migrator in [platform_migrations, service_migrations] {
            migrator
                .run(&self.pool)
                .await
                .context("database migration failed")?;
        }
        Ok(())
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that read first and then found another
    /// connection had committed a write meanwhile fails with SQLITE_BUSY_SNAPSHOT (517), which
    /// no busy timeout waits out; this one waits for the other writer instead. PostgreSQL needs
    /// nothing of the kind.
    pub async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Any>> {
        match self.backend {
            Backend::Postgres => self.pool.begin().await,
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
        }
    }

    /// A transaction that will write and whose commit does not wait for the write-ahead log
    /// to reach the disk (PostgreSQL's `synchronous_commit = off`, for this transaction only):
    /// for writes a crash of the database server may lose without harm, because whoever
    /// relies on them recovers (a command's delivery mark: the command is delivered again and
    /// the device ignores the repeat). A crash loses at most the last few hundred milliseconds
    /// of such commits and never leaves the data inconsistent. SQLite: [`Self::begin_write`].
    pub async fn begin_write_unflushed(&self) -> sqlx::Result<Transaction<'static, Any>> {
        let mut transaction = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *transaction)
                .await?;
        }
        Ok(transaction)
    }

    /// Which server this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> PostgresConfig {
        PostgresConfig {
            url: Some(url.into()),
            ..PostgresConfig::default()
        }
    }

    #[test]
    fn the_database_goes_in_the_path_and_the_query_is_kept() -> anyhow::Result<()> {
        for (server, expected) in [
            ("postgres://mi@db:5432", "postgres://mi@db:5432/mi_identity"),
            (
                "postgres://mi@db:5432/",
                "postgres://mi@db:5432/mi_identity",
            ),
            ("postgres://mi@db/postgres", "postgres://mi@db/mi_identity"),
            (
                "postgres://mi:s%40cret@db:5432?sslmode=require",
                "postgres://mi:s%40cret@db:5432/mi_identity?sslmode=require",
            ),
            (
                "postgresql://db/?sslmode=verify-full&sslrootcert=/etc/ca.pem",
                "postgresql://db/mi_identity?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
            ),
        ] {
            assert_eq!(database_url(&config(server), "mi_identity")?, expected);
        }
        Ok(())
    }

    #[test]
    fn tls_settings_override_the_url() -> anyhow::Result<()> {
        let postgres = PostgresConfig {
            ssl_mode: Some("verify-full".into()),
            ssl_root_cert: Some("/run/ca.pem".into()),
            ..config("postgres://db:5432?sslmode=disable&application_name=mi")
        };
        assert_eq!(
            database_url(&postgres, "mi_x")?,
            "postgres://db:5432/mi_x?application_name=mi&sslmode=verify-full&sslrootcert=%2Frun%2Fca.pem"
        );
        Ok(())
    }
}
