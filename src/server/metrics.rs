//! The metrics listener: `GET /metrics`, every counter of `crate::metrics` in the OpenMetrics
//! text format that Prometheus scrapes, on an address of its own (`metrics-addr`); nothing else
//! is served there, and nothing there needs a login: it holds no account, key or address.
//!
//! Anyone who reaches the address may connect, every local account among them when it is on
//! loopback, and the server shares its descriptors with everyone's service. So at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed as soon as they are accepted), each
//! has [`HEADER_TIMEOUT`] to send its request, and one request is answered per connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The format's media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Connections served at once; a scraper needs one.
pub const MAX_CONNECTIONS: usize = 8;

/// How long a connection may take to send its request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a connection is kept, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(listener: TcpListener) {
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::debug!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(|request| async move {
                Ok::<_, Infallible>(answer(&request))
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
        });
    }
}

/// The counters for `GET /metrics`; 404 for any other path, 405 for another method.
fn answer(request: &Request<Incoming>) -> Response<Body> {
    let status = if request.uri().path() != "/metrics" {
        StatusCode::NOT_FOUND
    } else if request.method() != Method::GET && request.method() != Method::HEAD {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        return Response::builder()
            .header(CONTENT_TYPE, OPENMETRICS)
            .body(Body::from(crate::metrics::encode()))
            .expect("a valid response");
    };
    Response::builder()
        .status(status)
        .body(Body::empty())
        .expect("a valid response")
}
