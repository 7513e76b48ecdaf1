//! The gRPC server every service runs: its own services plus `grpc.health.v1`, server
//! reflection, a request span continuing the caller's trace, each error's text for a person
//! (`localized`), and graceful shutdown.

use std::net::SocketAddr;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::TlsConfig;
use crate::localized::LocalizeErrorsLayer;
use crate::telemetry::{self, HeaderExtractor};

/// Binds a TCP listener, with the address in the error.
pub async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// Serves `routes` on `listener` until `shutdown`, marking `service_names` SERVING in health;
/// over TLS when `tls` names a certificate.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    tls: &TlsConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in service_names {
        health_reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    // Readiness detail: whether this process's consumers hold partitions (consumer::starved).
    tokio::spawn(crate::consumer::report_in_health(
        health_reporter.clone(),
        shutdown.clone(),
    ));
    let reflection_v1 = reflection(service_names)
        .build_v1()
        .context("cannot build the reflection service")?;
    let reflection_v1alpha = reflection(service_names)
        .build_v1alpha()
        .context("cannot build the v1alpha reflection service")?;
    let routes = routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // Refusals (INVALID_ARGUMENT, ...) are normal answers, and internal errors are logged
    // where they happen, so failed responses are only worth a debug line here.
    let trace_layer = TraceLayer::new_for_grpc()
        .make_span_with(|request: &http::Request<_>| {
            let span = tracing::info_span!("grpc", method = %request.uri().path());
            telemetry::set_remote_parent(&span, &HeaderExtractor(request.headers()));
            span
        })
        .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG));
    let shutting_down = shutdown.clone();
    let health_on_shutdown = async move {
        shutting_down.cancelled().await;
        for name in service_names {
            health_reporter
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
    };
    let mut builder = Server::builder();
    if let Some(tls) = server_tls(tls) {
        builder = builder
            .tls_config(tls)
            .context("invalid TLS certificate or key")?;
    }
    builder
        .layer(trace_layer)
        .layer(LocalizeErrorsLayer::built_in()?)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming(listener), health_on_shutdown)
        .await
        .context("grpc server failed")
}

/// The TLS settings of the server; `None` for plaintext.
fn server_tls(config: &TlsConfig) -> Option<ServerTlsConfig> {
    let (Some(cert), Some(key)) = (&config.cert, &config.key) else {
        return None;
    };
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key.expose_secret()));
    Some(match &config.client_ca {
        Some(client_ca) => tls.client_ca_root(Certificate::from_pem(client_ca)),
        None => tls,
    })
}

/// Reflection that lists what this port serves and nothing else: its own services, health and
/// both reflection versions (v1alpha for grpcio-reflection's client and older grpcurl builds).
/// Every descriptor stays registered, so the types of other services' messages still resolve.
fn reflection<'a>(service_names: &[&str]) -> tonic_reflection::server::Builder<'a> {
    let builder = tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(mi_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    service_names
        .iter()
        .copied()
        .chain(INFRASTRUCTURE_SERVICES)
        .fold(builder, |builder, name| builder.with_service_name(name))
}

/// The services every port serves beside its own.
pub const INFRASTRUCTURE_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Accepted connections with TCP_NODELAY: without it, a response written in several pieces
/// waits for the client's delayed ACK (about 40 ms) between them.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
