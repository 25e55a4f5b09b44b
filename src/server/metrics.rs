//! The metrics listener: `GET /metrics`, every counter of `crate::metrics` in the OpenMetrics
//! text format that Prometheus scrapes, on an address of its own (`metrics-addr`); nothing else
//! is served there, and nothing there needs a login: it holds no account, key or address.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

/// The format's media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) {
    let app = Router::new().route(
        "/metrics",
        get(|| async { ([(CONTENT_TYPE, OPENMETRICS)], crate::metrics::encode()) }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!("the metrics listener stopped: {e}");
    }
}
