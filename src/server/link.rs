//! `keyhatch link`: a fresh login link from the account's own running keyhatch. The server
//! answers on `link-NAME.sock` in the account's private runtime directory (0700, the socket
//! 0600), and only to a peer of its own account (`SO_PEERCRED`); the command checks the
//! directory and that the server it reached runs as its own account, so a socket another
//! account planted cannot hand it a link of theirs.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use super::auth::{Auth, LINK_LIFETIME};
use super::runtime;
use super::socket_file::{self, Found};

/// What a client sends to ask for a link.
const REQUEST: &[u8] = b"link\n";

/// The link socket of a running server; removed when dropped, if it is still the one made.
#[derive(Debug)]
pub struct LinkSocket {
    name: String,
    path: PathBuf,
    /// Which file the socket is, as last bound.
    made: Mutex<Option<socket_file::FileId>>,
    /// Where a socket bound again at `path` goes, to be answered instead.
    again: mpsc::UnboundedSender<UnixListener>,
    /// The task that answers on it, with every answer under way.
    task: tokio::task::AbortHandle,
}

impl LinkSocket {
    /// The name `keyhatch link NAME` reaches this server by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the socket at its path is still the one this server bound.
    pub fn is_there(&self) -> bool {
        let made = *self.made.lock().unwrap_or_else(PoisonError::into_inner);
        made.is_some() && socket_file::identity(&self.path) == made
    }

    /// Binds the link socket again at its path (its directory was removed, and made again),
    /// and answers there from now on.
    pub fn bind_again(&self) -> io::Result<()> {
        let listener = bind_private(&self.path)?;
        *self.made.lock().unwrap_or_else(PoisonError::into_inner) =
            socket_file::identity(&self.path);
        self.again
            .send(listener)
            .map_err(|_| io::Error::other("the link socket's task has ended"))
    }
}

impl Drop for LinkSocket {
    /// Ends the answers too, the one a client connected earlier waits for among them: a link
    /// given once the stop has begun led to a port another account could take by then (red
    /// team).
    fn drop(&mut self) {
        self.task.abort();
        let made = *self.made.get_mut().unwrap_or_else(PoisonError::into_inner);
        socket_file::remove_if_same(&self.path, made);
    }
}

/// The path of the link socket of the server called `name` (its port, or `socket`).
fn socket_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("link-{name}.sock"))
}

/// Starts answering `keyhatch link` from the runtime directory of `uid`, with links that start
/// with `base` (`http://k….localhost:3000`), under the name `wanted` (the port, or `socket`)
/// or, when another server of this account answers under it in any of its runtime directories,
/// the first of `wanted-2`, `wanted-3`, … that none does. The name is claimed by binding its
/// socket, the directory locked meanwhile: two servers starting together took one name, and
/// each other's login files (red team).
pub fn listen(uid: u32, wanted: &str, base: &str, auth: Auth) -> io::Result<LinkSocket> {
    let dir = runtime::dir_path(uid);
    runtime::ensure_safe_dir(&dir, uid)?;
    let _locked = lock(&dir)?;
    let elsewhere: Vec<PathBuf> = runtime::dirs_in_use(uid)
        .into_iter()
        .filter(|other| *other != dir)
        .collect();
    let mut claimed = None;
    for n in 1..=100 {
        let name = match n {
            1 => wanted.to_owned(),
            _ => format!("{wanted}-{n}"),
        };
        let live = |dir: &Path| socket_file::look(&socket_path(dir, &name)) == Found::Live;
        if elsewhere.iter().any(|other| live(other)) {
            continue;
        }
        let path = socket_path(&dir, &name);
        match socket_file::look(&path) {
            Found::Nothing => {}
            // Left by a keyhatch that was killed.
            Found::Stale => std::fs::remove_file(&path)?,
            Found::Live | Found::Other(_) => continue,
        }
        claimed = Some((name, path));
        break;
    }
    let Some((name, path)) = claimed else {
        return Err(io::Error::other(format!(
            "100 names for {wanted} are taken in {}",
            dir.display()
        )));
    };
    let mut listener = bind_private(&path)?;
    let made = Mutex::new(socket_file::identity(&path));
    let (again, mut bound_again) = mpsc::unbounded_channel();
    let base = base.to_owned();
    let task = tokio::spawn(async move {
        // Each answer ends with this task: none is given once the socket is gone.
        let mut answers = tokio::task::JoinSet::new();
        loop {
            while answers.try_join_next().is_some() {}
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                Some(bound) = bound_again.recv() => {
                    listener = bound;
                    continue;
                }
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let (auth, base) = (auth.clone(), base.clone());
            answers.spawn(async move { answer(stream, uid, &base, &auth).await });
        }
    });
    Ok(LinkSocket {
        name,
        path,
        made,
        again,
        task: task.abort_handle(),
    })
}

/// An exclusive lock on the directory `dir`, held until dropped; waits up to 5 seconds for
/// another keyhatch of this account starting at the same moment.
fn lock(dir: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(dir)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "another process of yours has held {} locked for 5 seconds",
                        dir.display()
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A Unix socket bound at `path`, 0600 from the start.
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    bound
}

/// Gives the peer on `stream` a new link when it runs as `uid` and asks for one.
async fn answer(mut stream: tokio::net::UnixStream, uid: u32, base: &str, auth: &Auth) {
    let peer = stream.peer_cred().ok().map(|cred| cred.uid());
    if peer != Some(uid) {
        let who = peer.map_or_else(|| "unknown".to_owned(), |uid| format!("uid {uid}"));
        auth.record_from("link socket", "link", &format!("refused: {who}"));
        return;
    }
    let mut asked = [0u8; REQUEST.len()];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut asked)).await;
    // A client that only looks for live servers connects and closes without asking.
    if !matches!(read, Ok(Ok(_))) || asked != REQUEST {
        return;
    }
    let link = format!("{base}/?token={}\n", auth.new_link());
    if stream.write_all(link.as_bytes()).await.is_ok() {
        auth.record_from("link socket", "link", "ok");
    }
}

/// Runs `keyhatch link`: prints a new login link from this account's running keyhatch.
pub fn run(server: Option<&str>) -> ExitCode {
    match fetch(server) {
        Ok(link) => {
            let _ = writeln!(
                io::stdout().lock(),
                "Open this link in your browser to log in (it works once, within {} minutes):\n\n    {}\n",
                LINK_LIFETIME.as_secs() / 60,
                link.trim()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keyhatch link: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A new link from the server named `server`, or from the only one running.
fn fetch(server: Option<&str>) -> io::Result<String> {
    let uid = nix::unistd::getuid().as_raw();
    let dirs = runtime::dirs_in_use(uid);
    let dirs: Vec<&Path> = dirs
        .iter()
        .map(PathBuf::as_path)
        .filter(|d| d.exists())
        .collect();
    let Some(first) = dirs.first() else {
        return Err(no_server(&runtime::dir_path(uid)));
    };
    for dir in &dirs {
        runtime::ensure_private_dir(dir, uid)?;
    }
    let (mut stream, dir) = match server {
        Some(name) => dirs
            .iter()
            .find_map(|dir| Some((socket_file::connect(&socket_path(dir, name)).ok()?, *dir)))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no keyhatch called {name} answers in {}", first.display()),
                )
            })?,
        None => only_live(&dirs)?,
    };
    // The directory is private, but a link is only taken from this account's own server.
    let server_uid =
        nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
            .map(|cred| cred.uid())
            .map_err(io::Error::from)?;
    if server_uid != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the server on {} runs as uid {server_uid}, not as you",
                dir.display()
            ),
        ));
    }
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(REQUEST)?;
    let mut link = String::new();
    stream
        .take(4096)
        .read_to_string(&mut link)
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "your keyhatch in {} did not answer within 10 seconds (is it stopped, as by Ctrl-Z?)",
                    dir.display()
                ),
            ),
            _ => e,
        })?;
    if !link.starts_with("http") {
        return Err(io::Error::other("the server gave no link"));
    }
    Ok(link)
}

/// A connection to the one server whose link socket answers in `dirs`, and its directory.
fn only_live<'a>(dirs: &[&'a Path]) -> io::Result<(UnixStream, &'a Path)> {
    let mut live = Vec::new();
    // A server that takes no connection: said when no other answers.
    let mut stopped = None;
    for dir in dirs {
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(server) = name
                .to_str()
                .and_then(|n| n.strip_prefix("link-"))
                .and_then(|n| n.strip_suffix(".sock"))
            else {
                continue;
            };
            match socket_file::connect(&dir.join(&name)) {
                Ok(stream) => live.push((server.to_owned(), stream, *dir)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => stopped = Some(e),
                Err(_) => {}
            }
        }
    }
    match live.len() {
        0 => Err(stopped.unwrap_or_else(|| no_server(dirs[0]))),
        1 => {
            let (_, stream, dir) = live.remove(0);
            Ok((stream, dir))
        }
        _ => {
            let names: Vec<String> = live.into_iter().map(|(name, ..)| name).collect();
            Err(io::Error::other(format!(
                "several of your keyhatch servers run here ({}); name one, e.g. keyhatch link {}",
                names.join(", "),
                names[0]
            )))
        }
    }
}

fn no_server(dir: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "no keyhatch of yours is running on this node (none answers in {}); start it, and it prints a login link",
            dir.display()
        ),
    )
}
