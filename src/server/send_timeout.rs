//! A connection whose client stops reading: an answer that makes no progress for
//! [`SEND_TIMEOUT`] is given up with its connection, rather than held in memory as long as the
//! client likes (red team: unread answers still held after 130 s, 172 of them 3 GB). And what
//! an answer holds until it has left ([`Unsent`]): hyper lets an answer's body go once it has
//! taken its last bytes, before it has written them.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

use crate::api::limits::Permit;

/// The places of the answers on a connection whose bodies have ended but whose bytes may still
/// wait in hyper's buffer: given back once everything written has been flushed to the socket,
/// or with the connection (red team: an answer's place was given back as hyper took its bytes,
/// and 2,000 unread lists of one person's were held).
#[derive(Debug, Clone, Default)]
pub struct Unsent(Arc<Mutex<Vec<Permit>>>);

impl Unsent {
    /// Keeps `place` until this connection's answers have left.
    pub fn park(&self, place: Permit) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(place);
    }

    /// Gives back every place parked: what was written has left. The places are dropped once
    /// this lock is let go, as each takes its own.
    fn sent(&self) {
        let parked = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        drop(parked);
    }
}

/// How long a write may wait for the client to read: far longer than any browser or proxy
/// takes on a working connection.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// `Io` whose writes fail with `TimedOut` once one has waited [`SEND_TIMEOUT`] without
/// progress.
pub struct SendTimeout<Io> {
    io: Io,
    /// Running while a write waits, reset by each one that goes through.
    stalled: Option<Pin<Box<Sleep>>>,
    /// The places of answers written but maybe not yet flushed.
    unsent: Unsent,
}

impl<Io> SendTimeout<Io> {
    /// `io`, its writes bounded in time, giving back `unsent` places as it flushes.
    pub fn new(io: Io, unsent: Unsent) -> Self {
        Self {
            io,
            stalled: None,
            unsent,
        }
    }

    /// `poll`, a write's outcome, or `TimedOut` once writes have waited too long.
    fn timed<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(sleep(SEND_TIMEOUT)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of the answer for 30 s",
        )))
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for SendTimeout<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for SendTimeout<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.timed(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.timed(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    /// hyper flushes its connection once it has written all it holds: the answers whose bodies
    /// had ended by then have left.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        if matches!(poll, Poll::Ready(Ok(()))) {
            self.unsent.sent();
        }
        self.timed(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
