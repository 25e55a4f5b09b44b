//! The accept loop: each connection's peer is known when it is accepted, and in local mode
//! another account's connection is answered with a refusal there and then, before any request
//! is read, and closed: within a second while few are refused (so the refusal reaches its
//! reader rather than a reset), at once beyond [`MAX_LINGERING`]; so other accounts' idle
//! connections hold a few descriptors at most.
//! Every connection kept has a bound on the time to send a request's headers, the first and
//! each next one (which bounds an idle keep-alive connection too), to read a request's body,
//! and for an answer to wait for its client to read it.

use std::convert::Infallible;
use std::future::Future;
use std::os::fd::AsFd;
use std::pin::pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, watch};
use tower_service::Service;

use super::peer::Peer;
use super::plain::{Part, PlainPage};
use super::read_bound::ReadBound;
use super::send_timeout::{SendTimeout, Unsent};
use crate::audit::{Audit, Event};

/// How long a client may take to send a request's headers, counted from the connection's start
/// or from the end of its previous answer: a browser sends them in one packet, and keeps an
/// idle connection open no longer than this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// Refused connections kept open at once, each for at most [`LINGER`], to end them in order.
const MAX_LINGERING: usize = 64;

/// How long a refused connection is kept to read what the client sent and end in order.
const LINGER: Duration = Duration::from_secs(1);

/// What another account's connection gets before it is closed: a page saying whose keyhatch
/// this is not, sent without reading the request.
static REFUSED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    PlainPage::new(StatusCode::FORBIDDEN, "Refused", "Not your keyhatch")
        .para(&[Part::Text(
            "This keyhatch serves another account only. Each person runs their own keyhatch.",
        )])
        .raw_http()
});

/// Local mode's gate at accept: only its own account and root pass.
pub struct Gate {
    own_uid: u32,
    account: Arc<str>,
    audit: Audit,
    /// Room for refused connections kept open a moment.
    lingering: Arc<Semaphore>,
}

impl Gate {
    /// A gate for a server running as `own_uid` (`account`), recording refusals in `audit`.
    pub fn new(own_uid: u32, account: &str, audit: Audit) -> Self {
        Self {
            own_uid,
            account: account.into(),
            audit,
            lingering: Arc::new(Semaphore::new(MAX_LINGERING)),
        }
    }

    /// Answers `io` with the refusal and closes it (see the module's doc); records the
    /// refusal once a minute per account, so a flood of connections cannot flood the log.
    fn refuse<Io>(&self, io: Io, peer: &Peer)
    where
        Io: AsyncRead + AsyncWrite + AsFd + Unpin + Send + 'static,
    {
        crate::metrics::refused("another account");
        match self.lingering.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(LINGER, end_in_order(io)).await;
                    drop(permit);
                });
            }
            Err(_) => refuse_at_once(io),
        }
        let remote = peer.address();
        let outcome = match peer.uid() {
            Some(uid) => format!("another account (uid {uid})"),
            None => "an account keyhatch could not identify".to_owned(),
        };
        // Once a minute for each account refused, with a count of the rest (red team: the
        // gate kept a minute of its own, whose refusals were never counted).
        let event = Event {
            action: "refused",
            account: &self.account,
            remote: &remote,
            fingerprint: None,
            outcome: &outcome,
        };
        self.audit
            .record_refusal_counted_as(&event, &format!("\n{outcome}"));
        tracing::debug!(peer = %peer.address(), uid = ?peer.uid(), "refused at accept");
    }
}

/// Sends the refusal, ends the sending side, and reads what the client sends until it closes
/// too: a connection closed with unread data ends in a reset, which can discard the answer
/// before the client reads it.
async fn end_in_order<Io: AsyncRead + AsyncWrite + Unpin>(mut io: Io) {
    if io.write_all(&REFUSED).await.is_err() || io.shutdown().await.is_err() {
        return;
    }
    let mut scratch = [0u8; 4096];
    let mut left: usize = 64 * 1024;
    while left > 0 {
        match io.read(&mut scratch).await {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// Sends the refusal if the socket takes it at once, and closes it; no call waits.
fn refuse_at_once(io: impl AsFd) {
    use nix::sys::socket::{MsgFlags, recv, send};
    use std::os::fd::AsRawFd;
    let fd = io.as_fd().as_raw_fd();
    let mut scratch = [0u8; 4096];
    let _ = recv(fd, &mut scratch, MsgFlags::MSG_DONTWAIT);
    let _ = send(
        fd,
        &REFUSED,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
    );
}

/// Serves `app` on `listener` until `shutdown` completes, then closes the listener, drops what
/// `shutdown` gave (what is to go once nothing listens), and lets the connections in flight
/// finish their requests, until `give_up` completes (a change a request made goes on, on a task
/// of its own). With a `gate`, a connection it refuses is closed at accept.
pub async fn serve<L, T>(
    mut listener: L,
    app: Router,
    gate: Option<Gate>,
    shutdown: impl Future<Output = T>,
    give_up: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: Listener<Addr = Peer>,
    L::Io: AsyncRead + AsyncWrite + AsFd + Unpin + Send + 'static,
{
    // Dropping `stop` tells each connection to finish; each holds a `done` until it has.
    let (stop, stopping) = watch::channel(());
    let (done, mut all_done) = mpsc::channel::<Infallible>(1);
    let mut shutdown = pin!(shutdown);
    let closed = loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            closed = &mut shutdown => break closed,
        };
        if let Some(gate) = &gate
            && !peer.is_allowed(gate.own_uid)
        {
            gate.refuse(io, &peer);
            continue;
        }
        let app = app.clone();
        let unsent = Unsent::default();
        let on_connection = unsent.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(|body| axum::body::Body::new(ReadBound::new(body)));
            request.extensions_mut().insert(ConnectInfo(peer.clone()));
            request.extensions_mut().insert(on_connection.clone());
            app.clone().call(request)
        });
        let (mut stopping, done) = (stopping.clone(), done.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let io = TokioIo::new(SendTimeout::new(io, unsent));
            let mut connection = pin!(builder.serve_connection(io, service));
            let mut stopped = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!("connection ended: {e}");
                        }
                        break;
                    }
                    _ = stopping.changed(), if !stopped => {
                        stopped = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(done);
        });
    };
    // New connections are refused from now on, rather than left waiting for nothing.
    drop(listener);
    drop(closed);
    drop(stop);
    drop(done);
    // Every connection's `done` dropped: all have finished. Not waited for past `give_up`: an
    // answer a client reads slowly, or a change it waits for, held a stop past its bound, and a
    // second Ctrl-C did nothing (red team).
    tokio::select! {
        _ = all_done.recv() => {}
        () = give_up => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = std::str::from_utf8(&REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        assert!(head.starts_with("HTTP/1.1 403 Forbidden"));
    }

    #[tokio::test]
    async fn refusals_are_logged_once_a_minute_per_account_and_few_held_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let gate = Gate::new(1000, "alice", Audit::to_file(&log).unwrap());
        let peer = |uid| Peer::Unix { uid };
        let mut idle = Vec::new();
        for _ in 0..1000 {
            let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
            gate.refuse(ours, &peer(Some(1001)));
            idle.push(theirs);
        }
        assert_eq!(
            gate.lingering.available_permits(),
            0,
            "{MAX_LINGERING} held at most"
        );
        // Beyond those, closed at once: the refusal, then the end.
        let mut answer = Vec::new();
        idle[999].read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, *REFUSED);
        drop(idle);
        let (ours, _theirs) = tokio::net::UnixStream::pair().unwrap();
        gate.refuse(ours, &peer(None));
        tokio::time::sleep(LINGER * 2).await;
        assert_eq!(gate.lingering.available_permits(), MAX_LINGERING);
        let (ours, mut theirs) = tokio::net::UnixStream::pair().unwrap();
        gate.refuse(ours, &peer(Some(1001)));
        let mut answer = Vec::new();
        theirs.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, *REFUSED, "the refusal, then the end");
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("another account (uid 1001)"), "{text}");
        assert!(text.contains("could not identify"), "{text}");
        // Those left unwritten are counted once their minute is over, here as keyhatch stops.
        gate.audit.write_unwritten_at_stop();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("(one of 1000 refused in the last minute"),
            "{text}"
        );
    }
}
