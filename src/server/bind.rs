//! Binding keyhatch's listener before any thread starts: a TCP address (with its loopback
//! twin) or a Unix socket only keyhatch's account (or, in site mode, the proxy's) can reach.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::runtime;
use super::socket_file::{self, Found};
use super::walk::{self, annotate};

/// Binds `addr`, and on a loopback address also the other family's loopback on the same port:
/// browsers and `ssh -L` resolve `localhost` to `::1` first, and another account listening
/// there would receive the login link meant for keyhatch. With port 0, free ports are tried
/// until one is free on both; a host without IPv6 (or IPv4) loopback needs no twin.
pub fn bind_tcp(
    addr: SocketAddr,
) -> io::Result<(std::net::TcpListener, Option<std::net::TcpListener>)> {
    let bind = |at: SocketAddr| {
        std::net::TcpListener::bind(at).map_err(|e| bind_error(&at.to_string(), e))
    };
    if !addr.ip().is_loopback() {
        return Ok((bind(addr)?, None));
    }
    // The login link's name (`k….localhost`) leads to 127.0.0.1 or [::1]: on 127.0.0.2 another
    // account could take 127.0.0.1 of the port and receive the link (red team).
    if ![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
    .contains(&addr.ip())
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot listen on {addr}: on loopback keyhatch listens on 127.0.0.1 and [::1], \
                 where its login link leads; give --addr 127.0.0.1:PORT"
            ),
        ));
    }
    let twin_ip = match addr.ip() {
        IpAddr::V4(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    for _ in 0..32 {
        let listener = bind(addr)?;
        let port = listener.local_addr()?.port();
        let at = SocketAddr::new(twin_ip, port);
        match std::net::TcpListener::bind(at) {
            Ok(twin) => return Ok((listener, Some(twin))),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EADDRNOTAVAIL | nix::libc::EAFNOSUPPORT)
                ) =>
            {
                return Ok((listener, None));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && addr.port() == 0 => continue,
            Err(e) => {
                return Err(annotate(
                    e,
                    &format!(
                        "cannot also listen on {at}: another program holds it, and a browser opening localhost:{port} could reach that program instead of keyhatch (pick another port with --addr 127.0.0.1:PORT, or port 0 for any free one)"
                    ),
                ));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "cannot find a port free on both 127.0.0.1 and [::1]",
    ))
}

/// Binds a Unix socket at `path` that only this account can connect to: a stale socket left by
/// a keyhatch that died is replaced, a live one is not, nor anything else found there.
/// In site mode the socket is given to the proxy's account (`proxy_uid`), still 0600.
/// Returns the socket and where it is: in local mode, the directory the path resolved to, with
/// no link left in it, as it is printed for `ssh -L` and read by other processes (a link such as
/// `/proc/self/cwd` names another directory in each).
pub fn bind_unix(
    path: &Path,
    uid: u32,
    proxy_uid: Option<u32>,
) -> io::Result<(std::os::unix::net::UnixListener, PathBuf)> {
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot listen on {}: that names a directory; give --socket the path of a socket \
                 file, such as ~/keyhatch.sock",
                path.display()
            ),
        ));
    };
    // Site mode has no runtime directory (looking for one made `/tmp/keyhatch-0`: red team).
    let in_runtime_dir = proxy_uid.is_none() && path.parent() == Some(&runtime::dir_path(uid));
    if let Some(dir) = path.parent() {
        if in_runtime_dir {
            runtime::ensure_private_dir(dir, uid).map_err(|e| runtime::why_here(e, dir, uid))?;
        } else if proxy_uid.is_some() && !dir.exists() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let path = match proxy_uid {
        Some(_) => path.to_owned(),
        None => walk::only_this_account_can_change(path, uid)
            .map_err(|e| match (in_runtime_dir, path.parent()) {
                (true, Some(dir)) => runtime::why_here(e, dir, uid),
                _ => e,
            })?
            .join(name),
    };
    if proxy_uid.is_none() {
        printable(&path)?;
    }
    let bind_error = |e: io::Error| {
        let hint = bind_hint(&e, true);
        annotate(e, &format!("cannot listen on {}{hint}", path.display()))
    };
    // `sun_path` holds 108 bytes, the last one a NUL.
    if path.as_os_str().len() > 107 {
        return Err(bind_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the path is {} bytes long, and a socket's can be at most 107",
                path.as_os_str().len()
            ),
        )));
    }
    match socket_file::look(&path) {
        Found::Nothing => {}
        Found::Live => return Err(bind_error(io::ErrorKind::AddrInUse.into())),
        Found::Stale => std::fs::remove_file(&path)?,
        Found::Other(what) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "cannot listen on {}: {what} is there, and keyhatch replaces only a socket \
                     whose program has ended; give --socket another path",
                    path.display()
                ),
            ));
        }
    }
    // Created 0600 from the start: no moment when another account could connect.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(&path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(bind_error)?;
    listener.set_nonblocking(true)?;
    if let Some(proxy_uid) = proxy_uid {
        std::os::unix::fs::chown(&path, Some(proxy_uid), None)?;
    }
    Ok((listener, path))
}

/// Refuses a socket path that `ssh -L` or a shell, given it as printed, would read as another:
/// any character but ASCII letters, digits, `/._-+=@,` and the space (which the printed command
/// quotes). A path that was not UTF-8 was printed with `�` for its bytes; ssh drops a `\`, and
/// expands `%` and `${…}`, in a forward's socket path; invisible or right-to-left characters
/// show another path than the one there: each printed path could name another account's
/// socket (red team: one took a login link through each of the first two).
fn printable(path: &Path) -> io::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=@, ".contains(c);
    let why = match path.to_str().map(|s| s.chars().find(|c| !plain(*c))) {
        None => "it is not UTF-8".to_owned(),
        Some(None) => return Ok(()),
        Some(Some(c)) => format!("it holds {c:?}"),
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "cannot listen on {}: {why}, and ssh or a shell may read the path printed for the \
             forward as another; give --socket a path of ASCII letters, digits, spaces and \
             /._-+=@, only",
            path.display()
        ),
    ))
}

fn bind_error(what: &str, e: io::Error) -> io::Error {
    let hint = bind_hint(&e, false);
    annotate(e, &format!("cannot listen on {what}{hint}"))
}

/// What to do when a socket path (`socket`) or a TCP address cannot be bound.
fn bind_hint(e: &io::Error, socket: bool) -> &'static str {
    match e.kind() {
        io::ErrorKind::AddrInUse if socket => {
            " (a keyhatch is already serving on it: stop that one first, or give this one another path with --socket PATH)"
        }
        io::ErrorKind::AddrInUse => {
            " (another program, perhaps another person's keyhatch, uses it; pick another port with --addr 127.0.0.1:PORT, or port 0 for any free one)"
        }
        _ => "",
    }
}
