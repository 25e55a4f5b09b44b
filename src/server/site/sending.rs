//! An answer that holds its person's place among the answers on their way to them until it
//! has been sent, or its connection has ended: an answer nobody reads stays in memory, and one
//! person left 172 of their own pages unread (3 GB) until the service was killed (red team).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

use crate::api::limits::Permit;

/// `body`, holding `place` until it is dropped: once sent, or with its connection.
pub struct Sending {
    body: Body,
    place: Permit,
}

impl Sending {
    /// `body`, sent while holding `place`, as an answer's body.
    pub fn holding(body: Body, place: Permit) -> Body {
        Body::new(Self { body, place })
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
