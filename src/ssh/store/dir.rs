//! `~/.ssh`, reached once and then held open.
//!
//! The home directory is opened as sshd reaches it (a home that is itself a symbolic link, such as
//! `/home/x` → `/export/home/x`, is common and fine). `~/.ssh` is then opened relative to it with
//! `O_DIRECTORY | O_NOFOLLOW`, and every later open, temporary file, rename, unlink and fsync goes
//! relative to that descriptor. Swapping `~/.ssh` for a symbolic link after it was opened
//! redirects nothing: the work stays in the directory that was checked.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::error::{StoreError, io_error};

/// The name of the directory in the home.
const DIR_NAME: &str = ".ssh";

/// An open `~/.ssh`; every operation on its entries is relative to it.
#[derive(Debug)]
pub(super) struct SshDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl SshDir {
    /// Opens `<home>/.ssh`, never through a symbolic link; `None` when it does not exist.
    pub(super) fn open(home: &Path) -> Result<Option<Self>, StoreError> {
        let home_fd = open_home(home)?;
        Self::open_in(&home_fd, home)
    }

    /// Opens `<home>/.ssh`, creating it with mode 0700 (durably) when it is missing.
    pub(super) fn open_or_create(home: &Path) -> Result<Self, StoreError> {
        let home_fd = open_home(home)?;
        if let Some(dir) = Self::open_in(&home_fd, home)? {
            return Ok(dir);
        }
        let path = home.join(DIR_NAME);
        match rustix::fs::mkdirat(&home_fd, DIR_NAME, Mode::from_raw_mode(0o700)) {
            Ok(()) => sync_home(&home_fd).map_err(|e| io_error("sync", home, e))?,
            // Another writer made it between our look and our mkdir: open what it made.
            Err(Errno::EXIST) => {}
            Err(e) => return Err(io_error("create", &path, e.into())),
        }
        Self::open_in(&home_fd, home)?.ok_or(StoreError::Missing(path))
    }

    fn open_in(home_fd: &OwnedFd, home: &Path) -> Result<Option<Self>, StoreError> {
        let path = home.join(DIR_NAME);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        // A few tries: the entry may change between the open and the look at what it is.
        for _ in 0..4 {
            match rustix::fs::openat(home_fd, DIR_NAME, flags, Mode::empty()) {
                Ok(fd) => return Ok(Some(Self { fd, path })),
                Err(Errno::NOENT) => return Ok(None),
                Err(Errno::LOOP) => return Err(StoreError::Symlink(path)),
                // O_NOFOLLOW with O_DIRECTORY reports a link as "not a directory": say which.
                Err(Errno::NOTDIR) => {
                    match rustix::fs::statat(home_fd, DIR_NAME, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) if file_type(&st) == FileType::Symlink => {
                            return Err(StoreError::Symlink(path));
                        }
                        Ok(st) if file_type(&st) == FileType::Directory => {}
                        _ => return Err(StoreError::NotADirectory(path)),
                    }
                }
                Err(e) => return Err(io_error("open", &path, e.into())),
            }
        }
        Err(StoreError::Busy(path))
    }

    /// The directory's path, for messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of the entry `name`, for messages.
    pub(super) fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The open directory, for `fchmod` and `fstat`.
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the entry `name` with `flags`, never following a symbolic link (`ELOOP` then).
    pub(super) fn open_file(&self, name: &str, flags: OFlags, mode: u32) -> io::Result<File> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode))?.into())
    }

    /// Opens the entry `name` for reading, following a symbolic link as sshd does, without
    /// blocking on a FIFO.
    pub(super) fn open_for_reading(&self, name: &str) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(&self.fd, name, flags, Mode::empty())?.into())
    }

    /// The entry `name` itself (a link is not followed).
    pub(super) fn stat(&self, name: &str) -> io::Result<Stat> {
        Ok(rustix::fs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Renames the entry `from` to `to`, replacing `to`.
    pub(super) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(&self.fd, from, &self.fd, to)?)
    }

    /// Removes the entry `name`.
    pub(super) fn remove(&self, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// Makes the directory's entries durable.
    pub(super) fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }

    /// The names of the directory's entries.
    pub(super) fn names(&self) -> io::Result<Vec<OsString>> {
        use std::os::unix::ffi::OsStringExt;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            names.push(OsString::from_vec(entry?.file_name().to_bytes().to_vec()));
        }
        Ok(names)
    }
}

/// Opens the home directory, following links as sshd does, as a handle for `openat` only
/// (`O_PATH`: no read permission is needed).
fn open_home(home: &Path) -> Result<OwnedFd, StoreError> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::openat(CWD, home, flags, Mode::empty()).map_err(|e| match e {
        Errno::NOENT => StoreError::HomeMissing(home.to_owned()),
        Errno::NOTDIR => StoreError::NotADirectory(home.to_owned()),
        e => io_error("open", home, e.into()),
    })
}

/// Makes a new entry of the home (`~/.ssh`) durable.
fn sync_home(home_fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(home_fd, ".", flags, Mode::empty())?;
    Ok(rustix::fs::fsync(fd)?)
}

fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}
