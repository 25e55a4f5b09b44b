//! Rewriting `authorized_keys` without losing a byte: a temporary file beside the original,
//! renamed over it, as OpenSSH's `hostfile.c` does (swapped with it where the filesystem can),
//! keeping the previous version as `authorized_keys.old` and giving back whatever an outside
//! writer appended meanwhile.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::str::FromStr;

use nix::libc;

use super::dir::SshDir;
use super::error::{StoreError, io_error};
use super::late::{carry_appended, give_back_late_appends, starts_with};
use super::lock::Locked;
use super::temp;

/// A step of a rewrite, in order. A test may make a debug build die at one of them (see
/// [`super::AuthorizedKeys::with_crash_at`]) to prove that a crash anywhere leaves a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A temporary file (the new contents, or a copy of the old) is written.
    TempWritten,
    /// Both temporary files are durable and the original was found unchanged.
    Checked,
    /// The previous version is in place as `authorized_keys.old`.
    BackedUp,
    /// The new contents have the file's name.
    Renamed,
    /// The directory is fsynced: the rewrite is durable.
    Synced,
    /// What an outside writer appended to the previous version meanwhile is about to be read,
    /// to be given to the new one.
    GivingBack,
}

impl FromStr for Step {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "temp-written" => Self::TempWritten,
            "checked" => Self::Checked,
            "backed-up" => Self::BackedUp,
            "renamed" => Self::Renamed,
            "synced" => Self::Synced,
            "giving-back" => Self::GivingBack,
            other => return Err(format!("no rewrite step is called {other:?}")),
        })
    }
}

/// A test's hook: another program's move at a step of a rewrite.
#[cfg(test)]
pub(super) type StepHook = Box<dyn FnMut(Step)>;

#[cfg(test)]
thread_local! {
    /// The hook called at each step of a rewrite made on this thread.
    pub(super) static AT_STEP: std::cell::RefCell<Option<StepHook>> =
        std::cell::RefCell::new(None);
    /// A test's stand-in for a filesystem that cannot swap two names (NFS).
    pub(super) static NO_EXCHANGE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// In debug builds, dies by SIGKILL when `step` is the one `crash_at` names. Release builds never
/// stop.
fn crash_point(step: Step, crash_at: Option<Step>) {
    #[cfg(test)]
    AT_STEP.with_borrow_mut(|hook| {
        if let Some(hook) = hook {
            hook(step);
        }
    });
    if cfg!(debug_assertions) && crash_at == Some(step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// [`temp::write_temp`], at the step [`Step::TempWritten`].
fn write_temp(
    dir: &SshDir,
    contents: &[u8],
    locked: &Locked,
    crash_at: Option<Step>,
) -> Result<(File, String), StoreError> {
    let written = temp::write_temp(dir, contents, locked)?;
    crash_point(Step::TempWritten, crash_at);
    Ok(written)
}

/// Writes `new` over the locked file, whose contents were `old`, through a temporary file and
/// a rename; keeps the previous version as `authorized_keys.old`. Returns false when an outside
/// writer changed the file since it was read: the file is then as they left it, and the rewrite
/// starts over on it.
///
/// Where the filesystem can swap two names in one step (`RENAME_EXCHANGE`; NFS cannot), the new
/// file is swapped in, from a temporary name no other program uses (never `.old`, which people
/// copy backups to), and the file swapped out is checked: a newer version renamed over ours
/// keeps the name; one renamed in just before the swap gets it back (see [`swap_back`]); the
/// one read, unchanged, becomes `authorized_keys.old` itself, so that a line written later by a
/// program that had it open lands there, not nowhere.
///
/// The new file is locked from its creation (see [`super::temp::remove_stale_temps`]): from the
/// swap on it has the name, and another keyhatch that opens the file then waits too.
pub(super) fn replace(
    dir: &SshDir,
    locked: &Locked,
    old: &[u8],
    new: &[u8],
    max_size: u64,
    crash_at: Option<Step>,
) -> Result<bool, StoreError> {
    let path = dir.path_of(dir.file_name());
    let (temp, temp_name) = write_temp(dir, new, locked, crash_at)?;
    // The previous version is kept as a copy first, never a second name for the file: a crash
    // must not leave authorized_keys with two links, which keyhatch would then refuse.
    let (_copy_held, copy_name) = match write_temp(dir, old, locked, crash_at) {
        Ok(written) => written,
        Err(e) => {
            let _ = dir.remove(&temp_name);
            return Err(e);
        }
    };
    let discard = |result| {
        let _ = dir.remove(&temp_name);
        let _ = dir.remove(&copy_name);
        result
    };
    match is_as_locked(dir, locked, old) {
        Ok(true) => {}
        Ok(false) => return discard(Ok(false)),
        Err(e) => return discard(Err(io_error("read", &path, e))),
    }
    crash_point(Step::Checked, crash_at);
    let backup = backup_name(dir);
    if let Err(e) = dir.rename(&copy_name, &backup) {
        return discard(Err(backup_error(dir, &backup, e)));
    }
    crash_point(Step::BackedUp, crash_at);
    match exchange(dir, &temp_name, dir.file_name()) {
        Ok(()) => {}
        Err(e) if is_unsupported(&e) => match dir.rename(&temp_name, dir.file_name()) {
            Ok(()) => return finish(dir, locked, old, &temp, false, max_size, crash_at),
            Err(e) => return discard(Err(io_error("replace", &path, e))),
        },
        Err(e) => return discard(Err(io_error("replace", &path, e))),
    }
    crash_point(Step::Renamed, crash_at);
    // `temp_name` now names the file that was authorized_keys.
    if !is_ours(dir, dir.file_name(), &temp) {
        // A newer version, renamed over ours, keeps the name; the one swapped out is `.old`.
        dir.rename(&temp_name, &backup)
            .map_err(|e| io_error("keep a copy of", &path, e))?;
        return Ok(false);
    }
    if !swapped_out_is_as_read(dir, &temp_name, locked, old) {
        return match swap_back(dir, &temp_name, &temp, new.len() as u64, &backup) {
            Ok(()) => Ok(false),
            // Theirs cannot go back: keep it where it is seen, and say where.
            Err(_) => match dir.rename(&temp_name, &backup) {
                Ok(()) => Err(StoreError::EditedMeanwhile(path)),
                Err(e) => Err(io_error("keep a copy of", &path, e)),
            },
        };
    }
    if let Err(e) = dir.rename(&temp_name, &backup) {
        // `authorized_keys.old` made a directory since it was written: the change is taken
        // back rather than made with the previous version under a temporary name, which the
        // next rewrite would delete.
        swap_back(dir, &temp_name, &temp, new.len() as u64, &backup)
            .map_err(|e| io_error("keep a copy of", &path, e))?;
        return Err(backup_error(dir, &backup, e));
    }
    finish(dir, locked, old, &temp, true, max_size, crash_at)
}

/// [`replace`]'s end, once the new file has the name (`swapped`: the old one is `.old`; else it
/// was renamed over): the old file's mode if it changed, the directory made durable, and the
/// late appends given back.
fn finish(
    dir: &SshDir,
    locked: &Locked,
    old: &[u8],
    new: &File,
    swapped: bool,
    max_size: u64,
    crash_at: Option<Step>,
) -> Result<bool, StoreError> {
    let path = dir.path_of(dir.file_name());
    keep_their_attributes(locked, new).map_err(|e| io_error("write", &path, e))?;
    dir.sync().map_err(|e| io_error("sync", dir.path(), e))?;
    crash_point(Step::Synced, crash_at);
    crash_point(Step::GivingBack, crash_at);
    let given_back = match give_back_late_appends(locked, old, new) {
        Ok(given_back) => given_back,
        Err(source) => {
            // Swapped out, the old file is `.old` already, late lines and all; renamed over, a
            // copy of it becomes `.old`, if there is room for one.
            if !swapped {
                let backup = backup_name(dir);
                keep_theirs(dir, locked, &backup, max_size, crash_at)?;
            }
            return Err(StoreError::LateLinesNotCopied { path, source });
        }
    };
    if !given_back {
        // Rewritten in place in the last moment: none of it is taken for an append. Swapped
        // out, it is `authorized_keys.old` already, as they left it; renamed over, it has no
        // name left, and a copy becomes `authorized_keys.old`.
        if !swapped {
            let backup = backup_name(dir);
            keep_theirs(dir, locked, &backup, max_size, crash_at)?;
        }
        return Err(StoreError::EditedMeanwhile(path));
    }
    Ok(true)
}

/// The name `ssh-keygen -R` keeps the previous version under: `authorized_keys.old`.
pub(super) fn backup_name(dir: &SshDir) -> String {
    format!("{}.old", dir.file_name())
}

/// Whether the file `dir` names is still the locked one, as it was read: `old`, unchanged.
fn is_as_locked(dir: &SshDir, locked: &Locked, old: &[u8]) -> io::Result<bool> {
    let now = dir.stat(dir.file_name())?;
    let was = &locked.meta;
    Ok(now.st_dev == was.dev()
        && now.st_ino == was.ino()
        && now.st_size as u64 == old.len() as u64
        && now.st_mtime == was.mtime()
        && now.st_mtime_nsec as i64 == was.mtime_nsec())
}

/// Whether the entry `name` is the file `ours` (keyhatch's new one).
fn is_ours(dir: &SshDir, name: &str, ours: &File) -> bool {
    let Ok(meta) = ours.metadata() else {
        return false;
    };
    dir.stat(name)
        .is_ok_and(|now| now.st_dev == meta.dev() && now.st_ino == meta.ino())
}

/// Removes the entry `name` if it is the file `ours`, and nothing else.
fn remove_if_ours(dir: &SshDir, name: &str, ours: &File) {
    if is_ours(dir, name, ours) {
        let _ = dir.remove(name);
    }
}

/// Why the previous version could not become `backup`: a directory in its place is the
/// person's to move (the rename of a file over one fails with `EISDIR`).
fn backup_error(dir: &SshDir, backup: &str, e: io::Error) -> StoreError {
    if e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error()) {
        return StoreError::OldInTheWay(dir.path_of(backup));
    }
    io_error("keep a copy of", &dir.path_of(dir.file_name()), e)
}

/// Makes a copy of the locked file as it is now (at most `max_size` bytes of it) the entry
/// `backup`.
fn keep_theirs(
    dir: &SshDir,
    locked: &Locked,
    backup: &str,
    max_size: u64,
    crash_at: Option<Step>,
) -> Result<(), StoreError> {
    let path = dir.path_of(dir.file_name());
    let mut theirs = Vec::new();
    let mut file = &locked.file;
    file.rewind()
        .and_then(|()| file.take(max_size).read_to_end(&mut theirs))
        .map_err(|e| io_error("read", &path, e))?;
    let (_, name) = write_temp(dir, &theirs, locked, crash_at)?;
    dir.rename(&name, backup).map_err(|e| {
        let _ = dir.remove(&name);
        io_error("keep a copy of", &path, e)
    })
}

/// Swaps the entries `a` and `b` of `dir` in one step, where the filesystem can.
fn exchange(dir: &SshDir, a: &str, b: &str) -> io::Result<()> {
    #[cfg(test)]
    if NO_EXCHANGE.get() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    dir.exchange(a, b)
}

/// Whether swapping names is not supported where `e` came from (NFS, an old kernel).
fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

/// Gives the new file the mode and attributes the locked one has now (see
/// [`temp::match_attributes`]), where they changed since the new one copied them: a `chmod`,
/// `setfacl` or `setfattr` in the last moment (a file made private, as sshd wants it) is kept,
/// not undone.
fn keep_their_attributes(locked: &Locked, new: &File) -> io::Result<()> {
    let attributes = temp::match_attributes(&locked.file, new)?;
    let mode = locked.file.metadata()?.mode() & 0o7777;
    if !attributes && mode == new.metadata()?.mode() & 0o7777 {
        return Ok(());
    }
    new.set_permissions(std::fs::Permissions::from_mode(mode))?;
    new.sync_all()
}

/// Whether the entry `name` is the locked file, and it still begins with the `old` bytes read.
fn swapped_out_is_as_read(dir: &SshDir, name: &str, locked: &Locked, old: &[u8]) -> bool {
    let same = dir
        .stat(name)
        .is_ok_and(|now| now.st_dev == locked.meta.dev() && now.st_ino == locked.meta.ino());
    same && starts_with(&locked.file, old).unwrap_or(false)
}

/// Puts the version swapped out, at `temp_name`, back under the file's name (the rewrite then
/// starts over on it), with whatever was appended to ours (`new`, `written` bytes as written)
/// while ours had the name (see [`carry_appended`]); ours is then deleted. Where a newer version
/// was renamed over ours just before, it is put back under the name instead, and the one
/// swapped out becomes `backup`: nothing but ours is ever deleted, and the newest version keeps
/// the name.
fn swap_back(
    dir: &SshDir,
    temp_name: &str,
    new: &File,
    written: u64,
    backup: &str,
) -> io::Result<()> {
    exchange(dir, temp_name, dir.file_name())?;
    if is_ours(dir, temp_name, new) {
        carry_appended(dir, new, written)?;
        remove_if_ours(dir, temp_name, new);
        return Ok(());
    }
    exchange(dir, temp_name, dir.file_name())?;
    dir.rename(temp_name, backup)
}
