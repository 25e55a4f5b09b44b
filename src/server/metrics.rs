//! The metrics listener: `GET /metrics`, every counter of `crate::metrics` in the OpenMetrics
//! text format that Prometheus scrapes, on an address of its own (`metrics-addr`); nothing else
//! is served there, and nothing there needs a login: it holds no account, key or address.
//!
//! Every local account can connect to a port on this host, and the server shares its
//! descriptors with everyone's service. So:
//! - a connection from this host is served only when it is root's or keyhatch's own account's
//!   (the same check as local mode's, by the kernel's socket table); others are closed at accept;
//! - at most [`MAX_CONNECTIONS`] are served at once (more are closed at accept), each has
//!   [`HEADER_TIMEOUT`] to send its request, and one request is answered per connection;
//! - a port another account holds at start does not stop keyhatch: it serves without metrics,
//!   tries the port again every [`RETRY`] and warns every minute meanwhile (that account may
//!   answer scrapes in its place: a port below 1024, which only root can bind, avoids it). A
//!   port below 1024 that cannot be bound at start stops keyhatch instead: only root holds one,
//!   and keyhatch could not bind it later, without its capabilities.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Request, Response, StatusCode};
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::peer::TcpPeers;

/// The format's media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Connections served at once; a scraper needs one.
pub const MAX_CONNECTIONS: usize = 8;

/// How long a connection may take to send its request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a connection is kept, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);

/// How often a port that could not be bound is tried again.
pub const RETRY: Duration = Duration::from_secs(5);

/// Serves `/metrics` on `addr` (`bound` when it could be bound at start) until the process
/// ends, to remote hosts and, from this host, to root and `own_uid`.
pub async fn serve(addr: SocketAddr, bound: Option<std::net::TcpListener>, own_uid: u32) {
    let listener = match bound.map(from_std) {
        Some(Ok(listener)) => listener,
        _ => bind_when_free(addr).await,
    };
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "metrics are served beyond loopback: anyone who reaches {addr} reads the counts");
    }
    tracing::info!(%addr, "metrics at /metrics");
    let mut peers = TcpPeers {
        listener,
        twin: None,
    };
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = peers.accept().await;
        if !peer.is_allowed(own_uid) {
            continue;
        }
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
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

fn from_std(listener: std::net::TcpListener) -> std::io::Result<TcpListener> {
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// A listener on `addr` once it can be bound, saying why not every minute meanwhile.
async fn bind_when_free(addr: SocketAddr) -> TcpListener {
    for attempt in 0u64.. {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) if attempt % (60 / RETRY.as_secs()) == 0 => tracing::warn!(
                "cannot listen for metrics on {addr} (metrics-addr): {e}; another program holds \
                 it and may answer scrapes in keyhatch's place. keyhatch serves without metrics \
                 and tries again every {} seconds",
                RETRY.as_secs()
            ),
            Err(_) => {}
        }
        tokio::time::sleep(RETRY).await;
    }
    unreachable!("tried without end")
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
