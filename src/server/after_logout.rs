//! systemd-logind removes `/run/user/UID`, and keyhatch's runtime directory in it, when the
//! account's last session on the node ends. A keyhatch left running (in tmux, under nohup) lost
//! what it kept there: the default socket, the socket `keyhatch link` asks, and the login
//! files. Once the directory can be made again (the next login makes `/run/user/UID`), they are
//! made again, with the same checks as at start; a look every two seconds notices.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::mpsc::UnboundedSender;

use super::auth::Auth;
use super::bind;
use super::link::LinkSocket;
use super::runtime::{self, LoginFiles};
use super::socket_file;

/// How often the runtime directory is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

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

/// The default socket, in the runtime directory, and where a socket bound again there goes to
/// be served instead.
pub struct DefaultSocket {
    /// Its path.
    pub path: PathBuf,
    /// The server's listener takes what is sent here.
    pub again: UnboundedSender<UnixListener>,
}

/// Keeps what `kept` holds in the runtime directory of `uid` for as long as the returned value
/// lives: made again whenever the directory is gone or another, once it can be made. New login
/// links start with `base`.
pub fn keep(kept: InRuntimeDir, uid: u32, auth: Auth, base: String) -> Arc<InRuntimeDir> {
    let kept = Arc::new(kept);
    let weak = Arc::downgrade(&kept);
    let dir = runtime::dir_path(uid);
    let mut known = socket_file::identity(&dir);
    tokio::spawn(async move {
        let mut said = None;
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let Some(kept) = weak.upgrade() else {
                return;
            };
            if known.is_some() && socket_file::identity(&dir) == known {
                continue;
            }
            match make_again(&kept, &dir, uid, &auth, &base) {
                Ok(()) => {
                    known = socket_file::identity(&dir);
                    said = None;
                    tracing::info!(dir = %dir.display(), "the runtime directory was removed; its socket and files are made again");
                }
                // Until the next login makes `/run/user/UID`.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    let e = e.to_string();
                    if said.as_ref() != Some(&e) {
                        tracing::warn!(dir = %dir.display(), "the runtime directory was removed and cannot be made again: {e}");
                        said = Some(e);
                    }
                }
            }
        }
    });
    kept
}

/// Makes the directory again and what is missing in it. Each part already there is left, so
/// a look that failed halfway is finished by the next.
fn make_again(
    kept: &InRuntimeDir,
    dir: &Path,
    uid: u32,
    auth: &Auth,
    base: &str,
) -> io::Result<()> {
    runtime::ensure_private_dir(dir, uid)?;
    // The directories above it, as for a socket at start: only this account (or root) may
    // change them. Another account may have made a missing one in `/tmp` meanwhile.
    if let Err(e) = bind::only_this_account_can_change(&dir.join("keyhatch.sock"), uid) {
        let _ = std::fs::remove_dir(dir);
        return Err(e);
    }
    let missing = |path: &Path| std::fs::symlink_metadata(path).is_err();
    if let Some(socket) = kept.socket.as_ref().filter(|s| missing(&s.path)) {
        let (listener, _) = bind::bind_unix(&socket.path, uid, None)?;
        let listener = UnixListener::from_std(listener)?;
        socket
            .again
            .send(listener)
            .map_err(|_| io::Error::other("the server has stopped"))?;
    }
    if let Some(links) = kept.links.as_ref().filter(|l| missing(l.path())) {
        links.bind_again()?;
    }
    if let Some(files) = kept.files.as_ref().filter(|f| missing(&f.url)) {
        let link = format!("{base}/?token={}", auth.new_link());
        files.fill(&link, auth.credential())?;
    }
    Ok(())
}
