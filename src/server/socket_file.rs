//! A Unix socket's name in the filesystem: whether a server still listens behind it, and
//! whether it is still the one this process made. keyhatch removes only a socket it made, or
//! one no program holds any more (left by a keyhatch that was killed), never another file or a
//! socket another program uses (red team: a datagram socket, and a socket its owner had made
//! unreachable with `chmod 000`, were removed and replaced).

mod unix_diag;

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

/// What is at a socket's path.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing: the name is free.
    Nothing,
    /// A stream socket a server listens on (or whose queue is full).
    Live,
    /// A stream socket no program holds any more (its program ended).
    Stale,
    /// Something else, described: left alone.
    Other(String),
}

/// Looks at `path` without waiting: a connection that would wait (a server whose queue is
/// full) counts as live.
pub fn look(path: &Path) -> Found {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Nothing,
        Err(e) => return Found::Other(format!("something keyhatch cannot look at ({e})")),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Found::Other("a directory".to_owned());
    }
    if kind.is_symlink() {
        return Found::Other("a symbolic link".to_owned());
    }
    if !kind.is_socket() {
        return Found::Other("a file that is not a socket".to_owned());
    }
    match connect_now(path) {
        Ok(_) | Err(Errno::EAGAIN) => Found::Live,
        Err(Errno::ECONNREFUSED) => {
            match unix_diag::VfsName::of(path).and_then(unix_diag::is_bound) {
                Ok(false) => Found::Stale,
                Ok(true) => {
                    Found::Other("a socket another program holds and does not listen on".to_owned())
                }
                // Left alone where the kernel cannot say whether a program holds it.
                Err(e) => Found::Other(format!(
                    "a socket nobody listens on, which keyhatch cannot tell no program holds \
                     ({e}; remove it if none does)"
                )),
            }
        }
        Err(e) => Found::Other(format!(
            "a socket keyhatch cannot tell is unused ({})",
            io::Error::from(e)
        )),
    }
}

/// A connection to the server listening at `path`, made without waiting: a server whose queue
/// is full (stopped, as by Ctrl-Z) is an error, not a wait without end.
pub fn connect(path: &Path) -> io::Result<std::os::unix::net::UnixStream> {
    let fd = connect_now(path).map_err(|e| match e {
        Errno::EAGAIN => io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "the server at {} takes no connection (is it stopped, as by Ctrl-Z?)",
                path.display()
            ),
        ),
        e => io::Error::from(e),
    })?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// A stream socket connected to `path` without waiting (a Unix socket connects at once, or
/// fails with `EAGAIN` when the server's queue is full).
fn connect_now(path: &Path) -> Result<std::os::fd::OwnedFd, Errno> {
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fd = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None)?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    Ok(fd)
}

/// Which file a name is: its device and inode, and its birth time where the filesystem keeps
/// one (an inode number is used again for the next file made once its file is gone: red team).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: (u32, u32),
    ino: u64,
    born: (i64, u32),
}

/// The file at `path` (not followed), when there is one.
pub fn identity(path: &Path) -> Option<FileId> {
    use rustix::fs::{AtFlags, CWD};
    rustix::fs::statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, WANTED)
        .ok()
        .map(|stat| file_id(&stat))
}

/// The file open as `file`.
pub fn identity_of(file: &std::fs::File) -> io::Result<FileId> {
    let stat = rustix::fs::statx(file, "", rustix::fs::AtFlags::EMPTY_PATH, WANTED)?;
    Ok(file_id(&stat))
}

const WANTED: rustix::fs::StatxFlags =
    rustix::fs::StatxFlags::INO.union(rustix::fs::StatxFlags::BTIME);

fn file_id(stat: &rustix::fs::Statx) -> FileId {
    let born = match rustix::fs::StatxFlags::from_bits_retain(stat.stx_mask)
        .contains(rustix::fs::StatxFlags::BTIME)
    {
        true => (stat.stx_btime.tv_sec, stat.stx_btime.tv_nsec),
        false => (0, 0),
    };
    FileId {
        dev: (stat.stx_dev_major, stat.stx_dev_minor),
        ino: stat.stx_ino,
        born,
    }
}

/// Removes `path` if it is still the file `made` names (another may have taken its name since).
pub fn remove_if_same(path: &Path, made: Option<FileId>) {
    if made.is_some() && identity(path) == made {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes `path` if it is still the socket `made` names and no program holds it: at a stop,
/// once the listener is closed (red team: a stale socket of the person's, reached through a
/// link another account put where the directory had been, was removed).
pub fn remove_if_stale(path: &Path, made: Option<FileId>) {
    if look(path) == Found::Stale {
        remove_if_same(path, made);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// On ext4 (and tmpfs) a file made right after another was removed takes its inode number:
    /// by device and inode alone it passed for the removed one (red team).
    #[test]
    fn a_new_file_under_a_removed_ones_name_and_inode_is_another_file() {
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let path = dir.path().join("login-socket.url");
        std::fs::write(&path, "old\n").unwrap();
        let old = identity(&path).unwrap();
        let old_ino = std::fs::metadata(&path).unwrap().ino();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            old_ino,
            "the inode is used again here (the case this checks)"
        );
        assert_ne!(identity(&path), Some(old));
        remove_if_same(&path, Some(old));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }
}
