//! Runs one service: its gRPC server, its outbox relay and its consumers, stopped together.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::Platform;
use crate::consumer::{self, ConsumerSpec, EventHandler};
use crate::db::Database;
use crate::outbox::Outbox;

/// The background tasks of one service, run beside its gRPC server.
#[derive(Debug)]
pub struct ServiceHost {
    name: &'static str,
    platform: Platform,
    shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl ServiceHost {
    /// A host for the service called `name` (also its database and consumer group name).
    pub fn new(name: &'static str, platform: Platform, shutdown: CancellationToken) -> Self {
        Self {
            name,
            platform,
            shutdown,
            tasks: JoinSet::new(),
        }
    }

    /// The service's own database, connected and migrated.
    pub async fn database(&self, migrations: sqlx::migrate::Migrator) -> anyhow::Result<Database> {
        let database = Database::connect(&self.platform.config, self.name).await?;
        database.migrate(migrations).await?;
        Ok(database)
    }

    /// The outbox for the events this service publishes, on `{prefix}{name}.events`.
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.name, &self.events_topic(self.name))
    }

    /// The events topic of a service (this one's or another's).
    pub fn events_topic(&self, service: &str) -> String {
        self.platform.config.topic(&format!("{service}.events"))
    }

    /// Starts the relay that publishes `outbox` from `database`.
    pub fn spawn_relay(&mut self, outbox: &Outbox, database: &Database) {
        let relay = outbox.relay(database.clone(), Arc::clone(&self.platform.bus), self.platform.config.outbox.clone());
        self.tasks.spawn(relay.run(self.shutdown.clone()));
    }

    /// Starts this service's consumer group on the events of `services`.
    pub fn spawn_consumer(&mut self, services: &[&str], handler: Arc<dyn EventHandler>) {
        let spec = ConsumerSpec {
            group: self.consumer_group(),
            topics: services.iter().map(|service| self.events_topic(service)).collect(),
            dead_letter_topic: self.platform.config.topic(&format!("{}.dead-letter", self.name)),
        };
        self.tasks.spawn(consumer::run_consumer(
            Arc::clone(&self.platform.bus),
            spec,
            self.platform.config.consumer.clone(),
            handler,
            self.shutdown.clone(),
        ));
    }

    /// The consumer group of this service (its idempotency records are kept under this name).
    pub fn consumer_group(&self) -> String {
        self.platform.config.topic(self.name)
    }

    /// Serves gRPC until shutdown, then waits for the background tasks to finish.
    pub async fn serve(mut self, listener: TcpListener, routes: Routes, service_names: &[&str]) -> anyhow::Result<()> {
        let address: SocketAddr = listener.local_addr()?;
        tracing::info!(service = self.name, %address, "listening");
        let served = crate::server::serve(listener, routes, service_names, self.shutdown.clone()).await;
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined
                .context("service task panicked")?
                .with_context(|| format!("{} background task failed", self.name))?;
        }
        served
    }
}
