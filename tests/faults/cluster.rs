//! The four services as separate processes of their own binaries, two replicas of each, on one
//! set of servers: what a deployment runs, here on one machine so that a test can SIGKILL,
//! restart or lose any replica.
//!
//! The binaries are the ones cargo built beside this test binary (`scripts/test` builds them
//! before the fault tests); a replica's output goes to a log file under the temp directory,
//! named when it does not start.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// How long a replica gets from its start to answering health checks (migrations, topics).
const STARTS_WITHIN: Duration = Duration::from_secs(60);

/// One of the platform's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Identity,
    Verification,
    Notification,
    Device,
}

impl Service {
    pub(crate) const ALL: [Self; 4] = [
        Self::Identity,
        Self::Verification,
        Self::Notification,
        Self::Device,
    ];

    /// Its configuration section (`MI_<SECTION>__…`), also its name in the table.
    pub(crate) fn section(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Verification => "verification",
            Self::Notification => "notification",
            Self::Device => "device",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Self::Identity => "mi-identity",
            Self::Verification => "mi-verification",
            Self::Notification => "mi-notification",
            Self::Device => "mi-device-registry",
        }
    }
}

/// The settings every replica gets: shared ones (`MI_POSTGRES__URL`, …) for all, a service's
/// section (`MI_VERIFICATION__…`) only for that service, since a single-service binary refuses
/// other services' sections in server mode.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    variables: Vec<(String, String)>,
}

impl Settings {
    pub(crate) fn set(mut self, variable: &str, value: impl Into<String>) -> Self {
        self.variables.push((variable.to_owned(), value.into()));
        self
    }

    fn for_service(&self, service: Service) -> impl Iterator<Item = &(String, String)> {
        let sections: Vec<String> = Service::ALL
            .iter()
            .filter(|other| **other != service)
            .map(|other| format!("MI_{}__", other.section().to_uppercase()))
            .collect();
        self.variables.iter().filter(move |(variable, _)| {
            !sections
                .iter()
                .any(|section| variable.starts_with(section.as_str()))
        })
    }
}

/// One replica: a process of a service's binary on a port of its own.
pub(crate) struct Replica {
    service: Service,
    port: u16,
    log: PathBuf,
    // Each replica writes its development files (the JWK set) to a directory of its own.
    data_dir: tempfile::TempDir,
    process: Option<Child>,
}

impl Replica {
    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the replica: no shutdown, as in a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().expect("kill a replica");
            process.wait().expect("reap a replica");
        }
    }

    /// Starts the replica on its port; returns once it answers health checks.
    pub(crate) async fn start(&mut self, settings: &Settings) {
        assert!(self.process.is_none(), "the replica is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("replica log file");
        let binary = binaries().join(self.service.binary());
        let listen = format!("MI_{}__LISTEN_ADDR", self.service.section().to_uppercase());
        let process = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(settings.for_service(self.service).cloned())
            .env(listen, format!("127.0.0.1:{}", self.port))
            .env("MI_DATA_DIR", self.data_dir.path())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}): build the service binaries first \
                     (scripts/test does: cargo build -p mi-identity -p mi-verification \
                     -p mi-notification -p mi-device-registry)",
                    binary.display()
                )
            });
        self.process = Some(process);
        let started = Instant::now();
        while !self.answers_health().await {
            let exited = self
                .process
                .as_mut()
                .and_then(|process| process.try_wait().ok().flatten());
            assert!(
                exited.is_none() && started.elapsed() < STARTS_WITHIN,
                "{} on port {} did not start ({exited:?}); see {}",
                self.service.binary(),
                self.port,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether the server is live (`""`, what a probe asks; readiness may still wait for the
    /// broker). A listener that is bound but not served yet answers nothing: bounded.
    async fn answers_health(&self) -> bool {
        let check = async {
            let channel = tonic::transport::Channel::from_shared(self.url())
                .expect("replica url")
                .connect()
                .await
                .ok()?;
            HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
                .ok()
        };
        tokio::time::timeout(Duration::from_secs(2), check)
            .await
            .ok()
            .flatten()
            .is_some()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two replicas of each service.
pub(crate) struct Cluster {
    pub settings: Settings,
    replicas: Vec<Replica>,
}

impl Cluster {
    pub(crate) const REPLICAS: usize = 2;

    /// Starts every replica: the first of each service (which creates its database and runs
    /// its migrations) before the second.
    pub(crate) async fn start(settings: Settings, run_id: &str) -> Self {
        let mut replicas = Vec::new();
        for index in 0..Self::REPLICAS {
            for service in Service::ALL {
                replicas.push(Replica {
                    service,
                    port: crate::tansu::free_port(),
                    log: std::env::temp_dir()
                        .join(format!("{run_id}-{}-{index}.log", service.section())),
                    data_dir: tempfile::tempdir().expect("data directory"),
                    process: None,
                });
            }
        }
        let mut cluster = Self { settings, replicas };
        for index in 0..Self::REPLICAS {
            for service in Service::ALL {
                let settings = cluster.settings.clone();
                cluster.replica(service, index).start(&settings).await;
            }
        }
        cluster
    }

    /// Replica `index` (0 or 1) of `service`.
    pub(crate) fn replica(&mut self, service: Service, index: usize) -> &mut Replica {
        self.replicas
            .iter_mut()
            .filter(|replica| replica.service == service)
            .nth(index)
            .expect("a replica of the service")
    }

    /// Every replica's URL of `service`, whether it runs or not (a client's static list).
    pub(crate) fn urls(&self, service: Service) -> Vec<String> {
        self.replicas
            .iter()
            .filter(|replica| replica.service == service)
            .map(Replica::url)
            .collect()
    }
}

/// Where cargo put the binaries of this build: this test binary is in `<profile>/deps/`.
fn binaries() -> PathBuf {
    let test_binary = std::env::current_exe().expect("test binary");
    test_binary
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}
