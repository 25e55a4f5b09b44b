//! Telling systemd that keyhatch serves (`Type=notify`): one `READY=1` datagram to the socket
//! `NOTIFY_SOCKET` names, sent once the listener is bound and the start report printed, so that
//! `systemctl start` returns when keyhatch answers, and a unit ordered after it starts then.

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `READY=1` when systemd asked for it; elsewhere (a terminal, a test) does nothing.
pub fn notify_ready() {
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
        socket.send_to_addr(b"READY=1", &address)
    });
    if let Err(e) = sent {
        tracing::warn!("could not tell systemd that keyhatch is ready: {e}");
    }
}
