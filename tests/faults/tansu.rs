//! A tansu broker of the test's own, on durable storage (its `postgres` engine in a fresh
//! database), that the test can kill and restart: `memory://` loses every topic and committed
//! offset on a restart, which is not what a Kafka broker crash means.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mi_test_support as testing;
use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;

/// tansu 0.6.0 ships only the SQLite form of its schema; this is its PostgreSQL form.
const SCHEMA: &str = include_str!("tansu-postgres-schema.sql");

/// A running (or killed) durable broker.
pub(crate) struct DurableTansu {
    port: u16,
    storage: String,
    log: PathBuf,
    process: Option<Child>,
}

impl DurableTansu {
    /// Makes a storage database, loads tansu's schema into it and starts a broker on a free port.
    pub(crate) async fn start() -> Self {
        let server = testing::postgres_url();
        let database = testing::unique_name("t_tansu_");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{server}/postgres"))
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute(format!("CREATE DATABASE \"{database}\"").as_str())
            .await
            .expect("create tansu's database");
        let storage_pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{server}/{database}"))
            .await
            .expect("connect to tansu's database");
        storage_pool
            .execute(SCHEMA)
            .await
            .expect("load tansu's schema");
        // tansu verifies the server certificate against the host name when the server offers
        // TLS; the test server's certificate, if any, is not for 127.0.0.1.
        let storage = format!("{server}/{database}?sslmode=disable");
        let port = free_port();
        let log = std::env::temp_dir().join(format!("{database}.log"));
        let mut broker = Self {
            port,
            storage,
            log,
            process: None,
        };
        broker.restart().await;
        broker
    }

    /// `host:port` for clients.
    pub(crate) fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the broker: no shutdown, as in a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().expect("kill tansu");
            process.wait().expect("reap tansu");
        }
    }

    /// SIGSTOPs the broker: its connections stay open and nothing answers, as when a broker's
    /// machine stalls.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONTs a paused broker.
    pub(crate) fn unpause(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("tansu is running");
        let status = Command::new("kill")
            .args([signal, &process.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} tansu: {status}");
    }

    /// Starts the broker again on the same port and storage; returns once it listens.
    pub(crate) async fn restart(&mut self) {
        assert!(self.process.is_none(), "tansu is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("tansu log file");
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let process = Command::new(binary())
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", &self.storage])
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start tansu (scripts/test installs it)");
        self.process = Some(process);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "tansu did not listen on {}; see {}",
            self.port,
            self.log.display()
        );
    }
}

impl Drop for DurableTansu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The tansu binary `scripts/test` installs (with the `postgres` storage engine).
fn binary() -> PathBuf {
    if let Ok(root) = std::env::var("MI_TANSU_ROOT") {
        return PathBuf::from(root).join("bin/tansu");
    }
    let cargo_home = std::env::var("CARGO_HOME").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    cargo_home.join("bin/tansu")
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}
