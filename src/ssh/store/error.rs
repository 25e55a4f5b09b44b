//! Why `authorized_keys` could not be read or written.

use std::io;
use std::path::{Path, PathBuf};

/// Why `authorized_keys` could not be read or written. Messages are shown to the person.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The home directory does not exist.
    #[error("home directory {0} does not exist")]
    HomeMissing(PathBuf),
    /// A path that must be a directory is something else.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// `~/.ssh` or the file is not there, so there is nothing to change.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// A symbolic link where keyhatch writes: it never writes through one.
    #[error("{0} is a symbolic link; keyhatch does not write through links")]
    Symlink(PathBuf),
    /// The file is a FIFO, a device or anything else that is not a regular file.
    #[error("{0} is not a regular file; keyhatch reads and writes only regular files")]
    NotRegular(PathBuf),
    /// The file or directory belongs to another account; keyhatch changes only the person's own.
    #[error(
        "{path} belongs to another account (uid {owner}); keyhatch changes only your own files"
    )]
    NotYours {
        /// The file or directory.
        path: PathBuf,
        /// The uid that owns it.
        owner: u32,
    },
    /// The file has other names, which a rewrite would silently split from it.
    #[error(
        "{path} has {links} hard links; keyhatch does not write to a file that has other names"
    )]
    HardLinked {
        /// The file.
        path: PathBuf,
        /// How many names it has.
        links: u64,
    },
    /// The directory was moved away or replaced while keyhatch changed the file in it.
    #[error(
        "{0} was moved or replaced while keyhatch changed the file in it: the change was made \
         there, but sshd may read another file now. Look at your keys again"
    )]
    Moved(PathBuf),
    /// The file is larger than keyhatch's limit.
    #[error(
        "{path} is {size} bytes, more than keyhatch's limit of {max}; keyhatch leaves it alone"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Adding the key would take the file past keyhatch's limit; nothing was written.
    #[error(
        "{path} is {size} bytes, and one more key would take it past keyhatch's limit of {max}; \
         nothing was written. Remove keys you no longer use first"
    )]
    WouldBeTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size now.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The file holds as many keyhatch keys as the site allows.
    #[error(
        "you have {0} keyhatch keys, the most this site allows; revoke one you no longer use first"
    )]
    TooManyKeys(usize),
    /// The key is in the file already.
    #[error("the key {0} is already in the file")]
    AlreadyPresent(String),
    /// No line of the file has a key with this fingerprint.
    #[error("no key with fingerprint {0} is in the file")]
    KeyNotFound(String),
    /// The key is in the file on a line keyhatch did not write.
    #[error(
        "the key {0} is on a line keyhatch did not write; keyhatch changes only its own keys: edit that line yourself"
    )]
    NotOurs(String),
    /// The file sshd reads beside keyhatch's leads to `authorized_keys.old`.
    #[error(
        "{0} leads to authorized_keys.old, which keeps the file as it was before each change, and \
         sshd reads it too: no revoke or restrict would stop a key. Remove that link, then try \
         again"
    )]
    BesideIsOld(PathBuf),
    /// The key is also in the file sshd reads beside keyhatch's (`authorized_keys2`).
    #[error(
        "the key {fingerprint} is also in {}, which sshd reads too: changing keyhatch's line \
         would not change what that one lets in. Remove the key there yourself, then try again",
        path.display()
    )]
    CopyBeside {
        /// The key's fingerprint.
        fingerprint: String,
        /// The other file.
        path: PathBuf,
    },
    /// The key changed between being read and being replaced.
    #[error(
        "the key {0} changed while its replacement was made (restricted elsewhere?); nothing was written: look at it again and replace it then"
    )]
    ChangedMeanwhile(String),
    /// Another program rewrote the file while keyhatch replaced it; its version was kept.
    #[error(
        "another program rewrote {0} while keyhatch changed it; its version is kept as {0}.old. \
         Look at your keys and that file, and try again"
    )]
    EditedMeanwhile(PathBuf),
    /// `authorized_keys.old`, where the previous version goes, is a directory (or something
    /// else a file cannot be renamed over); nothing was changed.
    #[error(
        "{0} is a directory, and keyhatch keeps the previous version of your keys file there \
         before each change; nothing was changed. Move it away, and try again"
    )]
    OldInTheWay(PathBuf),
    /// The change is made, but what another program appended meanwhile could not be copied
    /// into the new file (a full disk or quota): it is in `authorized_keys.old`.
    #[error(
        "the change to {path} is made, but lines another program added to it meanwhile could not \
         be copied in ({source}); they are in {path}.old: add them back once there is room"
    )]
    LateLinesNotCopied {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: io::Error,
    },
    /// Another program holds a lock on the file for longer than keyhatch waits.
    #[error(
        "{0} is locked by another program; nothing was changed. Try again in a moment, or find \
         the program that holds it (fuser or lsof)"
    )]
    Locked(PathBuf),
    /// As [`StoreError::Locked`], where other accounts can open the directory, and so hold the
    /// file's lock.
    #[error(
        "{path} is locked by another program, which may be another account's: other accounts can \
         read {dir}, and so lock the file. Nothing was changed. Make {dir} private (chmod 700, \
         as sshd and keyhatch make it), then try again"
    )]
    LockedOpen {
        /// The file.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// The directory's lock is held by a process that is not the person's.
    #[error(
        "{0} is locked by a program that is not one of yours: another account can hold that lock \
         on a ~/.ssh it opened while others could read it. Nothing was changed. Make a new one \
         (mv ~/.ssh ~/.ssh.held && mkdir -m 700 ~/.ssh && cp -a ~/.ssh.held/. ~/.ssh/), then try \
         again"
    )]
    LockedByAnother(PathBuf),
    /// Another program kept changing the file (or `~/.ssh`) while keyhatch worked on it.
    #[error("{0} kept changing while keyhatch tried to use it; nothing was changed, try again")]
    Busy(PathBuf),
    /// An operating system call failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "open".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

/// A failed system call on `path`, as the error the person sees.
pub(super) fn io_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}
