//! A socket path walked from `/` one name at a time, as the kernel resolves it: every directory
//! on the way checked, and every link checked and followed in place, so that what is bound,
//! printed and later removed is the directory the walk ends in.

use std::io;
use std::path::{Path, PathBuf};

/// Refuses a socket path (local mode) that another account could swap: a directory on the way
/// that is not this account's or root's, or that group or others may write (a root-owned
/// sticky one such as `/tmp` excepted above the socket's own directory: there nobody can
/// rename another's entry, but anyone can take a free name), a missing one (another account
/// could make it in `/tmp` between this look and the bind), or a link on the way, however many
/// lead on from one another, that is not this account's or root's. Another account's
/// `/tmp/keyhatch-UID`, given with `--socket`, let it put its own socket there and take the
/// login links sent to it; so did a person's link into a group's directory, and a link to a
/// link there (red team). Returns the directory the socket's resolved to.
pub fn only_this_account_can_change(path: &Path, uid: u32) -> io::Result<PathBuf> {
    walk(path, uid, Use::Socket)
}

/// What a path walked is for, as its errors say.
#[derive(Clone, Copy)]
pub enum Use {
    /// A socket to listen on.
    Socket,
    /// The audit log, in local mode.
    AuditLog,
}

impl Use {
    fn cannot(self) -> &'static str {
        match self {
            Use::Socket => "cannot listen on",
            Use::AuditLog => "cannot write the audit log to",
        }
    }

    fn so(self) -> &'static str {
        match self {
            Use::Socket => {
                "so another account could put its own socket there; give --socket a path in a \
                 directory only you can change"
            }
            Use::AuditLog => {
                "so another account could put its own file there; give audit-log a path in a \
                 directory only you can change"
            }
        }
    }
}

/// [`only_this_account_can_change`], for a path used as `what`.
pub fn walk(path: &Path, uid: u32, what: Use) -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let cannot = what.cannot();
    let refuse = |why: String| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{cannot} {}: {why}, {}", path.display(), what.so()),
        )
    };
    let check_dir = |dir: &Path, own: bool| -> io::Result<()> {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| {
            annotate(
                e,
                &format!("{cannot} {}: {}", path.display(), dir.display()),
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
        if on_fuse(dir) {
            return Err(refuse(format!(
                "the directory {} is on a FUSE filesystem, whose owners and modes its server \
                 says (any account may mount one)",
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
                "{cannot} {}: the working directory it is relative to",
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
                &format!("{cannot} {}: {}", path.display(), next.display()),
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
                        "{cannot} {}: its directory is reached through more than 40 \
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
                    "{cannot} {}: {} is not a directory",
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

/// Whether `dir` is on a FUSE filesystem. Its server makes up every owner and mode, and where
/// `fusermount` lets accounts mount with `allow_other`, any account can serve a directory that
/// says it is another's and private (red team: keyhatch wrote the login link and the script
/// credential into one, and the printed socket path led to the attacker's socket). A directory
/// whose filesystem cannot be asked counts as FUSE.
pub fn on_fuse(dir: &Path) -> bool {
    const FUSE_SUPER_MAGIC: i128 = 0x6573_5546;
    // `f_type` is signed on glibc and unsigned on musl.
    rustix::fs::statfs(dir).map_or(true, |fs| i128::from(fs.f_type) == FUSE_SUPER_MAGIC)
}

/// `e` with `context` before its own message.
pub fn annotate(e: io::Error, context: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{context}: {e}"))
}
