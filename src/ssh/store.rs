//! The `authorized_keys` file on disk: reading it, and appending a line without disturbing
//! anything else in it.
//!
//! Other writers share this file (ssh-copy-id, editors, configuration management, keyhatch on
//! other nodes over NFS), so every append holds an exclusive lock across check-and-write, writes
//! in one call, and is fsynced before it is reported done.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
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
    /// The file is a symbolic link, which keyhatch never writes through.
    #[error("{0} is a symbolic link; keyhatch does not write through links")]
    Symlink(PathBuf),
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
}

impl AuthorizedKeys {
    /// The file at `<home>/.ssh/authorized_keys`; nothing is touched until it is read or written.
    pub fn in_home(home: &Path) -> Self {
        let dir = home.join(".ssh");
        Self {
            home: home.to_owned(),
            file: dir.join("authorized_keys"),
            dir,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.file
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

    /// Appends `line` (no newline of its own) durably: creates `~/.ssh` (0700) and the file
    /// (0600) when missing, adds a newline first when the file does not end in one, and returns
    /// only after the data is fsynced. On failure the file is left as it was.
    pub fn append(&self, line: &str) -> Result<(), StoreError> {
        debug_assert!(!line.contains('\n'), "one line at a time");
        self.check_home()?;
        self.ensure_dir()?;
        let file = self.open_for_append()?;
        file.lock().map_err(|e| io_error("lock", &self.file, e))?;
        let old_len = file
            .metadata()
            .map_err(|e| io_error("read", &self.file, e))?
            .len();
        let mut record = Vec::with_capacity(line.len() + 2);
        if old_len > 0
            && last_byte(&file, old_len).map_err(|e| io_error("read", &self.file, e))? != b'\n'
        {
            record.push(b'\n');
        }
        record.extend_from_slice(line.as_bytes());
        record.push(b'\n');
        if let Err(e) = write_durably(&file, &record) {
            // Leave no half line behind: truncating to the size seen under the lock is safe
            // because every cooperating writer holds the same lock.
            let _ = file.set_len(old_len).and_then(|()| file.sync_all());
            return Err(io_error("write", &self.file, e));
        }
        if old_len == 0 {
            // A new file's directory entry must be durable too.
            sync_dir(&self.dir).map_err(|e| io_error("sync", &self.dir, e))?;
        }
        Ok(())
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

    fn open_for_append(&self) -> Result<File, StoreError> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&self.file)
            .map_err(|e| match e.raw_os_error() {
                Some(nix::libc::ELOOP) => StoreError::Symlink(self.file.clone()),
                _ => io_error("open", &self.file, e),
            })
    }
}

fn last_byte(file: &File, len: u64) -> io::Result<u8> {
    let mut byte = [0];
    file.read_exact_at(&mut byte, len - 1)?;
    Ok(byte[0])
}

fn write_durably(mut file: &File, record: &[u8]) -> io::Result<()> {
    file.write_all(record)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
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
        assert!(matches!(store.append("x"), Err(StoreError::HomeMissing(_))));
    }

    #[test]
    fn append_creates_the_directory_0700_and_the_file_0600() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        store.append("ssh-ed25519 AAAA one").unwrap();
        assert_eq!(fs::read(store.path()).unwrap(), b"ssh-ed25519 AAAA one\n");
        assert_eq!(mode(&home.path().join(".ssh")), 0o700);
        assert_eq!(mode(store.path()), 0o600);
    }

    #[test]
    fn append_adds_a_newline_only_when_the_file_lacks_one() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        fs::create_dir(home.path().join(".ssh")).unwrap();
        fs::write(store.path(), b"foreign key without newline").unwrap();
        store.append("one").unwrap();
        store.append("two").unwrap();
        assert_eq!(
            fs::read(store.path()).unwrap(),
            b"foreign key without newline\none\ntwo\n"
        );
    }

    #[test]
    fn append_keeps_every_existing_byte_and_the_file_mode() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let original = b"# mine\r\n\xef\xbb\xbfodd \x00 bytes\n\n  indented\n".to_vec();
        fs::write(store.path(), &original).unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).unwrap();
        store.append("new").unwrap();
        let after = fs::read(store.path()).unwrap();
        assert_eq!(&after[..original.len()], &original[..]);
        assert_eq!(&after[original.len()..], b"new\n");
        assert_eq!(mode(store.path()), 0o640);
    }

    #[test]
    fn append_refuses_a_symlinked_file_and_leaves_the_target_alone() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let target = home.path().join("elsewhere");
        fs::write(&target, b"keep\n").unwrap();
        symlink(&target, store.path()).unwrap();
        assert!(matches!(store.append("x"), Err(StoreError::Symlink(_))));
        assert_eq!(fs::read(&target).unwrap(), b"keep\n");
    }

    #[test]
    fn append_refuses_an_ssh_path_that_is_a_file() {
        let home = home();
        fs::write(home.path().join(".ssh"), b"").unwrap();
        let err = AuthorizedKeys::in_home(home.path())
            .append("x")
            .unwrap_err();
        assert!(matches!(err, StoreError::NotADirectory(_)), "{err}");
    }

    #[test]
    fn concurrent_appends_from_threads_all_land_whole() {
        let home = home();
        let store = AuthorizedKeys::in_home(home.path());
        std::thread::scope(|s| {
            for t in 0..8 {
                let store = store.clone();
                s.spawn(move || {
                    for i in 0..25 {
                        store
                            .append(&format!("line {t} {i} {}", "x".repeat(200)))
                            .unwrap();
                    }
                });
            }
        });
        let contents = String::from_utf8(fs::read(store.path()).unwrap()).unwrap();
        let mut lines: Vec<_> = contents.lines().collect();
        assert_eq!(lines.len(), 200);
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 200, "a line was duplicated or torn");
        assert!(lines.iter().all(|l| l.ends_with(&"x".repeat(200))));
    }
}
