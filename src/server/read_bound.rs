//! A request's body read within a bound: a client that sends its headers and then its body
//! slowly, or never, holds its connection and a task only that long (red team: connections
//! that promised a body and sent none were held for ever; 15,000 ended the service).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Sleep, sleep};

/// How long reading a request's body may take, from its first read: every body keyhatch
/// takes is 64 KiB at most, which any working connection sends in far less.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(20);

/// `Incoming`, failing with a timeout once reading it has taken [`BODY_TIMEOUT`].
pub struct ReadBound {
    body: Incoming,
    /// Set at the first read.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl ReadBound {
    /// `body`, its reading bounded in time.
    pub fn new(body: Incoming) -> Self {
        Self {
            body,
            deadline: None,
        }
    }
}

impl Body for ReadBound {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(sleep(BODY_TIMEOUT)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err("the request's body took too long".into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
