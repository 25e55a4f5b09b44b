//! Rewriting `authorized_keys` without losing a byte: a temporary file beside the original,
//! renamed over it, as OpenSSH's `hostfile.c` does (swapped with it where the filesystem can),
//! keeping the previous version as `authorized_keys.old` and giving back whatever an outside
//! writer appended meanwhile.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::str::FromStr;

use nix::libc;
use rustix::fs::OFlags;

use super::dir::SshDir;
use super::error::{StoreError, io_error};
use super::lock::Locked;
use super::temp;

/// A step of a rewrite, in order. A test may make a debug build die at one of them (see
/// [`super::AuthorizedKeys::with_crash_at`]) to prove that a crash anywhere leaves a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A temporary file (the new contents or the backup) is written.
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
/// writer changed the file since it was read: the file is then as they left it (and
/// `authorized_keys.old`, at most, a copy of what was read).
///
/// Where the filesystem can swap two names in one step (`RENAME_EXCHANGE`; NFS cannot), the new
/// file is swapped in and the file swapped out is checked to be the one read, unchanged: a
/// program that renamed or rewrote the file in the last moment gets its version back, and the
/// rewrite starts over on it. The file swapped out then becomes `authorized_keys.old` itself,
/// so that a line written later by a program that had it open lands there, not nowhere.
///
/// Each temporary file is locked from its creation for as long as the rewrite lasts (see
/// [`super::temp::remove_stale_temps`]): from the swap on, the new file has the name but the lock taken
/// was the old one's, and another keyhatch that opens the file then must wait too.
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
    let (_backup_held, backup_temp) = match write_temp(dir, old, locked, crash_at) {
        Ok(written) => written,
        Err(e) => {
            let _ = dir.remove(&temp_name);
            return Err(e);
        }
    };
    let discard = |result| {
        let _ = dir.remove(&temp_name);
        let _ = dir.remove(&backup_temp);
        result
    };
    let now = match dir.stat(dir.file_name()) {
        Ok(now) => now,
        Err(e) => return discard(Err(io_error("read", &path, e))),
    };
    let was = &locked.meta;
    let unchanged = now.st_dev == was.dev()
        && now.st_ino == was.ino()
        && now.st_size as u64 == old.len() as u64
        && now.st_mtime == was.mtime()
        && now.st_mtime_nsec as i64 == was.mtime_nsec();
    if !unchanged {
        return discard(Ok(false));
    }
    crash_point(Step::Checked, crash_at);
    // The previous version, as `ssh-keygen -R` keeps it: `authorized_keys.old`.
    let backup = format!("{}.old", dir.file_name());
    if let Err(e) = dir.rename(&backup_temp, &backup) {
        return discard(Err(backup_error(dir, &backup, e)));
    }
    crash_point(Step::BackedUp, crash_at);
    let swapped = match exchange(dir, &temp_name, dir.file_name()) {
        Ok(()) => true,
        Err(e) if is_unsupported(&e) => match dir.rename(&temp_name, dir.file_name()) {
            Ok(()) => false,
            Err(e) => return discard(Err(io_error("replace", &path, e))),
        },
        Err(e) => return discard(Err(io_error("replace", &path, e))),
    };
    crash_point(Step::Renamed, crash_at);
    if swapped {
        // `temp_name` now names the file that was authorized_keys.
        if !swapped_out_is_as_read(dir, &temp_name, locked, old) {
            return match swap_back(dir, &temp_name, &temp, new.len() as u64) {
                Ok(()) => Ok(false),
                // Theirs cannot go back: keep it where it is seen, and say where.
                Err(_) => match dir.rename(&temp_name, &backup) {
                    Ok(()) => Err(StoreError::EditedMeanwhile(path)),
                    Err(e) => Err(io_error("keep a copy of", &path, e)),
                },
            };
        }
        if let Err(e) = dir.rename(&temp_name, &backup) {
            // `authorized_keys.old` was made a directory since it was written: the change is
            // taken back rather than made with the previous version under a temporary name,
            // which the next rewrite would delete.
            swap_back(dir, &temp_name, &temp, new.len() as u64)
                .map_err(|e| io_error("keep a copy of", &path, e))?;
            return Err(backup_error(dir, &backup, e));
        }
    }
    keep_their_mode(locked, &temp).map_err(|e| io_error("write", &path, e))?;
    dir.sync().map_err(|e| io_error("sync", dir.path(), e))?;
    crash_point(Step::Synced, crash_at);
    crash_point(Step::GivingBack, crash_at);
    if !give_back_late_appends(locked, old, &temp).map_err(|e| io_error("write", &path, e))? {
        // Rewritten in place in the last moment: none of it is taken for an append. Swapped
        // out, it is `authorized_keys.old` already, as they left it; renamed over, it has no
        // name left, and a copy becomes `authorized_keys.old`.
        if !swapped {
            keep_theirs(dir, locked, &backup, max_size, crash_at)?;
        }
        return Err(StoreError::EditedMeanwhile(path));
    }
    Ok(true)
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

/// Gives the new file the mode the locked one has now, where it changed since the new one
/// copied it: a `chmod` in the last moment (a file made private, as sshd wants it) is kept, not
/// undone.
fn keep_their_mode(locked: &Locked, new: &File) -> io::Result<()> {
    let mode = locked.file.metadata()?.mode() & 0o7777;
    if mode == locked.meta.mode() & 0o7777 {
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

/// Swaps the version swapped out, at `temp_name`, back under the file's name, and deletes the
/// new one there instead, once whatever was appended to it past its first `written` bytes, while
/// it had the name, is appended to the one back (see [`carry_appended`]). Where that fails, the
/// new one is kept under its temporary name.
fn swap_back(dir: &SshDir, temp_name: &str, new: &File, written: u64) -> io::Result<()> {
    exchange(dir, temp_name, dir.file_name())?;
    carry_appended(dir, new, written)?;
    let _ = dir.remove(temp_name);
    Ok(())
}

/// Appends to the file the name holds whatever `from` holds past its first `start` bytes, on
/// a line of its own: a program that appended to `from` while it had the name meant it for
/// the file of that name.
fn carry_appended(dir: &SshDir, from: &File, start: u64) -> io::Result<()> {
    let end = from.metadata()?.len();
    if end <= start {
        return Ok(());
    }
    let flags = OFlags::RDWR | OFlags::APPEND | OFlags::NONBLOCK;
    let to = dir.open_file(dir.file_name(), flags, 0)?;
    let len = to.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        to.read_exact_at(&mut last, len - 1)?;
    }
    if last != [b'\n'] {
        (&to).write_all(b"\n")?;
    }
    copy_tail(from, start, end, &to, || Ok(true))?;
    to.sync_all()
}

/// Whether `file` now begins with `bytes`.
fn starts_with(file: &File, bytes: &[u8]) -> io::Result<bool> {
    let mut now = vec![0; bytes.len()];
    match file.read_exact_at(&mut now, 0) {
        Ok(()) => Ok(now == bytes),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// After a rename, copies to the new file whatever an outside writer appended to the old one
/// between our last check and the rename, so nothing it wrote is lost; in pieces, however much
/// that is. False, with nothing copied since, once the old file does not begin with `old` as it
/// did: it was rewritten in place, and what lies past that length is not an append but the end
/// of their version (the tail of a line, perhaps, without the options that restricted it).
fn give_back_late_appends(locked: &Locked, old: &[u8], new: &File) -> io::Result<bool> {
    let end = locked.file.metadata()?.len();
    let from = old.len() as u64;
    if end <= from {
        return starts_with(&locked.file, old);
    }
    let whole = copy_tail(&locked.file, from, end, new, || {
        starts_with(&locked.file, old)
    })?;
    new.sync_all()?;
    Ok(whole)
}

/// Appends `from`'s bytes between `start` and `end` to `to`, in pieces; each only once
/// `still`, asked after reading it, says the source is still the one meant. False when it
/// said no.
fn copy_tail(
    from: &File,
    start: u64,
    end: u64,
    mut to: &File,
    still: impl Fn() -> io::Result<bool>,
) -> io::Result<bool> {
    let mut piece = vec![0; (end - start).min(LATE_PIECE) as usize];
    let mut at = start;
    while at < end {
        let len = piece.len().min((end - at) as usize);
        from.read_exact_at(&mut piece[..len], at)?;
        if !still()? {
            return Ok(false);
        }
        to.write_all(&piece[..len])?;
        at += len as u64;
    }
    Ok(true)
}

/// The most of late appends held in memory at once.
const LATE_PIECE: u64 = 64 << 10;
