//! An answer that holds its person's place among the answers on their way to them until it
//! has been sent, or its connection has ended: an answer nobody reads stays in memory, and one
//! person left 172 of their own pages unread (3 GB) until the service was killed (red team).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

use super::super::send_timeout::Unsent;
use crate::api::limits::Permit;

/// `body`, holding `place` until it is dropped (hyper drops it once it has taken the last
/// bytes, or with the connection), then leaving it with its connection's `unsent` until those
/// bytes have been written.
pub struct Sending {
    body: Body,
    place: Option<Permit>,
    unsent: Option<Unsent>,
}

impl Sending {
    /// `body`, sent while holding `place`, as an answer's body on the connection whose
    /// `unsent` places are given back as it flushes.
    pub fn holding(body: Body, place: Permit, unsent: Option<Unsent>) -> Body {
        Body::new(Self {
            body,
            place: Some(place),
            unsent,
        })
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let (Some(place), Some(unsent)) = (self.place.take(), &self.unsent) {
            unsent.park(place);
        }
    }
}

impl http_body::Body for Sending {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl std::fmt::Debug for Sending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sending")
            .field("place", &self.place)
            .finish()
    }
}
