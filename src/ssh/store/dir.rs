//! `~/.ssh` (or the directory a site's `AuthorizedKeysFile` names), reached once and then held
//! open.
//!
//! The home directory is opened as sshd reaches it (a home that is itself a symbolic link, such as
//! `/home/x` → `/export/home/x`, is common and fine). `~/.ssh` is then opened relative to it with
//! `O_DIRECTORY | O_NOFOLLOW` (a deeper directory one component at a time), and every later open, temporary file, rename, unlink and fsync goes
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
use super::location::Location;

/// An open `~/.ssh` (or the directory a site's `AuthorizedKeysFile` names), and the name of the
/// keys file in it; every operation on its entries is relative to it.
#[derive(Debug)]
pub(super) struct SshDir {
    fd: OwnedFd,
    path: PathBuf,
    file: String,
}

impl SshDir {
    /// Opens the directory of `location` below `home`, each component never through a symbolic
    /// link; `None` when one does not exist.
    pub(super) fn open(home: &Path, location: &Location) -> Result<Option<Self>, StoreError> {
        Self::walk(home, location, false)
    }

    /// Opens the directory of `location` below `home`, creating what is missing with mode
    /// 0700, durably.
    pub(super) fn open_or_create(home: &Path, location: &Location) -> Result<Self, StoreError> {
        let dir = Self::walk(home, location, true)?;
        dir.ok_or_else(|| StoreError::Missing(location.dir_path(home)))
    }

    fn walk(home: &Path, location: &Location, create: bool) -> Result<Option<Self>, StoreError> {
        let mut fd = open_home(home)?;
        let mut path = home.to_owned();
        for name in &location.dirs {
            let parent = path.clone();
            path.push(name);
            fd = match open_child(&fd, name, &path)? {
                Some(child) => child,
                None if !create => return Ok(None),
                None => {
                    match rustix::fs::mkdirat(&fd, name.as_str(), Mode::from_raw_mode(0o700)) {
                        Ok(()) => sync_dir_of(&fd).map_err(|e| io_error("sync", &parent, e))?,
                        // Another writer made it between our look and our mkdir: open it.
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(io_error("create", &path, e.into())),
                    }
                    open_child(&fd, name, &path)?
                        .ok_or_else(|| StoreError::Missing(path.clone()))?
                }
            };
        }
        Ok(Some(Self {
            fd,
            path,
            file: location.file.clone(),
        }))
    }

    /// The keys file's name in this directory.
    pub(super) fn file_name(&self) -> &str {
        &self.file
    }

    /// The directory's path, for messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of the entry `name`, for messages.
    pub(super) fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Whether walking from `home` to `location` now, as sshd would, reaches this same
    /// directory: false once it was moved away or replaced (or is gone) since it was opened.
    pub(super) fn is_reached_from(&self, home: &Path, location: &Location) -> bool {
        let Ok(Some(now)) = Self::open(home, location) else {
            return false;
        };
        match (rustix::fs::fstat(&self.fd), rustix::fs::fstat(&now.fd)) {
            (Ok(was), Ok(now)) => (was.st_dev, was.st_ino) == (now.st_dev, now.st_ino),
            _ => false,
        }
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

    /// Swaps the entries `a` and `b` in one step (`EINVAL` where the filesystem cannot).
    pub(super) fn exchange(&self, a: &str, b: &str) -> io::Result<()> {
        let flags = rustix::fs::RenameFlags::EXCHANGE;
        Ok(rustix::fs::renameat_with(&self.fd, a, &self.fd, b, flags)?)
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

/// Opens the directory `name` in `parent` with `O_DIRECTORY | O_NOFOLLOW` (`path` is its path,
/// for messages); `None` when it does not exist.
fn open_child(parent: &OwnedFd, name: &str, path: &Path) -> Result<Option<OwnedFd>, StoreError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // A few tries: the entry may change between the open and the look at what it is.
    for _ in 0..4 {
        match rustix::fs::openat(parent, name, flags, Mode::empty()) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(StoreError::Symlink(path.to_owned())),
            // O_NOFOLLOW with O_DIRECTORY reports a link as "not a directory": say which.
            Err(Errno::NOTDIR) => match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            {
                Ok(st) if file_type(&st) == FileType::Symlink => {
                    return Err(StoreError::Symlink(path.to_owned()));
                }
                Ok(st) if file_type(&st) == FileType::Directory => {}
                _ => return Err(StoreError::NotADirectory(path.to_owned())),
            },
            Err(e) => return Err(io_error("open", path, e.into())),
        }
    }
    Err(StoreError::Busy(path.to_owned()))
}

/// Makes a new entry of the directory `fd` durable (`fd` may be an `O_PATH` handle).
fn sync_dir_of(fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = rustix::fs::openat(fd, ".", flags, Mode::empty())?;
    Ok(rustix::fs::fsync(dir)?)
}

fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}
