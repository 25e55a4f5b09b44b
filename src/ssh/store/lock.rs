//! Opening `authorized_keys` safely and locking it against other keyhatch writers.
//!
//! keyhatch's writers exclude each other with an open-file-description lock (`F_OFD_SETLKW`: it
//! works over NFS and, unlike a classic POSIX lock, no unrelated `close()` drops it). An addition
//! is one `O_APPEND` write, which cannot clobber an outside appender.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;
use rustix::fs::OFlags;

use super::FILE_NAME;
use super::dir::SshDir;
use super::error::{StoreError, io_error};

/// The file, open and exclusively locked against other keyhatch writers; unlocked on drop.
pub(super) struct Locked {
    /// The open file.
    pub(super) file: File,
    /// What it was when locked: size, inode, times, owner and mode.
    pub(super) meta: Metadata,
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
        let path = dir.path_of(FILE_NAME);
        let mut flags = OFlags::RDWR | OFlags::APPEND | OFlags::NONBLOCK;
        if create {
            flags |= OFlags::CREATE;
        }
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            // No following links; no blocking on a FIFO (it is refused right after).
            let file = match dir.open_file(FILE_NAME, flags, 0o600) {
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
            if !lock_exclusive(&file, deadline).map_err(|e| io_error("lock", &path, e))? {
                return Err(StoreError::Locked(path));
            }
            // A removal may have renamed a new file into place while we waited for the lock:
            // then ours is the old one, and we start over on the file the name holds now.
            match dir.stat(FILE_NAME) {
                Ok(now) if now.st_dev == meta.dev() && now.st_ino == meta.ino() => {}
                _ => continue,
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
            return Ok(Some(Self { file, meta }));
        }
        Err(StoreError::Busy(path))
    }

    /// The whole file as it is now.
    pub(super) fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut contents = Vec::with_capacity(self.meta.len() as usize);
        let mut file = &self.file;
        file.rewind()?;
        file.read_to_end(&mut contents)?;
        Ok(contents)
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
fn lock_exclusive(file: &File, deadline: Instant) -> io::Result<bool> {
    let whole_file = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // Polled rather than F_OFD_SETLKW, which cannot time out: short waits first (another
    // keyhatch holds the lock for about a millisecond), then at most 50 ms apart.
    let mut pause = Duration::from_millis(1);
    loop {
        match fcntl(file, FcntlArg::F_OFD_SETLK(&whole_file)) {
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
