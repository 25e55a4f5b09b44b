//! systemd-logind removes `/run/user/UID`, and keyhatch's runtime directory in it, when the
//! account's last session on the node ends. A keyhatch left running (in tmux, under nohup) lost
//! what it kept there: the default socket, the socket `keyhatch link` asks, and the login
//! files. Once the directory can be made again (the next login makes `/run/user/UID`), they are
//! made again, with the same checks as at start; a look every two seconds notices.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UnixListener;
use tokio::sync::mpsc::UnboundedSender;

use super::auth::Auth;
use super::bind;
use super::link::LinkSocket;
use super::runtime::{self, LoginFiles};
use super::socket_file::{self, Found};

/// How often the runtime directory is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// How often, at most, that it cannot be made again is said.
const SAY_AT_MOST_EVERY: Duration = Duration::from_secs(60);

/// What a local server keeps in its runtime directory; the files and sockets are removed when
/// it is dropped.
pub struct InRuntimeDir {
    /// The login link and the scripts' header.
    pub files: Option<LoginFiles>,
    /// The socket `keyhatch link` asks.
    pub links: Option<LinkSocket>,
    /// The default socket keyhatch serves on, when it serves there.
    pub socket: Option<DefaultSocket>,
}

impl InRuntimeDir {
    /// Whether everything kept is still there, as it was made.
    fn is_whole(&self) -> bool {
        self.files.as_ref().is_none_or(|files| !files.are_gone())
            && self.links.as_ref().is_none_or(LinkSocket::is_there)
            && (self.socket.as_ref())
                .is_none_or(|socket| socket_file::identity(&socket.path) == *socket.made())
    }
}

/// The default socket, in the runtime directory, and where a socket bound again there goes to
/// be served instead.
pub struct DefaultSocket {
    /// Its path.
    pub path: PathBuf,
    /// The server's listener takes what is sent here.
    again: UnboundedSender<UnixListener>,
    /// Which file the socket is, as last bound.
    made: Mutex<Option<socket_file::FileId>>,
}

impl DefaultSocket {
    /// The socket bound at `path`, whose listeners bound again there are sent to `again`.
    pub fn new(path: &Path, again: UnboundedSender<UnixListener>) -> Self {
        Self {
            path: path.to_owned(),
            again,
            made: Mutex::new(socket_file::identity(path)),
        }
    }

    fn made(&self) -> std::sync::MutexGuard<'_, Option<socket_file::FileId>> {
        self.made.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for DefaultSocket {
    /// Removes the socket if it is still the one last bound, once nobody listens on it.
    fn drop(&mut self) {
        let made = *self.made.get_mut().unwrap_or_else(PoisonError::into_inner);
        socket_file::remove_if_stale(&self.path, made);
    }
}

/// Says once, as an error, when the directory of a socket given with `--socket` is removed or
/// replaced: it is not made again (another account may have made it in the gap, as in `/tmp`),
/// and a forward to the socket then reaches whatever is there (red team).
pub fn watch_socket_dir(socket: &Path) {
    let Some(dir) = socket.parent().map(Path::to_owned) else {
        return;
    };
    let socket = socket.to_owned();
    let known = socket_file::identity(&dir);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            if socket_file::identity(&dir) != known {
                tracing::error!(
                    "the directory of keyhatch's socket, {}, was removed or replaced: a forward to {} reaches whatever is there now, so close that forward, stop this keyhatch and start it again",
                    dir.display(),
                    socket.display()
                );
                return;
            }
        }
    });
}

/// Why the runtime directory's contents are not made again.
enum NotAgain {
    /// The directory cannot be made yet (`/run/user/UID` is made at the next login).
    NotYet,
    /// Not this time; looked at again later.
    Cannot(String),
    /// Never, for the reason given.
    Never(String),
}

/// Keeps what `kept` holds in the runtime directory of `uid` for as long as the returned value
/// lives: made again whenever the directory is gone or another, once it can be made. New login
/// links start with `base`.
pub fn keep(kept: InRuntimeDir, uid: u32, auth: Auth, base: String) -> Arc<InRuntimeDir> {
    let kept = Arc::new(kept);
    // Nothing was made there at the start (the directory could not be): nothing to keep, and
    // no removal to report (one was reported every minute: red team).
    if kept.files.is_none() && kept.links.is_none() && kept.socket.is_none() {
        return kept;
    }
    let weak = Arc::downgrade(&kept);
    let dir = runtime::dir_path(uid);
    let mut known = socket_file::identity(&dir);
    tokio::spawn(async move {
        let mut said: Option<Instant> = None;
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let Some(kept) = weak.upgrade() else {
                return;
            };
            // The directory itself, or only what is in it (a cleaner that removes files and
            // keeps directories took the link socket, and keyhatch link found no server: red
            // team).
            let replaced = known.is_none() || socket_file::identity(&dir) != known;
            if !replaced && kept.is_whole() {
                continue;
            }
            match make_again(&kept, &dir, replaced, uid, &auth, &base) {
                Ok(made) => {
                    known = socket_file::identity(&dir);
                    if made {
                        tracing::info!(dir = %dir.display(), "what keyhatch keeps in its runtime directory was removed, and is made again");
                    }
                }
                Err(NotAgain::NotYet) => {}
                // At most once a minute: a directory changed back and forth says a new reason
                // at every look (red team).
                Err(NotAgain::Cannot(why)) => {
                    if said.is_none_or(|at| at.elapsed() >= SAY_AT_MOST_EVERY) {
                        tracing::warn!(dir = %dir.display(), "keyhatch's runtime directory was removed and what it kept there cannot be made again yet: {why}");
                        said = Some(Instant::now());
                    }
                }
                Err(NotAgain::Never(why)) => {
                    tracing::error!(dir = %dir.display(), "keyhatch's runtime directory was removed: {why}");
                    return;
                }
            }
        }
    });
    kept
}

/// Whether no account but this one (and root) could have made `dir` while it was gone: no
/// directory above it lets group or others add a name. In `/tmp` another account could have
/// made it, and served its own socket there, on the address this start's pages have: a script
/// it served there for good would run in keyhatch's pages once they came back (red team).
fn only_this_account_could_have_made(dir: &Path) -> bool {
    dir.ancestors()
        .skip(1)
        .filter_map(|above| std::fs::metadata(above).ok())
        .all(|meta| meta.mode() & 0o022 == 0)
}

/// Makes the directory again and what of its contents is missing; says whether it made
/// anything. What another server of the account made there meanwhile is left alone, and a look
/// that failed halfway is finished by the next.
fn make_again(
    kept: &InRuntimeDir,
    dir: &Path,
    replaced: bool,
    uid: u32,
    auth: &Auth,
    base: &str,
) -> Result<bool, NotAgain> {
    let cannot = |e: io::Error| NotAgain::Cannot(e.to_string());
    if let Some(socket) = &kept.socket
        && replaced
        && !only_this_account_could_have_made(dir)
    {
        return Err(NotAgain::Never(format!(
            "the socket the forward goes to, {}, was in it, and another account could have \
             served its own there meanwhile, on the address of this keyhatch's pages; close \
             that forward, stop this keyhatch and start it again (a new start has a new \
             address)",
            socket.path.display()
        )));
    }
    // As at start; another account may have made a missing directory above it in `/tmp`.
    match runtime::ensure_safe_dir(dir, uid) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(NotAgain::NotYet),
        Err(e) => return Err(cannot(e)),
    }
    let mut made = false;
    if let Some(socket) = &kept.socket {
        let mine = socket_file::identity(&socket.path) == *socket.made();
        match socket_file::look(&socket.path) {
            Found::Live if mine => {}
            Found::Nothing | Found::Stale => {
                let (listener, _) = bind::bind_unix(&socket.path, uid, None).map_err(cannot)?;
                *socket.made() = socket_file::identity(&socket.path);
                let listener = UnixListener::from_std(listener).map_err(cannot)?;
                let sent = socket.again.send(listener);
                sent.map_err(|_| NotAgain::Never("the server has stopped".to_owned()))?;
                made = true;
            }
            Found::Live | Found::Other(_) => {
                return Err(NotAgain::Never(format!(
                    "another keyhatch of yours serves on {} now, and this one can no longer be \
                     reached: stop it",
                    socket.path.display()
                )));
            }
        }
    }
    if let Some(links) = kept.links.as_ref().filter(|links| !links.is_there()) {
        let taken = runtime::dirs_in_use(uid).iter().any(|other| {
            socket_file::look(&other.join(links.path().file_name().unwrap_or_default()))
                == Found::Live
        });
        if taken {
            return Err(NotAgain::Cannot(format!(
                "another server of yours answers keyhatch link as {} now",
                links.name()
            )));
        }
        if socket_file::look(links.path()) == Found::Stale {
            let _ = std::fs::remove_file(links.path());
        }
        links.bind_again().map_err(cannot)?;
        made = true;
    }
    if let Some(files) = kept.files.as_ref().filter(|files| files.are_gone()) {
        let link = format!("{base}/?token={}", auth.new_link());
        files.fill(&link, auth.credential()).map_err(cannot)?;
        made = true;
    }
    Ok(made)
}
