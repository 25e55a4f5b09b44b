//! A rewrite's temporary files: created locked beside `authorized_keys`, with its mode, owner
//! and attributes; cleared once a crash has left them and nobody holds them.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Instant;

use nix::libc;
use rand::TryRngCore;
use rand::rngs::OsRng;
use rustix::fs::OFlags;

use super::dir::SshDir;
use super::error::{StoreError, io_error};
use super::lock::{self, Locked};

/// The name of a rewrite's temporary file for the keys file `file`, before its random part.
pub(super) fn temp_prefix(file: &str) -> String {
    format!(".{file}.keyhatch-")
}

/// Deletes the temporary files that crashed rewrites left: those nobody holds a lock on. A
/// rewrite locks each of its temporary files as it creates it, and keeps the locks until it is
/// done: the file it swapped out, under a temporary name for a moment, is the one it locked
/// first. So the keyhatch that locks the new file the moment after a swap deletes nothing of
/// a rewrite under way.
pub(super) fn remove_stale_temps(dir: &SshDir) {
    let Ok(names) = dir.names() else {
        return;
    };
    let prefix = temp_prefix(dir.file_name());
    for name in names {
        if let Some(name) = name.to_str()
            && name.starts_with(&prefix)
            && !is_held(dir, name)
        {
            let _ = dir.remove(name);
        }
    }
}

/// Whether another open file holds a lock on the entry `name` (never followed if a link).
fn is_held(dir: &SshDir, name: &str) -> bool {
    dir.open_file(name, OFlags::RDONLY | OFlags::NONBLOCK, 0)
        .and_then(|file| lock::is_locked(&file))
        .unwrap_or(false)
}

/// Writes `contents` to a new locked temporary file in `dir`, with the locked original's mode,
/// owner and extended attributes (see [`match_attributes`]), fsynced. Returns it open, and its
/// name.
pub(super) fn write_temp(
    dir: &SshDir,
    contents: &[u8],
    original: &Locked,
) -> Result<(File, String), StoreError> {
    let like = &original.meta;
    // Random, not the pid: keyhatch on two NFS clients may have the same pid.
    let prefix = temp_prefix(dir.file_name());
    let salt = OsRng
        .try_next_u64()
        .map_err(|e| io_error("create", &dir.path_of(&prefix), io::Error::other(e)))?;
    let name = format!("{prefix}{salt:016x}");
    // Appending: a late append given back after the swap lands after a line another program
    // added to the new file meanwhile, never over it. Readable: swapped back, what was appended
    // to it is carried to the file back in its place.
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::APPEND;
    let mut file = dir
        .open_file(&name, flags, 0o600)
        .map_err(|e| io_error("create", &dir.path_of(&name), e))?;
    let result = (|| {
        // Only the person's own programs can open a file this new (0600), to hold its lock.
        if !lock::lock_exclusive(&file, Instant::now())? {
            return Err(io::Error::other(
                "another program locked it as it was created",
            ));
        }
        file.write_all(contents)?;
        let mine = file.metadata()?;
        if (mine.uid(), mine.gid()) != (like.uid(), like.gid()) {
            std::os::unix::fs::fchown(&file, Some(like.uid()), Some(like.gid()))?;
        }
        match_attributes(&original.file, &file)?;
        file.set_permissions(std::fs::Permissions::from_mode(like.mode() & 0o7777))?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok((file, name)),
        Err(e) => {
            let _ = dir.remove(&name);
            Err(io_error("write", &dir.path_of(&name), e))
        }
    }
}

/// Gives `to` the extended attributes of `from` that make what the file is, and only those: its
/// ACL, whose mask the mode's group bits stand for once there is one (left behind, the mask
/// became plain group permissions: a file another account could not write, that account then
/// could), its SELinux label and the person's own `user.` attributes. An ACL or `user.`
/// attribute `to` has and `from` lacks is taken away: a new file gets the directory's default
/// ACL, which gave another account a file it could not read before (red team). The kernel and
/// security modules keep the rest themselves. One that cannot be copied fails the rewrite,
/// which then writes nothing. The caller sets the mode afterwards. Whether anything changed.
pub(super) fn match_attributes(from: &File, to: &File) -> io::Result<bool> {
    use xattr::FileExt as _;
    const ACL: &str = "system.posix_acl_access";
    let kept = |file: &File| -> io::Result<Vec<String>> {
        let names = match file.list_xattr() {
            Ok(names) => names,
            // A filesystem without extended attributes: nothing to copy.
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(names
            .filter_map(|name| name.into_string().ok())
            .filter(|name| {
                matches!(name.as_str(), ACL | "security.selinux") || name.starts_with("user.")
            })
            .collect())
    };
    let theirs = kept(from)?;
    let mut changed = false;
    for name in kept(to)? {
        if !theirs.contains(&name) && name != "security.selinux" {
            to.remove_xattr(&name)?;
            changed = true;
        }
    }
    for name in theirs {
        // `None`: taken away since it was listed.
        let Some(value) = from.get_xattr(&name)? else {
            continue;
        };
        if to.get_xattr(&name)?.as_ref() != Some(&value) {
            changed = true;
            to.set_xattr(&name, &value).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("could not give it the attribute {name}: {e}"),
                )
            })?;
        }
    }
    Ok(changed)
}
