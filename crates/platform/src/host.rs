//! The running parts of one service: its database, its outbox and the relay that publishes it,
//! its consumers and its retention, all stopped together when its gRPC server stops, within the
//! shutdown grace; and what reports on them: readiness and the service's gauges.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Platform;
use crate::backoff::Backoff;
use crate::consumer::{self, ConsumerSpec, EventHandler};
use crate::db::Database;
use crate::health::{self, PortHealth, ReadinessCheck};
use crate::metrics;
use crate::outage::unreachable_dependency;
use crate::outbox::Outbox;
use crate::retention::{self, Expiry};
use crate::service::GrpcServices;
use crate::wake::Wake;

/// Connects to the service's database, waiting while it is unreachable (PostgreSQL restarting,
/// or a deployment that started the services before it): retried with backoff, each failure a
/// warning, until it answers or `shutdown`. A replica started during an outage so comes up by
/// itself once the database is back, where exiting would leave it to whatever restarts
/// processes (or to a person). Any other failure (a bad URL, a refused password) ends the start
/// at once: waiting would not mend it.
async fn connect_when_reachable(
    platform: &Platform,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<Database> {
    let backoff = Backoff::infrastructure(platform.config.outbox.max_backoff);
    let mut failures: u32 = 0;
    loop {
        let error = match Database::connect(&platform.config, name).await {
            Ok(database) => return Ok(database),
            Err(error) if unreachable_dependency(&error).is_some() => error,
            Err(error) => return Err(error),
        };
        failures = failures.saturating_add(1);
        let wait = backoff.after(failures);
        tracing::warn!(
            service = name,
            failures,
            retry_in_ms = wait.as_millis() as u64,
            error = format!("{error:#}"),
            "database unreachable at start; waiting for it"
        );
        tokio::select! {
            () = shutdown.cancelled() => return Err(error.context("shut down while waiting for the database")),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

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
    /// The retention job's rules: the platform's tables, then what the service adds.
    expiries: Vec<Expiry>,
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
        let database = connect_when_reachable(&platform, name, &shutdown).await?;
        database.migrate(migrations).await?;
        let mut tasks = JoinSet::new();
        let outbox_written = start_wake(
            &platform,
            name,
            crate::outbox::WAKE_CHANNEL,
            platform.config.outbox.poll_interval,
            &mut tasks,
            &shutdown,
        )?;
        let outbox = Outbox::new(name, &events_topic(&platform, name), outbox_written);
        let relay = outbox.relay(
            database.clone(),
            Arc::clone(&platform.bus),
            platform.config.outbox.clone(),
        );
        tasks.spawn(relay.run(shutdown.clone()));
        let expiries = retention::platform_expiries(&platform.config.retention);
        Ok(Self {
            name,
            platform,
            database,
            outbox,
            shutdown,
            tasks,
            expiries,
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

    /// Adds rules to this service's retention job, which deletes expired rows every
    /// `retention.interval` while the service serves (the platform's tables always).
    pub fn add_retention(&mut self, expiries: Vec<Expiry>) {
        self.expiries.extend(expiries);
    }

    /// Wake-ups on `channel` across this service's replicas (see [`crate::wake`]); on
    /// PostgreSQL its listener runs until shutdown.
    pub fn spawn_wake(
        &mut self,
        channel: &str,
        fallback_poll: std::time::Duration,
    ) -> anyhow::Result<Wake> {
        start_wake(
            &self.platform,
            self.name,
            channel,
            fallback_poll,
            &mut self.tasks,
            &self.shutdown,
        )
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

    /// Serves gRPC until shutdown, then waits for the background tasks to finish; all of it
    /// within `lifecycle.shutdown_grace` of the shutdown, after which what still runs is
    /// dropped so that the process can exit.
    pub(crate) async fn serve(
        self,
        listener: TcpListener,
        grpc: GrpcServices,
    ) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        let grace = self.platform.config.lifecycle.shutdown_grace;
        let name = self.name;
        let stopped = self.serve_then_stop(listener, grpc);
        match within_grace(stopped, &shutdown, grace).await {
            Some(outcome) => outcome,
            None => {
                tracing::warn!(
                    service = name,
                    grace_ms = grace.as_millis() as u64,
                    "did not stop within the shutdown grace; dropping what still runs"
                );
                Ok(())
            }
        }
    }

    async fn serve_then_stop(
        mut self,
        listener: TcpListener,
        grpc: GrpcServices,
    ) -> anyhow::Result<()> {
        let address: SocketAddr = listener.local_addr()?;
        tracing::info!(service = self.name, %address, "listening");
        let (routes, names) = grpc.into_parts();
        let health = PortHealth::new(&names).await;
        self.spawn_observers(&health.0);
        self.tasks.spawn(retention::run(
            self.name,
            self.database.clone(),
            std::mem::take(&mut self.expiries),
            self.platform.config.retention.clone(),
            self.shutdown.clone(),
        ));
        let tls = &self.platform.config.tls;
        let served =
            crate::server::serve(listener, routes, &names, health, tls, self.shutdown.clone())
                .await;
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined
                .context("service task panicked")?
                .with_context(|| format!("{} background task failed", self.name))?;
        }
        served
    }

    /// Starts readiness (the database and the bus answer) and, when metrics are served, the
    /// sampling of this service's gauges.
    fn spawn_observers(&mut self, health: &PortHealth) {
        let interval = self.platform.config.lifecycle.readiness_interval;
        let database = self.database.clone();
        let bus = Arc::clone(&self.platform.bus);
        let topic = vec![events_topic(&self.platform, self.name)];
        let checks: Vec<(&'static str, ReadinessCheck)> = vec![
            (
                "database",
                Box::new(move || {
                    let database = database.clone();
                    Box::pin(async move {
                        sqlx::query("SELECT 1").execute(database.pool()).await?;
                        Ok(())
                    })
                }),
            ),
            // Creating a topic that exists is a round trip to the broker that changes nothing.
            (
                "bus",
                Box::new(move || {
                    let bus = Arc::clone(&bus);
                    let topic = topic.clone();
                    Box::pin(async move { bus.create_topics(&topic).await })
                }),
            ),
        ];
        self.tasks.spawn(health::watch_readiness(
            self.name,
            health.clone(),
            checks,
            interval,
            self.shutdown.clone(),
        ));
        if self.platform.config.metrics.listen_addr.is_some() {
            self.tasks.spawn(metrics::sample_service(
                self.name,
                self.database.clone(),
                interval,
                self.shutdown.clone(),
            ));
        }
    }
}

/// Runs `work` to its end, unless it is still running `grace` after `shutdown`: then `None`.
async fn within_grace<T>(
    work: impl Future<Output = T>,
    shutdown: &CancellationToken,
    grace: std::time::Duration,
) -> Option<T> {
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        outcome = work => Some(outcome),
        () = deadline => None,
    }
}

/// Wake-ups on `channel` for service `name`, with their PostgreSQL listener among `tasks`.
fn start_wake(
    platform: &Platform,
    name: &str,
    channel: &str,
    fallback_poll: std::time::Duration,
    tasks: &mut JoinSet<anyhow::Result<()>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Wake> {
    let url = crate::db::postgres_url(&platform.config, name)?;
    let wake = Wake::new(channel, url.is_some(), fallback_poll);
    if let Some(url) = url {
        tasks.spawn(wake.clone().listen(url, shutdown.clone()));
    }
    Ok(wake)
}

/// The events topic of a service (this one's or another's).
fn events_topic(platform: &Platform, service: &str) -> String {
    platform.config.topic(&format!("{service}.events"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::within_grace;

    #[tokio::test]
    async fn work_still_running_after_the_grace_is_dropped() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let started = tokio::time::Instant::now();
        let outcome = within_grace(
            std::future::pending::<()>(),
            &shutdown,
            Duration::from_millis(50),
        )
        .await;
        assert_eq!(outcome, None);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn the_grace_counts_from_the_shutdown_and_lets_work_finish() {
        let shutdown = CancellationToken::new();
        let work = async {
            // Longer than the grace, but finished within the grace after the shutdown.
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        };
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        });
        let outcome = within_grace(work, &shutdown, Duration::from_millis(250)).await;
        assert_eq!(outcome, Some("done"));
    }
}
