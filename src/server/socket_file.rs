//! A Unix socket's name in the filesystem: whether a server still listens behind it, and
//! whether it is still the one this process made. keyhatch removes only a socket it made, or
//! one nobody listens on any more (left by a keyhatch that was killed), never another file or a
//! socket another program uses (red team: a datagram socket, and a socket its owner had made
//! unreachable with `chmod 000`, were removed and replaced).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

/// What is at a socket's path.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing: the name is free.
    Nothing,
    /// A stream socket a server listens on (or whose queue is full).
    Live,
    /// A stream socket nobody listens on.
    Stale,
    /// Something else, described: left alone.
    Other(String),
}

/// Looks at `path` without waiting: a connection that would wait (a server whose queue is
/// full) counts as live.
pub fn look(path: &Path) -> Found {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Nothing,
        Err(e) => return Found::Other(format!("something keyhatch cannot look at ({e})")),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Found::Other("a directory".to_owned());
    }
    if kind.is_symlink() {
        return Found::Other("a symbolic link".to_owned());
    }
    if !kind.is_socket() {
        return Found::Other("a file that is not a socket".to_owned());
    }
    let probe = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    );
    let connected = probe.and_then(|fd| {
        let addr = UnixAddr::new(path)?;
        socket::connect(fd.as_raw_fd(), &addr)
    });
    match connected {
        Ok(()) | Err(Errno::EAGAIN | Errno::EINPROGRESS) => Found::Live,
        Err(Errno::ECONNREFUSED) => Found::Stale,
        Err(e) => Found::Other(format!(
            "a socket keyhatch cannot tell is unused ({})",
            io::Error::from(e)
        )),
    }
}

/// A connection to the server listening at `path`, made without waiting: a server whose queue
/// is full (stopped, as by Ctrl-Z) is an error, not a wait without end.
pub fn connect(path: &Path) -> io::Result<std::os::unix::net::UnixStream> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?).map_err(|e| match e {
        Errno::EAGAIN => io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "the server at {} takes no connection (is it stopped, as by Ctrl-Z?)",
                path.display()
            ),
        ),
        e => io::Error::from(e),
    })?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// The device and inode of the file at `path` (not followed), when there is one.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// Removes `path` if it is still the file `made` names (another may have taken its name since).
pub fn remove_if_same(path: &Path, made: Option<(u64, u64)>) {
    if made.is_some() && identity(path) == made {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes `path` if it is a socket nobody listens on: at a stop, once the listener is closed.
pub fn remove_if_stale(path: &Path) {
    if look(path) == Found::Stale {
        let _ = std::fs::remove_file(path);
    }
}
