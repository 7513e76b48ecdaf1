//! The scrape endpoint: `GET /metrics` in the Prometheus text format.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// How often histograms drop old samples; the exporter's own listener does the same.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the recorder, binds `address` and serves the endpoint for as long as the process
/// runs (scrapes during a shutdown still see its last figures); returns the address bound
/// (useful when the port was 0).
pub async fn serve_endpoint(address: SocketAddr) -> anyhow::Result<SocketAddr> {
    let handle = super::recorder();
    let listener = crate::server::bind(address).await?;
    let bound = listener.local_addr()?;
    let app = Router::new().route(
        "/metrics",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                handle.render(),
            )
                .into_response()
        }),
    );
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP_EVERY);
        loop {
            ticks.tick().await;
            handle.run_upkeep();
        }
    });
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    tracing::info!(address = %bound, "metrics endpoint listening");
    Ok(bound)
}
