//! The `authorized_keys` file on disk: reading it, adding a key and removing one, without ever
//! losing a byte that another writer put there.
//!
//! Other writers share this file: ssh-copy-id, people with an editor, configuration management,
//! keyhatch on other nodes over NFS. keyhatch's own writers exclude each other with an
//! open-file-description lock (`F_OFD_SETLKW`: it works over NFS and, unlike a classic POSIX
//! lock, no unrelated `close()` drops it). An addition is one `O_APPEND` write, which cannot
//! clobber an outside appender. A removal writes a temporary file beside the original and renames
//! it over, as OpenSSH's `hostfile.c` does, and gives back whatever an outside writer appended
//! while it worked.

use std::fs::{self, DirBuilder, File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;
use rand::RngCore;
use rand::rngs::OsRng;
use ssh_key::PublicKey;

use super::authorized_keys::{self, KeyLine};
use super::{Tag, fingerprint};

/// The largest file keyhatch writes to, by default: far beyond any real list of keys.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 20;

/// The name of a removal's temporary file, before its random part.
const TEMP_PREFIX: &str = ".authorized_keys.keyhatch-";

/// How often a removal starts over when an outside writer changes the file under it.
const ATTEMPTS: usize = 8;

/// How long to keep reopening a file that removals keep replacing before giving up.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

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
    /// A symbolic link where keyhatch writes: it never writes through one.
    #[error("{0} is a symbolic link; keyhatch does not write through links")]
    Symlink(PathBuf),
    /// The file is a FIFO, a device or anything else that is not a regular file.
    #[error("{0} is not a regular file; keyhatch writes only to regular files")]
    NotRegular(PathBuf),
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
    /// The key is in the file already.
    #[error("the key {0} is already in the file")]
    AlreadyPresent(String),
    /// No line of the file has a key with this fingerprint.
    #[error("no key with fingerprint {0} is in the file")]
    KeyNotFound(String),
    /// The key is in the file on a line keyhatch did not write.
    #[error("the key {0} was not added by keyhatch; keyhatch removes only its own keys")]
    NotOurs(String),
    /// Another program kept changing the file while keyhatch tried to rewrite it.
    #[error("{0} kept changing while keyhatch tried to update it; nothing was changed, try again")]
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

/// The `~/.ssh/authorized_keys` of one home directory.
#[derive(Debug, Clone)]
pub struct AuthorizedKeys {
    home: PathBuf,
    dir: PathBuf,
    file: PathBuf,
    max_size: u64,
}

/// The file, open and exclusively locked against other keyhatch writers; unlocked on drop.
struct Locked {
    file: File,
    meta: Metadata,
}

impl AuthorizedKeys {
    /// The file at `<home>/.ssh/authorized_keys`; nothing is touched until it is read or written.
    pub fn in_home(home: &Path) -> Self {
        let dir = home.join(".ssh");
        Self {
            home: home.to_owned(),
            file: dir.join("authorized_keys"),
            dir,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    /// The same file with another size limit for writes.
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The `~/.ssh` directory's path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the whole file; a missing file (or `~/.ssh`) reads as empty.
    pub fn read(&self) -> Result<Vec<u8>, StoreError> {
        self.check_home()?;
        match fs::read(&self.file) {
            Ok(contents) => Ok(contents),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_error("read", &self.file, e)),
        }
    }

    /// Checks that the home directory exists and is a directory.
    pub fn check_home(&self) -> Result<(), StoreError> {
        match fs::metadata(&self.home) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::NotADirectory(self.home.clone())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::HomeMissing(self.home.clone()))
            }
            Err(e) => Err(io_error("read", &self.home, e)),
        }
    }

    /// Appends `line` (no newline of its own), the authorized line of `key`, durably: creates
    /// `~/.ssh` (0700) and the file (0600) when missing, adds a newline first when the file does
    /// not end in one, and returns only once the data is fsynced. Refuses a key already present.
    /// On failure the file is left as it was.
    pub fn append_key(&self, key: &PublicKey, line: &str) -> Result<(), StoreError> {
        debug_assert!(!line.contains('\n'), "one line at a time");
        self.check_home()?;
        self.ensure_dir()?;
        let locked = self.lock_or_create()?;
        let contents = locked.read_all(&self.file)?;
        let parsed = authorized_keys::parse(&contents);
        if parsed
            .keys
            .iter()
            .any(|k| k.key.key_data() == key.key_data())
        {
            return Err(StoreError::AlreadyPresent(fingerprint(key)));
        }
        let mut record = Vec::with_capacity(line.len() + 2);
        if contents.last().is_some_and(|&b| b != b'\n') {
            record.push(b'\n');
        }
        record.extend_from_slice(line.as_bytes());
        record.push(b'\n');
        append_whole(&locked.file, &record).map_err(|e| io_error("write", &self.file, e))?;
        if contents.is_empty() {
            // A new file's directory entry must be durable too.
            sync_dir(&self.dir).map_err(|e| io_error("sync", &self.dir, e))?;
        }
        Ok(())
    }

    /// Removes every line holding the key with `fingerprint`, provided each is keyhatch's (its
    /// comment starts with `tag`). Every other byte is kept; the previous file is kept as
    /// `authorized_keys.old`, as `ssh-keygen -R` does.
    pub fn remove_key(&self, fingerprint: &str, tag: &Tag) -> Result<(), StoreError> {
        self.check_home()?;
        if let Err(e) = fs::symlink_metadata(&self.dir)
            && e.kind() == io::ErrorKind::NotFound
        {
            return Err(StoreError::KeyNotFound(fingerprint.to_owned()));
        }
        self.check_dir()?;
        for _ in 0..ATTEMPTS {
            let Some(locked) = self.lock(false)? else {
                return Err(StoreError::KeyNotFound(fingerprint.to_owned()));
            };
            self.remove_stale_temps();
            let contents = locked.read_all(&self.file)?;
            let parsed = authorized_keys::parse(&contents);
            let lines: Vec<&KeyLine<'_>> = parsed
                .keys
                .iter()
                .filter(|k| k.fingerprint() == fingerprint)
                .collect();
            if lines.is_empty() {
                return Err(StoreError::KeyNotFound(fingerprint.to_owned()));
            }
            if !lines.iter().all(|k| k.is_tagged(tag)) {
                return Err(StoreError::NotOurs(fingerprint.to_owned()));
            }
            let numbers: Vec<usize> = lines.iter().map(|k| k.number).collect();
            let kept = without_lines(&contents, &numbers);
            if self.replace(&locked, &contents, &kept)? {
                return Ok(());
            }
        }
        Err(StoreError::Busy(self.file.clone()))
    }

    /// Creates `~/.ssh` with mode 0700 when missing; refuses anything that is not a directory.
    fn ensure_dir(&self) -> Result<(), StoreError> {
        match fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match DirBuilder::new().mode(0o700).create(&self.dir) {
                    Ok(()) => sync_dir(&self.home).map_err(|e| io_error("sync", &self.home, e)),
                    // Another writer made it between our look and our mkdir: check what it made.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.check_dir(),
                    Err(e) => Err(io_error("create", &self.dir, e)),
                }
            }
            _ => self.check_dir(),
        }
    }

    /// Checks that `~/.ssh` is a real directory, not a link or anything else.
    fn check_dir(&self) -> Result<(), StoreError> {
        match fs::symlink_metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(meta) if meta.is_symlink() => Err(StoreError::Symlink(self.dir.clone())),
            Ok(_) => Err(StoreError::NotADirectory(self.dir.clone())),
            Err(e) => Err(io_error("read", &self.dir, e)),
        }
    }

    /// Opens and locks the file, creating it (0600) when missing.
    fn lock_or_create(&self) -> Result<Locked, StoreError> {
        self.lock(true)?
            .ok_or_else(|| io_error("create", &self.file, io::ErrorKind::NotFound.into()))
    }

    /// Opens and locks the file (creating it when `create`), after checking it is safe to write:
    /// a regular file, not a link, with one name, within the size limit. `None` when the file
    /// does not exist and `create` is false.
    fn lock(&self, create: bool) -> Result<Option<Locked>, StoreError> {
        let started = Instant::now();
        while started.elapsed() < LOCK_PATIENCE {
            let file = match self.open(create) {
                Ok(file) => file,
                Err(StoreError::Io { source, .. })
                    if !create && source.kind() == io::ErrorKind::NotFound =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let meta = file
                .metadata()
                .map_err(|e| io_error("read", &self.file, e))?;
            if !meta.file_type().is_file() {
                return Err(StoreError::NotRegular(self.file.clone()));
            }
            lock_exclusive(&file).map_err(|e| io_error("lock", &self.file, e))?;
            // A removal may have renamed a new file into place while we waited for the lock:
            // then ours is the old one, and we start over on the file the path names now.
            match fs::symlink_metadata(&self.file) {
                Ok(now) if now.dev() == meta.dev() && now.ino() == meta.ino() => {}
                _ => continue,
            }
            let meta = file
                .metadata()
                .map_err(|e| io_error("read", &self.file, e))?;
            if meta.nlink() > 1 {
                return Err(StoreError::HardLinked {
                    path: self.file.clone(),
                    links: meta.nlink(),
                });
            }
            if meta.len() > self.max_size {
                return Err(StoreError::TooLarge {
                    path: self.file.clone(),
                    size: meta.len(),
                    max: self.max_size,
                });
            }
            return Ok(Some(Locked { file, meta }));
        }
        Err(StoreError::Busy(self.file.clone()))
    }

    fn open(&self, create: bool) -> Result<File, StoreError> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .mode(0o600)
            // No following links; no blocking on a FIFO (it is refused right after).
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&self.file)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => StoreError::Symlink(self.file.clone()),
                _ => io_error("open", &self.file, e),
            })
    }

    /// Writes `new` over the locked file, whose contents were `old`, through a temporary file and
    /// a rename; keeps `old` as `authorized_keys.old`. Returns false, changing nothing, when an
    /// outside writer changed the file since it was read.
    fn replace(&self, locked: &Locked, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let (temp, temp_path) = self.write_temp(new, locked)?;
        // The previous version is kept as a copy, never a second name for the file: a crash
        // must not leave authorized_keys with two links, which keyhatch would then refuse.
        let backup_temp = match self.write_temp(old, locked) {
            Ok((_, path)) => path,
            Err(e) => {
                let _ = fs::remove_file(&temp_path);
                return Err(e);
            }
        };
        let discard = |result| {
            let _ = fs::remove_file(&temp_path);
            let _ = fs::remove_file(&backup_temp);
            result
        };
        let now = match fs::symlink_metadata(&self.file) {
            Ok(now) => now,
            Err(e) => return discard(Err(io_error("read", &self.file, e))),
        };
        let unchanged = now.dev() == locked.meta.dev()
            && now.ino() == locked.meta.ino()
            && now.len() == old.len() as u64
            && now.mtime() == locked.meta.mtime()
            && now.mtime_nsec() == locked.meta.mtime_nsec();
        if !unchanged {
            return discard(Ok(false));
        }
        crash_point("checked");
        let backup = self.dir.join("authorized_keys.old");
        if let Err(e) = fs::rename(&backup_temp, &backup) {
            return discard(Err(io_error("keep a copy of", &self.file, e)));
        }
        crash_point("backed-up");
        if let Err(e) = fs::rename(&temp_path, &self.file) {
            return discard(Err(io_error("replace", &self.file, e)));
        }
        crash_point("renamed");
        sync_dir(&self.dir).map_err(|e| io_error("sync", &self.dir, e))?;
        crash_point("synced");
        self.give_back_late_appends(locked, old.len() as u64, &temp)?;
        Ok(true)
    }

    /// Deletes temporary files a crashed removal left. Safe only under the lock: while it is
    /// held, no other keyhatch is between writing its temporary file and renaming it.
    fn remove_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Writes `contents` to a new temporary file beside the original, with the locked original's
    /// mode, owner and SELinux label, fsynced. Returns it open, and its path.
    fn write_temp(
        &self,
        contents: &[u8],
        original: &Locked,
    ) -> Result<(File, PathBuf), StoreError> {
        let like = &original.meta;
        // Random, not the pid: keyhatch on two NFS clients may have the same pid.
        let path = self
            .dir
            .join(format!("{TEMP_PREFIX}{:016x}", OsRng.next_u64()));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io_error("create", &path, e))?;
        let result = (|| {
            file.write_all(contents)?;
            file.set_permissions(fs::Permissions::from_mode(like.mode() & 0o7777))?;
            let mine = file.metadata()?;
            if (mine.uid(), mine.gid()) != (like.uid(), like.gid()) {
                std::os::unix::fs::fchown(&file, Some(like.uid()), Some(like.gid()))?;
            }
            copy_selinux_label(&original.file, &file)?;
            crash_point("temp-written");
            file.sync_all()
        })();
        match result {
            Ok(()) => Ok((file, path)),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(io_error("write", &path, e))
            }
        }
    }

    /// After a rename, copies to the new file whatever an outside writer appended to the old one
    /// between our last check and the rename, so nothing it wrote is lost.
    fn give_back_late_appends(
        &self,
        locked: &Locked,
        old_len: u64,
        new: &File,
    ) -> Result<(), StoreError> {
        let grown = locked
            .file
            .metadata()
            .map_err(|e| io_error("read", &self.file, e))?
            .len();
        if grown <= old_len {
            return Ok(());
        }
        let mut late = vec![0; (grown - old_len) as usize];
        locked
            .file
            .read_exact_at(&mut late, old_len)
            .map_err(|e| io_error("read", &self.file, e))?;
        let mut new = new;
        new.seek(io::SeekFrom::End(0))
            .and_then(|_| new.write_all(&late))
            .and_then(|()| new.sync_all())
            .map_err(|e| io_error("write", &self.file, e))
    }
}

impl Locked {
    fn read_all(&self, path: &Path) -> Result<Vec<u8>, StoreError> {
        let mut contents = Vec::with_capacity(self.meta.len() as usize);
        let mut file = &self.file;
        file.rewind()
            .and_then(|()| file.read_to_end(&mut contents))
            .map_err(|e| io_error("read", path, e))?;
        Ok(contents)
    }
}

/// In debug builds, dies by SIGKILL here when `KEYHATCH_CRASH_AT` names this point, so tests can
/// prove that a crash at any step of a removal leaves a whole file. Release builds have no such
/// points.
#[cfg(debug_assertions)]
fn crash_point(name: &str) {
    if std::env::var_os("KEYHATCH_CRASH_AT").is_some_and(|at| at == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(not(debug_assertions))]
fn crash_point(_name: &str) {}

/// Takes an exclusive open-file-description lock on the whole file, waiting for it.
fn lock_exclusive(file: &File) -> io::Result<()> {
    let whole_file = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    loop {
        match fcntl(file, FcntlArg::F_OFD_SETLKW(&whole_file)) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Appends `record` with one `write` call (O_APPEND makes it land at the end, whoever else
/// appends) and fsyncs. On a short or failed write, cuts the file back to its size before, so no
/// half line is left, unless someone else has written after it meanwhile.
fn append_whole(file: &File, record: &[u8]) -> io::Result<()> {
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

/// `contents` without the lines numbered `numbers` (1-based), every other byte kept.
fn without_lines(contents: &[u8], numbers: &[usize]) -> Vec<u8> {
    contents
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .filter(|(index, _)| !numbers.contains(&(index + 1)))
        .flat_map(|(_, line)| line.iter().copied())
        .collect()
}

/// Gives `to` the SELinux label of `from`, where there is one.
fn copy_selinux_label(from: &File, to: &File) -> io::Result<()> {
    use xattr::FileExt as _;
    const LABEL: &str = "security.selinux";
    match from.get_xattr(LABEL) {
        Ok(Some(label)) => to.set_xattr(LABEL, &label),
        Ok(None) => Ok(()),
        // No SELinux, or a filesystem without extended attributes: nothing to copy.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP | libc::ENODATA)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A failed system call on `path`, as the error the person sees.
pub(super) fn io_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use ssh_key::{Algorithm, PrivateKey};

    use super::*;

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    /// A fresh key and its authorized line, commented `comment`.
    fn key(comment: &str) -> (PublicKey, String) {
        let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        key.set_comment(comment);
        let public = key.public_key().clone();
        let line = public.to_openssh().unwrap();
        (public, line)
    }

    fn add(store: &AuthorizedKeys, comment: &str) -> Result<String, StoreError> {
        let (public, line) = key(comment);
        store
            .append_key(&public, &line)
            .map(|()| fingerprint(&public))
    }

    fn with_ssh_dir(home: &Path, contents: &[u8]) -> AuthorizedKeys {
        fs::create_dir(home.join(".ssh")).unwrap();
        let store = AuthorizedKeys::in_home(home);
        fs::write(store.path(), contents).unwrap();
        store
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn tag() -> Tag {
        Tag::default()
    }

    #[test]
    fn a_missing_file_reads_as_empty() {
        let home = home();
        assert!(
            AuthorizedKeys::in_home(home.path())
                .read()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_missing_home_is_a_clear_error() {
        let store = AuthorizedKeys::in_home(Path::new("/nonexistent/keyhatch-home"));
        let err = store.read().unwrap_err();
        assert_eq!(
            err.to_string(),
            "home directory /nonexistent/keyhatch-home does not exist"
        );
        assert!(matches!(add(&store, "x"), Err(StoreError::HomeMissing(_))));
    }

    #[test]
    fn append_creates_the_directory_0700_and_the_file_0600() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        let (public, line) = key("fileglancer");
        store.append_key(&public, &line).unwrap();
        assert_eq!(
            fs::read_to_string(store.path()).unwrap(),
            format!("{line}\n")
        );
        assert_eq!(mode(&home.path().join(".ssh")), 0o700);
        assert_eq!(mode(store.path()), 0o600);
    }

    #[test]
    fn append_adds_a_newline_only_when_the_file_lacks_one() {
        let home = home();
        let store = with_ssh_dir(home.path(), b"foreign key without newline");
        let (a, line_a) = key("a");
        let (b, line_b) = key("b");
        store.append_key(&a, &line_a).unwrap();
        store.append_key(&b, &line_b).unwrap();
        let expected = format!("foreign key without newline\n{line_a}\n{line_b}\n");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), expected);
    }

    #[test]
    fn append_keeps_every_existing_byte_and_the_file_mode() {
        let home = home();
        let original = b"# mine\r\n\xef\xbb\xbfodd \x00 bytes\n\n  indented\n".to_vec();
        let store = with_ssh_dir(home.path(), &original);
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).unwrap();
        let (public, line) = key("new");
        store.append_key(&public, &line).unwrap();
        let after = fs::read(store.path()).unwrap();
        assert_eq!(&after[..original.len()], &original[..]);
        assert_eq!(&after[original.len()..], format!("{line}\n").as_bytes());
        assert_eq!(mode(store.path()), 0o640);
    }

    #[test]
    fn the_same_key_is_never_added_twice_even_with_other_options_or_comment() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        let (public, line) = key("first");
        store.append_key(&public, &line).unwrap();
        let again = format!("restrict {}", line.replace("first", "second"));
        let err = store.append_key(&public, &again).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyPresent(_)), "{err}");
        assert_eq!(
            fs::read_to_string(store.path()).unwrap(),
            format!("{line}\n")
        );
    }

    #[test]
    fn append_refuses_a_symlinked_file_and_leaves_the_target_alone() {
        let home = home();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        let target = home.path().join("elsewhere");
        fs::write(&target, b"keep\n").unwrap();
        symlink(&target, store.path()).unwrap();
        assert!(matches!(add(&store, "x"), Err(StoreError::Symlink(_))));
        assert_eq!(fs::read(&target).unwrap(), b"keep\n");
    }

    #[test]
    fn append_refuses_a_symlinked_ssh_directory() {
        let home = home();
        let real = home.path().join("real-ssh");
        fs::create_dir(&real).unwrap();
        symlink(&real, home.path().join(".ssh")).unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        assert!(matches!(add(&store, "x"), Err(StoreError::Symlink(_))));
        assert!(!real.join("authorized_keys").exists());
    }

    #[test]
    fn append_refuses_an_ssh_path_that_is_a_file() {
        let home = home();
        fs::write(home.path().join(".ssh"), b"").unwrap();
        let err = add(&AuthorizedKeys::in_home(home.path()), "x").unwrap_err();
        assert!(matches!(err, StoreError::NotADirectory(_)), "{err}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let home = home();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        nix::unistd::mkfifo(
            store.path(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        assert!(matches!(add(&store, "x"), Err(StoreError::NotRegular(_))));
        assert!(matches!(
            store.remove_key("SHA256:x", &tag()),
            Err(StoreError::NotRegular(_))
        ));
    }

    #[test]
    fn a_file_with_other_names_is_refused_and_untouched() {
        let home = home();
        let store = with_ssh_dir(home.path(), b"keep\n");
        fs::hard_link(store.path(), home.path().join("other-name")).unwrap();
        let err = add(&store, "x").unwrap_err();
        assert!(
            matches!(err, StoreError::HardLinked { links: 2, .. }),
            "{err}"
        );
        assert_eq!(fs::read(store.path()).unwrap(), b"keep\n");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_and_untouched() {
        let home = home();
        let big = vec![b'#'; 2048];
        let store = with_ssh_dir(home.path(), &big).with_max_size(1024);
        let err = add(&store, "x").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::TooLarge {
                    size: 2048,
                    max: 1024,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(fs::read(store.path()).unwrap(), big);
    }

    #[test]
    fn remove_takes_out_exactly_the_keyhatch_line_and_keeps_the_old_file() {
        let home = home();
        let original = b"# header\r\nforeign line\n".to_vec();
        let store = with_ssh_dir(home.path(), &original);
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).unwrap();
        let first = add(&store, "fileglancer").unwrap();
        let second = add(&store, "fileglancer").unwrap();
        let before_removal = fs::read(store.path()).unwrap();

        store.remove_key(&first, &tag()).unwrap();

        let after = fs::read_to_string(store.path()).unwrap();
        assert!(after.starts_with("# header\r\nforeign line\n"));
        assert_eq!(after.lines().count(), 3, "{after}");
        let listed = authorized_keys::parse(after.as_bytes());
        assert_eq!(listed.keys.len(), 1);
        assert_eq!(listed.keys[0].fingerprint(), second);
        assert_eq!(mode(store.path()), 0o640);
        assert_eq!(
            fs::read(home.path().join(".ssh/authorized_keys.old")).unwrap(),
            before_removal
        );
        let leftovers: Vec<_> = fs::read_dir(home.path().join(".ssh"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn add_then_remove_gives_back_the_original_bytes() {
        for original in [
            &b""[..],
            b"a\n",
            b"unterminated",
            b"\xef\xbb\xbf\r\n\x00\xff\n",
        ] {
            let home = home();
            let store = with_ssh_dir(home.path(), original);
            let fp = add(&store, "fileglancer").unwrap();
            store.remove_key(&fp, &tag()).unwrap();
            let mut expected = original.to_vec();
            if expected.last().is_some_and(|&b| b != b'\n') {
                expected.push(b'\n');
            }
            assert_eq!(fs::read(store.path()).unwrap(), expected, "{original:?}");
        }
    }

    #[test]
    fn only_keyhatch_keys_can_be_removed() {
        let home = home();
        let store = with_ssh_dir(home.path(), b"");
        let mine = add(&store, "alice@laptop").unwrap();
        let before = fs::read(store.path()).unwrap();
        let err = store.remove_key(&mine, &tag()).unwrap_err();
        assert!(matches!(err, StoreError::NotOurs(_)), "{err}");
        let err = store.remove_key("SHA256:nothere", &tag()).unwrap_err();
        assert!(matches!(err, StoreError::KeyNotFound(_)), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = AuthorizedKeys::in_home(empty.path())
            .remove_key(&mine, &tag())
            .unwrap_err();
        assert!(
            matches!(err, StoreError::KeyNotFound(_)),
            "no ~/.ssh: {err}"
        );
        assert_eq!(fs::read(store.path()).unwrap(), before);
    }

    #[test]
    fn concurrent_appends_from_threads_all_land_whole() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        std::thread::scope(|s| {
            for _ in 0..8 {
                let store = store.clone();
                s.spawn(move || {
                    for _ in 0..25 {
                        add(&store, "fileglancer").unwrap();
                    }
                });
            }
        });
        let contents = fs::read(store.path()).unwrap();
        let parsed = authorized_keys::parse(&contents);
        assert_eq!(parsed.keys.len(), 200);
        assert!(
            parsed.unreadable.is_empty(),
            "a line was torn: {:?}",
            parsed.unreadable
        );
    }

    #[test]
    fn removals_and_appends_racing_lose_nothing() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        let doomed: Vec<String> = (0..20)
            .map(|_| add(&store, "fileglancer").unwrap())
            .collect();
        let added = std::thread::scope(|s| {
            let remover = s.spawn(|| {
                for fp in &doomed {
                    store.remove_key(fp, &tag()).unwrap();
                }
            });
            let adders: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..20)
                            .map(|_| add(&store, "fileglancer").unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            remover.join().unwrap();
            adders
                .into_iter()
                .flat_map(|a| a.join().unwrap())
                .collect::<Vec<_>>()
        });
        let contents = fs::read(store.path()).unwrap();
        let left: Vec<String> = authorized_keys::parse(&contents)
            .keys
            .iter()
            .map(KeyLine::fingerprint)
            .collect();
        let mut expected = added;
        expected.sort();
        let mut left_sorted = left.clone();
        left_sorted.sort();
        assert_eq!(left_sorted, expected);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use ssh_key::{Algorithm, PrivateKey};

    use super::*;

    const FOREIGN: &[u8] =
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhR89a1vpaGfsAxg2eABmXevfB18j0iT9AiVMKDaCN9 by hand";

    /// Pieces real files are made of, and the odd bytes that break naive tools.
    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..40),
            2 => Just(b"\n".to_vec()),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b"\xef\xbb\xbf".to_vec()),
            1 => Just(b"\0".to_vec()),
            1 => Just(b"# fileglancer\n".to_vec()),
            2 => Just(FOREIGN.to_vec()),
            1 => Just([b"restrict,pty ", FOREIGN, b" fileglancer\n"].concat()),
            1 => (1usize..200_000).prop_map(|n| vec![b'x'; n]),
        ]
    }

    fn file_contents() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
    }

    fn new_key() -> (PublicKey, String) {
        let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        key.set_comment("fileglancer");
        let public = key.public_key().clone();
        let line = format!("restrict,pty {}", public.to_openssh().unwrap());
        (public, line)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn add_then_revoke_restores_the_file(original in file_contents(), outside in file_contents()) {
            let home = tempfile::tempdir().unwrap();
            fs::create_dir(home.path().join(".ssh")).unwrap();
            let store = AuthorizedKeys::in_home(home.path());
            fs::write(store.path(), &original).unwrap();

            let (public, line) = new_key();
            store.append_key(&public, &line).unwrap();
            let mut expected = original.clone();
            if expected.last().is_some_and(|&b| b != b'\n') {
                expected.push(b'\n');
            }
            let mut added = expected.clone();
            added.extend_from_slice(format!("{line}\n").as_bytes());
            prop_assert_eq!(&fs::read(store.path()).unwrap(), &added);

            // Someone else appends after keyhatch's line; revoking must keep what they wrote.
            let mut file = OpenOptions::new().append(true).open(store.path()).unwrap();
            file.write_all(&outside).unwrap();
            drop(file);

            store.remove_key(&fingerprint(&public), &Tag::default()).unwrap();
            expected.extend_from_slice(&outside);
            prop_assert_eq!(fs::read(store.path()).unwrap(), expected);
        }
    }
}
