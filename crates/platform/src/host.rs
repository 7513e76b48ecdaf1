//! The running parts of one service: its database, its outbox and the relay that publishes it,
//! its consumers and its retention, all stopped together when its gRPC server stops.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Platform;
use crate::consumer::{self, ConsumerSpec, EventHandler};
use crate::db::Database;
use crate::outbox::Outbox;
use crate::retention::{self, Expiry};
use crate::service::GrpcServices;
use crate::wake::Wake;

/// One service's database and outbox, and the background tasks run beside its gRPC server.
/// [`crate::service::Service::build`] receives it started.
#[derive(Debug)]
pub struct ServiceHost {
    name: &'static str,
    platform: Platform,
    database: Database,
    outbox: Outbox,
    shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl ServiceHost {
    /// Starts the service called `name` (also its database and consumer group name): connects
    /// and migrates its own database, and starts the relay of its outbox, which publishes on
    /// `{prefix}{name}.events`.
    pub(crate) async fn start(
        name: &'static str,
        platform: Platform,
        migrations: Migrator,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let database = Database::connect(&platform.config, name).await?;
        database.migrate(migrations).await?;
        let outbox = Outbox::new(name, &events_topic(&platform, name));
        let relay = outbox.relay(
            database.clone(),
            Arc::clone(&platform.bus),
            platform.config.outbox.clone(),
        );
        let mut tasks = JoinSet::new();
        tasks.spawn(relay.run(shutdown.clone()));
        Ok(Self {
            name,
            platform,
            database,
            outbox,
            shutdown,
            tasks,
        })
    }

    /// The infrastructure shared with the other services of this process.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The service's own database, migrated.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The service's outbox, relayed to its events topic.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Starts this service's consumer group on the events of `services`.
    pub fn spawn_consumer(&mut self, services: &[&str], handler: Arc<dyn EventHandler>) {
        let spec = ConsumerSpec {
            group: self.consumer_group(),
            topics: services
                .iter()
                .map(|service| events_topic(&self.platform, service))
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
    pub fn spawn_retention(&mut self, expiries: Vec<Expiry>) {
        self.tasks.spawn(retention::run(
            self.database.clone(),
            expiries,
            self.platform.config.retention.clone(),
            self.shutdown.clone(),
        ));
    }

    /// Wake-ups on `channel` across this service's replicas (see [`crate::wake`]); on
    /// PostgreSQL its listener runs until shutdown.
    pub fn spawn_wake(
        &mut self,
        channel: &str,
        fallback_poll: std::time::Duration,
    ) -> anyhow::Result<Wake> {
        let url = crate::db::postgres_url(&self.platform.config, self.name)?;
        let wake = Wake::new(channel, url.is_some(), fallback_poll);
        if let Some(url) = url {
            self.tasks
                .spawn(wake.clone().listen(url, self.shutdown.clone()));
        }
        Ok(wake)
    }

    /// Cancelled when the service stops: long-lived streams end with it, so they do not hold
    /// a graceful shutdown up.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs `task` beside the gRPC server until shutdown, which it is given to watch.
    pub fn spawn_task<F>(&mut self, task: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.spawn(task(self.shutdown.clone()));
    }

    /// The consumer group of this service (its idempotency records are kept under this name).
    pub fn consumer_group(&self) -> String {
        self.platform.config.topic(self.name)
    }

    /// Serves gRPC until shutdown, then waits for the background tasks to finish.
    pub(crate) async fn serve(
        mut self,
        listener: TcpListener,
        grpc: GrpcServices,
    ) -> anyhow::Result<()> {
        let address: SocketAddr = listener.local_addr()?;
        tracing::info!(service = self.name, %address, "listening");
        let (routes, names) = grpc.into_parts();
        let tls = &self.platform.config.tls;
        let served =
            crate::server::serve(listener, routes, &names, tls, self.shutdown.clone()).await;
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined
                .context("service task panicked")?
                .with_context(|| format!("{} background task failed", self.name))?;
        }
        served
    }
}

/// The events topic of a service (this one's or another's).
fn events_topic(platform: &Platform, service: &str) -> String {
    platform.config.topic(&format!("{service}.events"))
}
