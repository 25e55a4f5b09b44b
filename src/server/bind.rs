//! Binding keyhatch's listener before any thread starts: a TCP address (with its loopback
//! twin) or a Unix socket only keyhatch's account (or, in site mode, the proxy's) can reach.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::runtime;
use super::socket_file::{self, Found};

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
    if let Some(dir) = path.parent() {
        if dir == runtime::dir_path(uid) {
            runtime::ensure_private_dir(dir, uid)?;
        } else if proxy_uid.is_some() && !dir.exists() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let path = match proxy_uid {
        Some(_) => path.to_owned(),
        None => only_this_account_can_change(path, uid)?.join(name),
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
                     nobody listens on; give --socket another path",
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

/// Refuses a socket path (local mode) that another account could swap: a directory on the way
/// that is not this account's or root's, or that group or others may write (a root-owned
/// sticky one such as `/tmp` excepted above the socket's own directory: there nobody can
/// rename another's entry, but anyone can take a free name), a missing one (another account
/// could make it in `/tmp` between this look and the bind), or a link on the way, however many
/// lead on from one another, that is not this account's or root's. Another account's
/// `/tmp/keyhatch-UID`, given with `--socket`, let it put its own socket there and take the
/// login links sent to it; so did a person's link into a group's directory, and a link to a
/// link there (red team). Returns the directory the socket's resolved to.
pub(super) fn only_this_account_can_change(path: &Path, uid: u32) -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "cannot listen on {}: {why}, so another account could put its own socket \
                 there; give --socket a path in a directory only you can change",
                path.display()
            ),
        )
    };
    let check_dir = |dir: &Path, own: bool| -> io::Result<()> {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| {
            annotate(
                e,
                &format!("cannot listen on {}: {}", path.display(), dir.display()),
            )
        })?;
        let (owner, mode) = (meta.uid(), meta.mode() & 0o7777);
        let sticky_root = owner == 0 && mode & 0o1000 != 0 && !own;
        if owner != uid && owner != 0 {
            return Err(refuse(format!(
                "the directory {} belongs to uid {owner}",
                dir.display()
            )));
        }
        if mode & 0o022 != 0 && !sticky_root {
            return Err(refuse(format!(
                "group or others can write the directory {} (mode {mode:o})",
                dir.display()
            )));
        }
        Ok(())
    };
    // The socket's directory, resolved one name at a time from `/`: each directory checked,
    // and each link checked and followed in place.
    let absolute = std::path::absolute(path).map_err(|e| {
        annotate(
            e,
            &format!(
                "cannot listen on {}: the working directory it is relative to",
                path.display()
            ),
        )
    })?;
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    let mut todo = names_backwards(parent);
    let mut at = PathBuf::from("/");
    check_dir(&at, todo.is_empty())?;
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&name);
        let meta = std::fs::symlink_metadata(&next).map_err(|e| {
            annotate(
                e,
                &format!("cannot listen on {}: {}", path.display(), next.display()),
            )
        })?;
        if meta.is_symlink() {
            if meta.uid() != uid && meta.uid() != 0 {
                return Err(refuse(format!(
                    "{} is a link of uid {}",
                    next.display(),
                    meta.uid()
                )));
            }
            links += 1;
            if links > 40 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "cannot listen on {}: its directory is reached through more than 40 \
                         links (do some lead back to each other?)",
                        path.display()
                    ),
                ));
            }
            let target = std::fs::read_link(&next)?;
            if target.is_absolute() {
                at = PathBuf::from("/");
            }
            todo.extend(names_backwards(&target));
            continue;
        }
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!(
                    "cannot listen on {}: {} is not a directory",
                    path.display(),
                    next.display()
                ),
            ));
        }
        at = next;
        check_dir(&at, todo.is_empty())?;
    }
    // Once more as the socket's own directory, where a `..` came last.
    check_dir(&at, true)?;
    Ok(at)
}

/// Refuses a socket path that cannot be printed as the same bytes for `ssh -L` and a shell: one
/// that is not UTF-8 (its bytes changed when printed, and another account took the name the
/// printed path named: red team), or that holds a control character, a colon (where ssh splits
/// `-L`'s argument) or a quote.
fn printable(path: &Path) -> io::Result<()> {
    let why = match path.to_str() {
        None => "it is not UTF-8",
        Some(s) if s.chars().any(char::is_control) => "it holds a control character",
        Some(s) if s.contains(':') => "it holds a colon, where ssh -L splits its argument",
        Some(s) if s.contains('\'') => "it holds a quote",
        Some(_) => return Ok(()),
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "cannot listen on {}: {why}, so it cannot be printed for ssh -L as it is; give \
             --socket a path without such names",
            path.display()
        ),
    ))
}

/// The names `path` goes through (`..` kept, `.` and `/` left out), last first: a stack to
/// resolve them from.
fn names_backwards(path: &Path) -> Vec<std::ffi::OsString> {
    path.components()
        .rev()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => Some(name.to_owned()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
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

/// `e` with `context` before its own message.
pub fn annotate(e: io::Error, context: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{context}: {e}"))
}
