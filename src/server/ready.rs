//! Telling systemd that keyhatch serves (`Type=notify`): one `READY=1` datagram to the socket
//! `NOTIFY_SOCKET` names, sent once the listener is bound and the start report printed, so that
//! `systemctl start` returns when keyhatch answers, and a unit ordered after it starts then; and
//! at a stop that waits for changes under way, how long it may take.

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `READY=1` when systemd asked for it; elsewhere (a terminal, a test) does nothing.
pub fn notify_ready() {
    notify("READY=1");
}

/// Tells systemd, when it asked, that keyhatch is stopping and may take `within` to end, so
/// that a unit's stop timeout shorter than that does not kill it mid-change.
pub fn notify_stopping(within: std::time::Duration) {
    // A second over, for writing what it did not wait for.
    let usec = within.as_micros() + 1_000_000;
    notify(&format!("STOPPING=1\nEXTEND_TIMEOUT_USEC={usec}"));
}

fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.as_encoded_bytes();
    // A leading '@' names a socket in the abstract namespace.
    let address = match path.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(OsStr::from_bytes(path)),
    };
    let sent = address.and_then(|address| {
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(state.as_bytes(), &address)
    });
    if let Err(e) = sent {
        tracing::warn!("could not tell systemd {state:?}: {e}");
    }
}
