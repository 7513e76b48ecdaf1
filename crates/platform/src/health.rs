//! `grpc.health.v1` for one port: SERVING while the service's dependencies answer, NOT_SERVING
//! as soon as shutdown starts, and `Watch` streams that end at shutdown.
//!
//! tonic-health's own `Watch` stream lives as long as the status it watches, and a graceful
//! server waits for every open stream: one watching client (a load balancer, grpc-health-probe
//! `-watch`) kept the process up past SIGTERM until Kubernetes killed it. Here each stream
//! sends the NOT_SERVING it was waiting for and then ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;
use tokio::sync::Mutex;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::Health as HealthApi;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService, WatchStream};

/// The health of one gRPC port. Its own services are SERVING while their dependencies answer
/// (readiness); the server as a whole (`""`, what a probe without a service name asks) is
/// SERVING until shutdown whatever they do (liveness: restarting a process does not bring a
/// database back).
#[derive(Debug, Clone)]
pub struct PortHealth {
    reporter: HealthReporter,
    names: Vec<String>,
    /// Set once shutdown starts; readiness changes nothing after it.
    stopping: Arc<Mutex<bool>>,
    watches_end: CancellationToken,
}

impl PortHealth {
    /// Health for a port serving `service_names`, all SERVING, and the service answering it.
    pub async fn new(service_names: &[&str]) -> (Self, EndingHealth) {
        let reporter = HealthReporter::new();
        let names: Vec<String> = service_names.iter().copied().map(str::to_owned).collect();
        for name in names.iter().map(String::as_str).chain([LIVENESS]) {
            reporter
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        let watches_end = CancellationToken::new();
        let service = EndingHealth {
            inner: HealthService::from_health_reporter(reporter.clone()),
            watches_end: watches_end.clone(),
        };
        let health = Self {
            reporter,
            names,
            stopping: Arc::new(Mutex::new(false)),
            watches_end,
        };
        (health, service)
    }

    /// The reporter, for entries beside the services' own (e.g. `mi.consumers`).
    pub fn reporter(&self) -> HealthReporter {
        self.reporter.clone()
    }

    /// Reports whether the port's services can serve; ignored once shutdown has started.
    pub async fn set_ready(&self, ready: bool) {
        let stopping = self.stopping.lock().await;
        if !*stopping {
            for name in &self.names {
                self.reporter
                    .set_service_status(name, serving_status(ready))
                    .await;
            }
        }
    }

    /// Reports NOT_SERVING for good, for the services and the server, and ends every open
    /// `Watch` stream once it has sent it.
    pub async fn stop_serving(&self) {
        let mut stopping = self.stopping.lock().await;
        *stopping = true;
        for name in self.names.iter().map(String::as_str).chain([LIVENESS]) {
            self.reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        self.watches_end.cancel();
    }
}

/// The name under which the server as a whole reports: the empty one.
const LIVENESS: &str = "";

fn serving_status(ready: bool) -> ServingStatus {
    match ready {
        true => ServingStatus::Serving,
        false => ServingStatus::NotServing,
    }
}

/// tonic-health's service, with `Watch` streams that end at shutdown.
#[derive(Debug)]
pub struct EndingHealth {
    inner: HealthService,
    watches_end: CancellationToken,
}

#[tonic::async_trait]
impl HealthApi for EndingHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = EndingWatch;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let inner = self.inner.watch(request).await?.into_inner();
        Ok(Response::new(EndingWatch {
            inner,
            end: Box::pin(self.watches_end.clone().cancelled_owned()),
        }))
    }
}

/// A `Watch` stream that, once shutdown starts, sends the status change already waiting (the
/// NOT_SERVING set just before) and ends.
pub struct EndingWatch {
    inner: WatchStream,
    end: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl std::fmt::Debug for EndingWatch {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EndingWatch")
            .finish_non_exhaustive()
    }
}

impl Stream for EndingWatch {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(context);
        if next.is_ready() {
            return next;
        }
        match self.end.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Something a service needs to answer, checked for readiness: its database, the broker.
pub type ReadinessCheck = Box<dyn Fn() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// Checks every `interval` that each of `checks` answers within it, and reports the port's
/// services SERVING only while all do (they start SERVING); logs each change. Ends at
/// `shutdown`.
pub async fn watch_readiness(
    service: &'static str,
    health: PortHealth,
    checks: Vec<(&'static str, ReadinessCheck)>,
    interval: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut was_ready = true;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        let mut failed = Vec::new();
        for (name, check) in &checks {
            let outcome = match tokio::time::timeout(interval, check()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(anyhow::anyhow!("no answer within {interval:?}")),
            };
            if let Err(error) = outcome {
                failed.push(format!("{name}: {error:#}"));
            }
        }
        let ready = failed.is_empty();
        // Only changes: every status set is sent to every `Watch` stream, and the protocol
        // sends a watcher a status when it changes.
        if ready != was_ready {
            match ready {
                true => tracing::info!(service, "ready again: its dependencies answer"),
                false => tracing::warn!(service, failed = failed.join("; "), "not ready"),
            }
            health.set_ready(ready).await;
            was_ready = ready;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use futures::StreamExt;
    use tokio_util::sync::CancellationToken;
    use tonic::Request;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_server::Health as _;

    use super::{EndingHealth, PortHealth, ReadinessCheck, watch_readiness};

    const NAME: &str = "test.Service";

    async fn status(service: &EndingHealth, name: &str) -> i32 {
        let request = Request::new(HealthCheckRequest {
            service: name.into(),
        });
        service.check(request).await.unwrap().into_inner().status
    }

    async fn becomes(service: &EndingHealth, wanted: ServingStatus) {
        for _ in 0..200 {
            if status(service, NAME).await == i32::from(wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("health never became {wanted:?}");
    }

    #[tokio::test]
    async fn readiness_follows_the_checks_until_shutdown() {
        let (health, service) = PortHealth::new(&[NAME]).await;
        let reachable = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&reachable);
        let check: ReadinessCheck = Box::new(move || {
            let up = flag.load(Ordering::SeqCst);
            Box::pin(async move {
                anyhow::ensure!(up, "refused");
                Ok(())
            })
        });
        let shutdown = CancellationToken::new();
        let readiness = tokio::spawn(watch_readiness(
            "test",
            health.clone(),
            vec![("database", check)],
            Duration::from_millis(10),
            shutdown.clone(),
        ));
        becomes(&service, ServingStatus::Serving).await;
        let request = Request::new(HealthCheckRequest {
            service: NAME.into(),
        });
        let mut watch = service.watch(request).await.unwrap().into_inner();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.status, i32::from(ServingStatus::Serving));
        let repeated = tokio::time::timeout(Duration::from_millis(100), watch.next()).await;
        assert!(
            repeated.is_err(),
            "a status sent again unchanged: {repeated:?}"
        );
        reachable.store(false, Ordering::SeqCst);
        becomes(&service, ServingStatus::NotServing).await;
        let alive = status(&service, "").await;
        assert_eq!(
            alive,
            i32::from(ServingStatus::Serving),
            "liveness follows no dependency"
        );
        reachable.store(true, Ordering::SeqCst);
        becomes(&service, ServingStatus::Serving).await;

        health.stop_serving().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        for name in [NAME, ""] {
            let stopped = status(&service, name).await;
            assert_eq!(stopped, i32::from(ServingStatus::NotServing), "{name:?}");
        }
        shutdown.cancel();
        readiness.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_watch_is_told_not_serving_and_ends_at_shutdown() {
        let (health, service) = PortHealth::new(&[NAME]).await;
        let request = Request::new(HealthCheckRequest {
            service: NAME.into(),
        });
        let mut watch = service.watch(request).await.unwrap().into_inner();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.status, i32::from(ServingStatus::Serving));

        health.stop_serving().await;
        let last = watch.next().await.unwrap().unwrap();
        assert_eq!(last.status, i32::from(ServingStatus::NotServing));
        let end = tokio::time::timeout(Duration::from_secs(1), watch.next()).await;
        assert!(matches!(end, Ok(None)), "the stream goes on: {end:?}");

        health.set_ready(true).await;
        assert_eq!(
            status(&service, NAME).await,
            i32::from(ServingStatus::NotServing)
        );
    }
}
