//! The account's private runtime directory: the default Unix socket, and the login files for
//! batch jobs, whose standard output is often readable by others. It is
//! `$XDG_RUNTIME_DIR/keyhatch`; where that is unset (`su`, `sudo`, cron, a batch job), the
//! `keyhatch` directory in the one systemd-logind keeps for the account's sessions,
//! `/run/user/UID`, when there is one; else `/tmp/keyhatch-UID`, unless another account has
//! made that first: then `~/.keyhatch-run-HOST` in the account's home (named for this host, as
//! a home may be shared by many).

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::socket_file;

/// The runtime directory of the account `uid`, picked once for this process: a server keeps the
/// one it starts with (red team: another account's directory, made between two looks at
/// start, took the socket). Not created, unless it is `/tmp/keyhatch-UID`: that is made at
/// once, so that it is this account's or, made by another account first, passed by.
pub fn dir_path(uid: u32) -> PathBuf {
    static PICKED: OnceLock<(u32, PathBuf)> = OnceLock::new();
    match PICKED.get_or_init(|| (uid, pick(uid))) {
        (picked_for, dir) if *picked_for == uid => dir.clone(),
        _ => pick(uid),
    }
}

fn pick(uid: u32) -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir.join("keyhatch");
    }
    // Only root can make a directory in `/run/user`: no other account can have made this one
    // first, as one can in `/tmp` (red team).
    let sessions = PathBuf::from(format!("/run/user/{uid}"));
    if is_private_dir(&sessions, uid) {
        return sessions.join("keyhatch");
    }
    let tmp = PathBuf::from(format!("/tmp/keyhatch-{uid}"));
    if is_private_dir(&tmp, uid) {
        return tmp;
    }
    let home = in_home(uid);
    // Where a server of this account's went when another account held `/tmp`.
    if let Some(home) = home.as_ref().filter(|home| is_private_dir(home, uid)) {
        return home.clone();
    }
    // Made now, in the sticky `/tmp`, it stays this account's; made first by another, it is
    // passed by.
    let _ = DirBuilder::new().mode(0o700).create(&tmp);
    if is_private_dir(&tmp, uid) {
        return tmp;
    }
    home.unwrap_or(tmp)
}

/// Every runtime directory a server of `uid`'s may be using: the one [`dir_path`] picks now,
/// then the others that are private directories of `uid`. A server keeps the one it started
/// with, and the pick may have changed since: a session's `/run/user/UID` made or removed, or
/// `XDG_RUNTIME_DIR` set in one shell and not in another (red team: `keyhatch link` said no
/// keyhatch was running, although one was).
pub fn dirs_in_use(uid: u32) -> Vec<PathBuf> {
    let mut dirs = vec![dir_path(uid)];
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("keyhatch"));
    let others = [
        xdg,
        Some(PathBuf::from(format!("/run/user/{uid}/keyhatch"))),
        Some(PathBuf::from(format!("/tmp/keyhatch-{uid}"))),
        in_home(uid),
    ];
    for dir in others.into_iter().flatten() {
        if !dirs.contains(&dir) && is_private_dir(&dir, uid) {
            dirs.push(dir);
        }
    }
    dirs
}

/// `~/.keyhatch-run-HOST` of the account `uid`, from the user database (not `$HOME`, which
/// `su` and `sudo` may leave as another account's).
fn in_home(uid: u32) -> Option<PathBuf> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    let host = nix::unistd::gethostname().ok()?;
    let host: String = host
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (user.dir.is_absolute() && !host.is_empty())
        .then(|| user.dir.join(format!(".keyhatch-run-{host}")))
}

/// Whether `dir` is a directory, not a link, that only `uid` can use, on a filesystem that
/// tells its owner truly (not FUSE: see [`super::walk::on_fuse`]).
fn is_private_dir(dir: &Path, uid: u32) -> bool {
    fs::symlink_metadata(dir)
        .is_ok_and(|meta| meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0)
        && !super::walk::on_fuse(dir)
}

/// Creates `dir` (mode 0700) when missing, then checks that it is a real directory that only
/// `uid` can use, as tmux does with its socket directory: in `/tmp` another account may have
/// made it first.
pub fn ensure_private_dir(dir: &Path, uid: u32) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if !is_private_dir(dir, uid) {
        let owner = fs::symlink_metadata(dir).map_or(uid, |meta| meta.uid());
        let why = match owner == uid {
            true => "a link, or open to others; remove it".to_owned(),
            false => format!("another account, uid {owner}, made it"),
        };
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a private directory of this account ({why}, or set XDG_RUNTIME_DIR to one of yours)",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// [`ensure_private_dir`], then the directories above `dir` walked from `/` as for a socket:
/// only this account or root may change them (another could rename the directory away and put
/// its own in its place). A directory made here that fails the walk is removed.
pub fn ensure_safe_dir(dir: &Path, uid: u32) -> io::Result<()> {
    ensure_private_dir(dir, uid).map_err(|e| why_here(e, dir, uid))?;
    if let Err(e) = super::walk::only_this_account_can_change(&dir.join("keyhatch.sock"), uid) {
        let _ = fs::remove_dir(dir);
        return Err(why_here(e, dir, uid));
    }
    Ok(())
}

/// `e`, about the runtime directory `dir`, saying why keyhatch is there when it is in the home
/// because another account made `/tmp/keyhatch-UID` first: that account is named (red team:
/// nothing said who stopped the start).
pub fn why_here(e: io::Error, dir: &Path, uid: u32) -> io::Error {
    let tmp = PathBuf::from(format!("/tmp/keyhatch-{uid}"));
    let squatter = fs::symlink_metadata(&tmp)
        .ok()
        .map(|meta| meta.uid())
        .filter(|owner| *owner != uid);
    match squatter {
        Some(owner) if in_home(uid).as_deref() == Some(dir) => io::Error::new(
            e.kind(),
            format!(
                "{e} (keyhatch's runtime directory is in the home because another account, uid \
                 {owner}, made {} first; set XDG_RUNTIME_DIR to a private directory of yours)",
                tmp.display()
            ),
        ),
        _ => e,
    }
}

/// The login link and the script header, each in a 0600 file; removed when dropped, each if it
/// is still the file written.
#[derive(Debug)]
pub struct LoginFiles {
    /// The file holding the login link.
    pub url: PathBuf,
    /// The file holding `Authorization: Bearer …`, for `curl -H @FILE`.
    pub header: PathBuf,
    /// Which file each is, as last written.
    made: Mutex<[Option<socket_file::FileId>; 2]>,
}

impl LoginFiles {
    /// Writes `login-NAME.url` and `login-NAME.header` into the runtime directory of `uid`.
    pub fn write(uid: u32, name: &str, url: &str, token: &str) -> io::Result<Self> {
        let dir = dir_path(uid);
        ensure_safe_dir(&dir, uid)?;
        let files = Self::at(&dir, name);
        files.fill(url, token)?;
        Ok(files)
    }

    /// The files of the server called `name` in `dir`, not yet written.
    fn at(dir: &Path, name: &str) -> Self {
        Self {
            url: dir.join(format!("login-{name}.url")),
            header: dir.join(format!("login-{name}.header")),
            made: Mutex::new([None, None]),
        }
    }

    /// Whether both files are gone (a directory removed, and made again): files there under
    /// their names now are another server's.
    pub fn are_gone(&self) -> bool {
        fs::symlink_metadata(&self.url).is_err() && fs::symlink_metadata(&self.header).is_err()
    }

    /// Writes the link `url` and the header of `token` into the files (again, after their
    /// directory was removed and made again).
    pub fn fill(&self, url: &str, token: &str) -> io::Result<()> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        made[0] = Some(write_private(&self.url, &format!("{url}\n"))?);
        made[1] = Some(write_private(
            &self.header,
            &format!("Authorization: Bearer {token}\n"),
        )?);
        Ok(())
    }
}

impl Drop for LoginFiles {
    fn drop(&mut self) {
        let [url, header] = *self.made.get_mut().unwrap_or_else(PoisonError::into_inner);
        socket_file::remove_if_same(&self.url, url);
        socket_file::remove_if_same(&self.header, header);
    }
}

/// Writes `text` to `path`, readable by this account only, never through a link; returns which
/// file it is.
fn write_private(path: &Path, text: &str) -> io::Result<socket_file::FileId> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    socket_file::identity_of(&file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_files_are_private_and_removed_on_drop() {
        let runtime = tempfile::tempdir().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let dir = runtime.path().join("keyhatch");
        ensure_private_dir(&dir, uid).unwrap();
        let files = LoginFiles::at(&dir, "1");
        files.fill("http://127.0.0.1:1/?token=t", "t").unwrap();
        assert_eq!(fs::metadata(&files.url).unwrap().mode() & 0o777, 0o600);
        let (url, header) = (files.url.clone(), files.header.clone());
        // Another file under the header's name since: left.
        fs::write(dir.join("new"), "another's\n").unwrap();
        fs::rename(dir.join("new"), &header).unwrap();
        drop(files);
        assert!(!url.exists());
        assert_eq!(fs::read_to_string(&header).unwrap(), "another's\n");
    }

    #[test]
    fn a_runtime_directory_another_account_made_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("keyhatch-1000");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        assert!(ensure_private_dir(&dir, uid).is_err(), "open to others");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(4246), None).expect("the test runs as root");
        assert!(ensure_private_dir(&dir, uid).is_err(), "another owner");
        let link = parent.path().join("link");
        std::os::unix::fs::symlink(parent.path(), &link).unwrap();
        assert!(ensure_private_dir(&link, uid).is_err(), "a link");
    }
}
