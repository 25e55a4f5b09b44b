//! The signals that stop keyhatch: the server, and `keyhatch admin`.

/// The signals that stop keyhatch, as Ctrl-C does: SIGINT, SIGTERM, and SIGHUP when it stops
/// on a hangup (local mode: a closed terminal), so the login files and sockets are removed.
pub struct Stops {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Stops {
    /// Listening from now, not from when first awaited: a Ctrl-C right after the login link
    /// was printed ended keyhatch before it had removed its socket.
    pub fn listen(on_hangup: bool) -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: on_hangup
                .then(|| signal(SignalKind::hangup()).ok())
                .flatten(),
        }
    }

    /// Ends at the next stop signal (one received since the last, or the first), with its
    /// number.
    pub async fn next(&mut self) -> i32 {
        async fn received(signal: Option<&mut tokio::signal::unix::Signal>, number: i32) -> i32 {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                    number
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            number = received(self.interrupt.as_mut(), nix::sys::signal::Signal::SIGINT as i32) => number,
            number = received(self.terminate.as_mut(), nix::sys::signal::Signal::SIGTERM as i32) => number,
            number = received(self.hangup.as_mut(), nix::sys::signal::Signal::SIGHUP as i32) => number,
        }
    }
}
