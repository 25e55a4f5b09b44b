//! Opening `authorized_keys` safely and locking it against other keyhatch writers.
//!
//! keyhatch's writers exclude each other with the `flock` of `~/.ssh`, where only the person can
//! open it (0700 or 0711, as sshd and keyhatch make it), and else with an open-file-description
//! lock on the file (`F_OFD_SETLK`: it works over NFS and, unlike a classic POSIX lock, no
//! unrelated `close()` drops it), which anyone who can read the file can hold too. An addition
//! is one `O_APPEND` write, which cannot clobber an outside appender.
//!
//! The locks are polled, so that a lock another program holds fails a write after a bound
//! instead of hanging it. Polling is unfair and slow under contention, so writers in this
//! process first queue at a [`Gate`] per `~/.ssh`, which wakes the next one the moment the last
//! is done; only other processes are polled for.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;
use rustix::fs::OFlags;

use super::dir::SshDir;
use super::error::{StoreError, io_error};

/// The file, open and exclusively locked against other keyhatch writers; unlocked on drop.
pub(super) struct Locked {
    /// The open file.
    pub(super) file: File,
    /// What it was when locked: size, inode, times, owner and mode.
    pub(super) meta: Metadata,
    /// The directory's lock among keyhatch processes, where its filesystem has one.
    _dir_lock: Option<File>,
    /// This process's turn at the directory; the next writer's when dropped.
    _turn: Turn,
}

impl Locked {
    /// Opens and locks the file in `dir` (creating it 0600 when `create`), after checking it is
    /// safe to write: a regular file, not a link, with one name, at most `max_size` bytes.
    /// `None` when the file does not exist and `create` is false. Gives up after `patience` when
    /// another program holds a lock on it (anyone who can read the file can lock it).
    pub(super) fn acquire(
        dir: &SshDir,
        create: bool,
        max_size: u64,
        patience: Duration,
    ) -> Result<Option<Self>, StoreError> {
        let path = dir.path_of(dir.file_name());
        let mut flags = OFlags::RDWR | OFlags::APPEND | OFlags::NONBLOCK;
        if create {
            flags |= OFlags::CREATE;
        }
        let deadline = Instant::now() + patience;
        let Some(turn) = Gate::of(dir)?.enter(deadline) else {
            return Err(StoreError::Locked(path));
        };
        let (dir_lock, open_to_others) = match lock_directory(dir, deadline) {
            Ok(DirLock::Held(file)) => (Some(file), false),
            Ok(DirLock::Unsupported) => (None, false),
            Ok(DirLock::OpenToOthers) => (None, true),
            Ok(DirLock::TimedOut) if held_by_another(dir) => {
                return Err(StoreError::LockedByAnother(dir.path().to_owned()));
            }
            Ok(DirLock::TimedOut) => return Err(StoreError::Locked(path)),
            Err(e) => return Err(io_error("lock", dir.path(), e)),
        };
        loop {
            // No following links; no blocking on a FIFO (it is refused right after).
            let file = match dir.open_file(dir.file_name(), flags, 0o600) {
                Ok(file) => file,
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                    return Err(StoreError::Symlink(path));
                }
                Err(e) if !create && e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error("open", &path, e)),
            };
            let meta = file.metadata().map_err(|e| io_error("read", &path, e))?;
            if !meta.file_type().is_file() {
                return Err(StoreError::NotRegular(path));
            }
            // With the directory's lock held, no other keyhatch is writing: the file's lock,
            // which anyone who can read the file can hold (red team: another account held it
            // against every revoke), is taken too if it is free, for a keyhatch that could not
            // lock the directory, but not waited for.
            let wait_until = match dir_lock {
                Some(_) => Instant::now(),
                None => deadline,
            };
            let locked =
                lock_exclusive(&file, wait_until).map_err(|e| io_error("lock", &path, e))?;
            match (locked, &dir_lock) {
                (true, _) | (false, Some(_)) => {}
                (false, None) if open_to_others => {
                    return Err(StoreError::LockedOpen {
                        path,
                        dir: dir.path().to_owned(),
                    });
                }
                (false, None) => return Err(StoreError::Locked(path)),
            }
            // A removal may have renamed a new file into place while we waited for the lock:
            // then ours is the old one, and we start over on the file the name holds now.
            match dir.stat(dir.file_name()) {
                Ok(now) if now.st_dev == meta.dev() && now.st_ino == meta.ino() => {}
                _ if Instant::now() < deadline => continue,
                _ => return Err(StoreError::Busy(path)),
            }
            let meta = file.metadata().map_err(|e| io_error("read", &path, e))?;
            if meta.nlink() > 1 {
                return Err(StoreError::HardLinked {
                    path,
                    links: meta.nlink(),
                });
            }
            if meta.len() > max_size {
                return Err(StoreError::TooLarge {
                    path,
                    size: meta.len(),
                    max: max_size,
                });
            }
            return Ok(Some(Self {
                file,
                meta,
                _dir_lock: dir_lock,
                _turn: turn,
            }));
        }
    }

    /// The whole file (at `path`, for messages) as it is now, refused past `max` bytes: it may
    /// have grown since it was locked, and an outside writer does not take the lock.
    pub(super) fn read_all(&self, path: &Path, max: u64) -> Result<Vec<u8>, StoreError> {
        let mut contents = Vec::with_capacity(self.meta.len().min(max) as usize);
        let mut file = &self.file;
        file.rewind()
            .and_then(|_| file.take(max + 1).read_to_end(&mut contents))
            .map_err(|e| io_error("read", path, e))?;
        if contents.len() as u64 > max {
            let size = self.size().unwrap_or(max + 1);
            return Err(StoreError::TooLarge {
                path: path.to_owned(),
                size,
                max,
            });
        }
        Ok(contents)
    }

    /// The file's size as it is now.
    pub(super) fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// The file's last byte as it is now; `None` when it is empty.
    pub(super) fn last_byte(&self) -> io::Result<Option<u8>> {
        let len = self.file.metadata()?.len();
        if len == 0 {
            return Ok(None);
        }
        let mut byte = [0u8];
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut byte, len - 1)?;
        Ok(Some(byte[0]))
    }

    /// Appends `record` with one `write` call (O_APPEND makes it land at the end, whoever else
    /// appends) and fsyncs. On a short or failed write, cuts the file back to its size before, so
    /// no half line is left, unless someone else has written after it meanwhile.
    pub(super) fn append_whole(&self, record: &[u8]) -> io::Result<()> {
        let file = &self.file;
        let before = file.metadata()?.len();
        let result = match (&*file).write(record) {
            Ok(n) if n == record.len() => file.sync_all(),
            Ok(n) => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "the disk is full or a file size limit was reached (only {n} of {} bytes fit); nothing was changed",
                    record.len()
                ),
            )),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let after = file.metadata()?.len();
            if after > before && after <= before + record.len() as u64 {
                file.set_len(before)?;
                file.sync_all()?;
            }
        }
        result
    }
}

/// Takes an exclusive open-file-description lock on the whole file, waiting for it until
/// `deadline`; false when another holder kept it that long.
pub(super) fn lock_exclusive(file: &File, deadline: Instant) -> io::Result<bool> {
    let whole = whole_file(libc::F_WRLCK);
    // Polled rather than F_OFD_SETLKW, which cannot time out: short waits first (another
    // keyhatch holds the lock for about a millisecond), then at most 50 ms apart.
    let mut pause = Duration::from_millis(1);
    loop {
        match fcntl(file, FcntlArg::F_OFD_SETLK(&whole)) {
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => {}
            Err(e) => return Err(e.into()),
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A directory's lock among keyhatch processes, as [`lock_directory`] found it.
pub(super) enum DirLock {
    /// Held until the file is dropped.
    Held(File),
    /// Not taken: the filesystem has no such lock (NFS: `flock` there needs a file open for
    /// writing).
    Unsupported,
    /// Not taken: other accounts can open the directory, and so hold its lock.
    OpenToOthers,
    /// Another held it until the deadline.
    TimedOut,
}

/// Takes the exclusive `flock` of the directory `dir`, waiting for it until `deadline`. The
/// file's own lock is not enough between keyhatch processes: when another program renames its
/// version over the file during a rewrite, a second keyhatch could lock that new file at once
/// and rewrite beside the first (an edit lost, and a revoke said done: red team).
///
/// Only a directory no other account can read is locked (sshd's and keyhatch's own 0700):
/// anyone who can open one can hold its lock, and keep the person from every change (red team,
/// on a `~/.ssh` of 0755).
pub(super) fn lock_directory(dir: &SshDir, deadline: Instant) -> io::Result<DirLock> {
    use rustix::fs::{FlockOperation, Mode};
    if rustix::fs::fstat(dir.fd())?.st_mode & 0o044 != 0 {
        return Ok(DirLock::OpenToOthers);
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let file: File = rustix::fs::openat(dir.fd(), ".", flags, Mode::empty())?.into();
    let mut pause = Duration::from_millis(1);
    loop {
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(DirLock::Held(file)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => {}
            Err(
                rustix::io::Errno::BADF | rustix::io::Errno::NOLCK | rustix::io::Errno::OPNOTSUPP,
            ) => {
                return Ok(DirLock::Unsupported);
            }
            Err(e) => return Err(e.into()),
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(DirLock::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Whether the `flock` on the directory `dir` is held by no process of this account. Another
/// account can hold it on a `~/.ssh` it opened while others could read it, even once that is
/// private (red team), and the person's `fuser` does not show it. `/proc/locks` names each
/// holder's process; one this account cannot see (`hidepid`) is another's.
fn held_by_another(dir: &SshDir) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(st) = rustix::fs::fstat(dir.fd()) else {
        return false;
    };
    let (major, minor) = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
    let id = format!("{major:02x}:{minor:02x}:{}", st.st_ino);
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    // `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; a lock waited for has `->` after `1:`.
    let holders: Vec<String> = locks
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&id.as_str()))
        .filter_map(|f| f.get(4).map(|pid| (*pid).to_owned()))
        .collect();
    let me = rustix::process::geteuid().as_raw();
    let theirs =
        |pid: &String| std::fs::metadata(format!("/proc/{pid}")).map_or(true, |m| m.uid() != me);
    !holders.is_empty() && holders.iter().all(theirs)
}

/// Whether another open file description (another process's, or another `open` of this one)
/// holds a lock on any part of `file`.
pub(super) fn is_locked(file: &File) -> io::Result<bool> {
    let mut probe = whole_file(libc::F_WRLCK);
    fcntl(file, FcntlArg::F_OFD_GETLK(&mut probe))?;
    Ok(probe.l_type != libc::F_UNLCK as libc::c_short)
}

/// A lock of `kind` on the whole file.
fn whole_file(kind: libc::c_int) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// One writer at a time per `~/.ssh` within this process, in the order they came.
#[derive(Default)]
struct Gate {
    busy: Mutex<bool>,
    freed: Condvar,
}

/// A writer's turn at a [`Gate`]; the next writer's turn starts when it is dropped.
struct Turn(Arc<Gate>);

impl Gate {
    /// The gate of the directory `dir` (by device and inode, whatever path reached it).
    fn of(dir: &SshDir) -> Result<Arc<Self>, StoreError> {
        /// The gates by the directory's device and inode.
        type Gates = Mutex<HashMap<(u64, u64), Arc<Gate>>>;
        static GATES: OnceLock<Gates> = OnceLock::new();
        let st = rustix::fs::fstat(dir.fd()).map_err(|e| io_error("read", dir.path(), e.into()))?;
        let mut gates = GATES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Gates nobody holds or waits at are dropped, so the map stays as small as the set of
        // directories being written to right now.
        gates.retain(|_, gate| Arc::strong_count(gate) > 1);
        Ok(Arc::clone(gates.entry((st.st_dev, st.st_ino)).or_default()))
    }

    /// Waits for this writer's turn until `deadline`; `None` when the turn did not come.
    fn enter(self: Arc<Self>, deadline: Instant) -> Option<Turn> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while *busy {
            let left = deadline.checked_duration_since(Instant::now())?;
            busy = self
                .freed
                .wait_timeout(busy, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *busy = true;
        drop(busy);
        Some(Turn(self))
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.0.freed.notify_one();
    }
}
