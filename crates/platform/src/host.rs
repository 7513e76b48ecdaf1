//! Runs one service: its gRPC server, its outbox relay and its consumers, stopped together.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::Platform;
use crate::config::ConfigLoader;
use crate::consumer::{self, ConsumerSpec, EventHandler};
use crate::db::Database;
use crate::outbox::Outbox;
use crate::retention::{self, Expiry};

/// The background tasks of one service, run beside its gRPC server.
#[derive(Debug)]
pub struct ServiceHost {
    name: &'static str,
    platform: Platform,
    shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl ServiceHost {
    /// Starts the service called `name` (also its database and consumer group name): connects
    /// and migrates its own database, and starts the relay of its outbox, which publishes on
    /// `{prefix}{name}.events`.
    pub async fn start(
        name: &'static str,
        platform: Platform,
        migrations: sqlx::migrate::Migrator,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(Self, Database, Outbox)> {
        let mut host = Self {
            name,
            platform,
            shutdown,
            tasks: JoinSet::new(),
        };
        let database = Database::connect(&host.platform.config, name).await?;
        database.migrate(migrations).await?;
        let outbox = Outbox::new(name, &host.events_topic(name));
        let relay = outbox.relay(
            database.clone(),
            Arc::clone(&host.platform.bus),
            host.platform.config.outbox.clone(),
        );
        host.tasks.spawn(relay.run(host.shutdown.clone()));
        Ok((host, database, outbox))
    }

    /// The events topic of a service (this one's or another's).
    pub fn events_topic(&self, service: &str) -> String {
        self.platform.config.topic(&format!("{service}.events"))
    }

    /// Starts this service's consumer group on the events of `services`.
    pub fn spawn_consumer(&mut self, services: &[&str], handler: Arc<dyn EventHandler>) {
        let spec = ConsumerSpec {
            group: self.consumer_group(),
            topics: services
                .iter()
                .map(|service| self.events_topic(service))
                .collect(),
            dead_letter_topic: self
                .platform
                .config
                .topic(&format!("{}.dead-letter", self.name)),
        };
        self.tasks.spawn(consumer::run_consumer(
            Arc::clone(&self.platform.bus),
            spec,
            self.platform.config.consumer.clone(),
            handler,
            self.shutdown.clone(),
        ));
    }

    /// Deletes this service's expired rows every `retention.interval` until shutdown.
    pub fn spawn_retention(&mut self, database: Database, expiries: Vec<Expiry>) {
        self.tasks.spawn(retention::run(
            database,
            expiries,
            self.platform.config.retention.clone(),
            self.shutdown.clone(),
        ));
    }

    /// The consumer group of this service (its idempotency records are kept under this name).
    pub fn consumer_group(&self) -> String {
        self.platform.config.topic(self.name)
    }

    /// Serves gRPC until shutdown, then waits for the background tasks to finish.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        routes: Routes,
        service_names: &[&str],
    ) -> anyhow::Result<()> {
        let address: SocketAddr = listener.local_addr()?;
        tracing::info!(service = self.name, %address, "listening");
        let served =
            crate::server::serve(listener, routes, service_names, self.shutdown.clone()).await;
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined
                .context("service task panicked")?
                .with_context(|| format!("{} background task failed", self.name))?;
        }
        served
    }
}

/// A service's config section: at least where it listens.
pub trait ServiceSettings:
    serde::de::DeserializeOwned + Default + std::fmt::Debug + Send + 'static
{
    /// The gRPC listen address.
    fn listen_addr(&self) -> SocketAddr;
}

/// What the platform needs to know to run a service, alone or beside the others.
#[async_trait::async_trait]
pub trait Service {
    /// The service name: its config section, database, topic and consumer group.
    const NAME: &'static str;
    /// The service's own config section.
    type Settings: ServiceSettings;

    /// Runs the service on a bound listener until `shutdown`.
    async fn run(
        platform: Platform,
        settings: Self::Settings,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()>;
}

/// A service whose listener is bound, ready to run.
#[derive(Debug)]
pub struct BoundService<S: Service> {
    settings: S::Settings,
    listener: TcpListener,
}

impl<S: Service> BoundService<S> {
    /// Reads the service's settings and binds its listen address.
    pub async fn bind(loader: &ConfigLoader) -> anyhow::Result<Self> {
        let settings: S::Settings = loader.section(S::NAME)?;
        let listener = crate::server::bind(settings.listen_addr()).await?;
        Ok(Self { settings, listener })
    }

    /// The address actually bound (useful when the port was 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Runs the service until `shutdown`.
    pub async fn run(self, platform: Platform, shutdown: CancellationToken) -> anyhow::Result<()> {
        S::run(platform, self.settings, self.listener, shutdown).await
    }
}

/// The `main` of a process: loads configuration, starts telemetry and the platform, runs
/// `body` until SIGINT/SIGTERM, and turns any error into a clear message and exit code 1.
pub async fn run_process<F, Fut>(process_name: &str, body: F) -> std::process::ExitCode
where
    F: FnOnce(ConfigLoader, Platform, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let outcome = async {
        let loader = ConfigLoader::from_env()?;
        let infra = loader.infra()?;
        let telemetry = crate::telemetry::init(&infra.telemetry, process_name)?;
        let platform = Platform::connect(infra).await?;
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            crate::server::shutdown_signal().await;
            tracing::info!("shutting down");
            on_signal.cancel();
        });
        let result = body(loader, platform, shutdown).await;
        telemetry.shutdown();
        result
    }
    .await;
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{process_name} stopped");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The `main` of a single-service binary.
pub async fn run_single<S: Service>() -> std::process::ExitCode {
    run_process(S::NAME, |loader, platform, shutdown| async move {
        BoundService::<S>::bind(&loader)
            .await?
            .run(platform, shutdown)
            .await
    })
    .await
}
