//! What a service gives the platform, and the one path that runs it.
//!
//! A service names itself, its settings and its migrations, and builds its domain in
//! [`Service::build`]; everything else is done here, the same way for every service: its
//! settings are read and validated, its listener bound, its database connected and migrated,
//! its outbox relay started, then `build` runs (adding consumers and retention through the
//! [`ServiceHost`]), and the gRPC services it returns are served until shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;

use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codegen::Service as TowerService;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::Platform;
use crate::cli::Action;
use crate::config::{ConfigLoader, InfraConfig};
use crate::db::Database;
use crate::host::ServiceHost;

/// A service's config section: at least where it listens.
pub trait ServiceSettings:
    serde::de::DeserializeOwned + Default + std::fmt::Debug + Send + 'static
{
    /// The gRPC listen address.
    fn listen_addr(&self) -> SocketAddr;

    /// Checks what deserializing cannot (ranges, combinations of settings). The platform calls
    /// it before the service starts anything.
    fn validate(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// What the platform needs to know to run a service, alone or beside the others.
#[async_trait::async_trait]
pub trait Service {
    /// The service name: its config section, database, topic and consumer group.
    const NAME: &'static str;
    /// The migrations of its own database: `sqlx::migrate!("./migrations")`.
    const MIGRATIONS: Migrator;
    /// The service's own config section.
    type Settings: ServiceSettings;

    /// Builds the service on its started host (database migrated, outbox relayed): its domain,
    /// its consumers and retention (spawned on `host`), and the gRPC services it serves.
    async fn build(
        settings: Self::Settings,
        host: &mut ServiceHost,
    ) -> anyhow::Result<GrpcServices>;
}

/// The gRPC services one service serves, with the names health reports SERVING.
#[derive(Debug)]
pub struct GrpcServices {
    routes: Routes,
    names: Vec<&'static str>,
}

impl GrpcServices {
    /// One generated tonic server, such as `IdentityServiceServer::new(handler)`.
    pub fn new<S>(server: S) -> Self
    where
        S: TowerService<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            routes: Routes::new(server),
            names: vec![S::NAME],
        }
    }

    pub(crate) fn into_parts(self) -> (Routes, Vec<&'static str>) {
        (self.routes, self.names)
    }
}

/// A service whose settings are read and valid and whose listener is bound, ready to run.
#[derive(Debug)]
pub struct BoundService<S: Service> {
    settings: S::Settings,
    listener: TcpListener,
}

impl<S: Service> BoundService<S> {
    /// Reads and validates the service's settings and binds its listen address.
    pub async fn bind(loader: &ConfigLoader) -> anyhow::Result<Self> {
        let settings: S::Settings = loader.section(S::NAME)?;
        settings.validate()?;
        let listener = crate::server::bind(settings.listen_addr()).await?;
        Ok(Self { settings, listener })
    }

    /// The address actually bound (useful when the port was 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Starts the service's database, relay and background tasks, builds it, and serves it
    /// until `shutdown`.
    pub async fn run(self, platform: Platform, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut host = ServiceHost::start(S::NAME, platform, S::MIGRATIONS, shutdown).await?;
        let grpc = S::build(self.settings, &mut host).await?;
        host.serve(self.listener, grpc).await
    }
}

/// The `main` of a process: reads the command line (`--help`, `--version`, `migrate`), loads
/// configuration and starts telemetry; then either runs the `migrations` (each a service name
/// and its migrations) and exits, or starts the platform and runs `body` until SIGINT/SIGTERM.
/// Any error becomes a clear message and exit code 1.
pub async fn run_process<F, Fut>(
    process_name: &'static str,
    migrations: Vec<(&'static str, Migrator)>,
    body: F,
) -> std::process::ExitCode
where
    F: FnOnce(ConfigLoader, Platform, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let action = crate::cli::parse(process_name);
    let outcome = async {
        let loader = ConfigLoader::from_env()?;
        let infra = loader.infra()?;
        let telemetry = crate::telemetry::init(&infra.telemetry, process_name)?;
        let result = match action {
            Action::Migrate => migrate(&infra, migrations).await,
            Action::Serve => {
                let platform = Platform::connect(infra).await?;
                let shutdown = CancellationToken::new();
                let on_signal = shutdown.clone();
                tokio::spawn(async move {
                    crate::server::shutdown_signal().await;
                    tracing::info!("shutting down");
                    on_signal.cancel();
                });
                body(loader, platform, shutdown).await
            }
        };
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

/// Runs each service's migrations on its database.
async fn migrate(
    infra: &InfraConfig,
    migrations: Vec<(&'static str, Migrator)>,
) -> anyhow::Result<()> {
    for (service, migrator) in migrations {
        Database::connect(infra, service)
            .await?
            .migrate(migrator)
            .await?;
        tracing::info!(service, "database migrated");
    }
    Ok(())
}

/// The `main` of a single-service binary.
pub async fn run_single<S: Service>() -> std::process::ExitCode {
    run_process(
        S::NAME,
        vec![(S::NAME, S::MIGRATIONS)],
        |loader, platform, shutdown| async move {
            loader.check_top_level(&[S::NAME])?;
            BoundService::<S>::bind(&loader)
                .await?
                .run(platform, shutdown)
                .await
        },
    )
    .await
}
