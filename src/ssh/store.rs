//! The `authorized_keys` file on disk: reading it, adding a key and removing one, without ever
//! losing a byte that another writer put there.
//!
//! Other writers share this file: ssh-copy-id, people with an editor, configuration management,
//! keyhatch on other nodes over NFS. Each concern has its module: [`dir`] reaches `~/.ssh`
//! without following links and holds it open, [`lock`] opens and locks the file and appends to
//! it, [`replace`] rewrites it by rename (through [`temp`] files). This file holds the rest.

mod beside;
mod dir;
mod error;
mod late;
mod location;
mod lock;
#[cfg(test)]
mod properties;
mod remove_ours;
mod replace;
mod replacing;
mod temp;
#[cfg(test)]
mod tests;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::libc;
use rustix::fs::{Mode, OFlags};
use ssh_key::PublicKey;

use super::authorized_keys::{self, KeyLine};
use super::fingerprint::fingerprint;
use super::tag::Tag;
use dir::SshDir;
use error::io_error;
use location::Location;
use lock::Locked;

pub use error::StoreError;
pub use replace::Step;
pub use replacing::Replacing;

/// The largest file keyhatch reads or writes, by default: 16 MiB, about 150,000 ordinary keys,
/// so any file sshd is given in practice is listed (a person's file of 10,000 keys is 1.06 MB),
/// while a runaway file is still refused.
pub const DEFAULT_MAX_SIZE: u64 = 16 << 20;

/// Where sshd reads keys by default, below the home.
pub const DEFAULT_LOCATION: &str = ".ssh/authorized_keys";

/// How often a removal starts over when an outside writer changes the file under it.
const ATTEMPTS: usize = 8;

/// How long to wait for another program's lock on the file, by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The `~/.ssh/authorized_keys` of one home directory (or the file a site's
/// `AuthorizedKeysFile` names below it).
#[derive(Debug, Clone)]
pub struct AuthorizedKeys {
    home: PathBuf,
    location: Location,
    dir: PathBuf,
    file: PathBuf,
    max_size: u64,
    lock_timeout: Duration,
    crash_at: Option<Step>,
}

/// What [`AuthorizedKeys::make_private`] tightens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `~/.ssh`, to 0700.
    SshDir,
    /// `~/.ssh/authorized_keys`, to 0600.
    File,
}

impl AuthorizedKeys {
    /// The file at `<home>/.ssh/authorized_keys`; nothing is touched until it is read or written.
    pub fn in_home(home: &Path) -> Self {
        Self::at(home, Path::new(DEFAULT_LOCATION)).expect("the default location is valid")
    }

    /// The file at `relative` below `home` (at least one directory, then the file; plain names
    /// only); `None` for any other path.
    pub fn at(home: &Path, relative: &Path) -> Option<Self> {
        let location = Location::parse(relative)?;
        let dir = location.dir_path(home);
        Some(Self {
            home: home.to_owned(),
            file: dir.join(&location.file),
            dir,
            location,
            max_size: DEFAULT_MAX_SIZE,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            crash_at: None,
        })
    }

    /// The same file with another size limit for reads and writes.
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// The same file, waiting at most `timeout` for another program's lock before refusing with
    /// [`StoreError::Locked`].
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The same file, but a debug build dies by SIGKILL at `step` of every rewrite, so tests can
    /// prove that a crash leaves a whole file. Release builds ignore it.
    pub fn with_crash_at(mut self, step: Option<Step>) -> Self {
        self.crash_at = step;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The path of the directory that holds the file (`~/.ssh`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The home directory's path.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Returns the whole file; a missing file (or `~/.ssh`) reads as empty. Refuses a `~/.ssh`
    /// that is a link, a file that is not regular (no hang on a FIFO, no endless device) and one
    /// over the size limit.
    pub fn read(&self) -> Result<Vec<u8>, StoreError> {
        let Some(dir) = SshDir::open(&self.home, &self.location)? else {
            return Ok(Vec::new());
        };
        let file = match dir.open_for_reading(dir.file_name()) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("open", &self.file, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| io_error("read", &self.file, e))?;
        if !meta.is_file() {
            return Err(StoreError::NotRegular(self.file.clone()));
        }
        self.check_size(meta.len())?;
        // Read one byte past the limit at most, in case the file grows meanwhile.
        let mut contents = Vec::with_capacity(meta.len() as usize);
        file.take(self.max_size + 1)
            .read_to_end(&mut contents)
            .map_err(|e| io_error("read", &self.file, e))?;
        self.check_size(contents.len() as u64)?;
        Ok(contents)
    }

    /// Checks that the home directory exists and is a directory.
    pub fn check_home(&self) -> Result<(), StoreError> {
        SshDir::open(&self.home, &self.location).map(drop)
    }

    /// Appends `line` (no newline of its own), the authorized line of `key`, durably: creates
    /// `~/.ssh` (0700) and the file (0600) when missing, adds a newline first when the file does
    /// not end in one, and returns only once the data is fsynced. Refuses a key already present.
    /// On failure the file is left as it was.
    pub fn append_key(&self, key: &PublicKey, line: &str) -> Result<(), StoreError> {
        self.append_key_within(key, line, None)
    }

    /// [`Self::append_key`], refusing it when the file already holds `cap.1` keys tagged
    /// `cap.0` (checked under the lock, so concurrent additions cannot pass the cap together).
    pub fn append_key_within(
        &self,
        key: &PublicKey,
        line: &str,
        cap: Option<(&Tag, usize)>,
    ) -> Result<(), StoreError> {
        self.write_line(line, Some(key), None, cap)
    }

    /// [`Self::append_key_within`] for a key generated this instant, which cannot be in the
    /// file already: the file is not read for duplicates (nor at all without a cap), so the
    /// append costs the same with ten thousand lines as with ten.
    pub fn append_new_key_within(
        &self,
        line: &str,
        cap: Option<(&Tag, usize)>,
    ) -> Result<(), StoreError> {
        self.write_line(line, None, None, cap)
    }

    /// [`Self::append_new_key_within`] for the successor of keyhatch's key `replacing`, which
    /// must still be in the file, keyhatch's, and as it was read: the cap counts the file
    /// without it, so a person at the cap can replace a key (and holds one more until they
    /// revoke the old one, never two more).
    pub fn append_successor(
        &self,
        line: &str,
        replacing: &Replacing<'_>,
        cap: Option<(&Tag, usize)>,
    ) -> Result<(), StoreError> {
        self.write_line(line, None, Some(replacing), cap)
    }

    /// Appends `line` under the lock, after refusing `duplicate_of` when the file holds it,
    /// checking that `replacing` is there as it was, and checking `cap` (without the key
    /// replaced); reads the file only for those.
    fn write_line(
        &self,
        line: &str,
        duplicate_of: Option<&PublicKey>,
        replacing: Option<&Replacing<'_>>,
        cap: Option<(&Tag, usize)>,
    ) -> Result<(), StoreError> {
        debug_assert!(!line.contains('\n'), "one line at a time");
        let dir = SshDir::open_or_create(&self.home, &self.location)?;
        let locked = Locked::acquire(&dir, true, self.max_size, self.lock_timeout)?
            .ok_or_else(|| StoreError::Missing(self.file.clone()))?;
        if duplicate_of.is_some() || replacing.is_some() || cap.is_some() {
            let contents = locked.read_all(&self.file, self.max_size)?;
            let parsed = authorized_keys::parse(&contents);
            if let Some(key) = duplicate_of
                && parsed
                    .keys
                    .iter()
                    .any(|k| k.key.key_data() == key.key_data())
            {
                return Err(StoreError::AlreadyPresent(fingerprint(key)));
            }
            let replaced =
                |k: &&KeyLine<'_>| replacing.is_some_and(|r| k.fingerprint() == r.fingerprint);
            if let Some(old) = replacing {
                old.check(parsed.keys.iter().filter(replaced))?;
            }
            if let Some((tag, max)) = cap
                && parsed
                    .keys
                    .iter()
                    .filter(|k| k.is_tagged(tag) && !replaced(k))
                    .count()
                    >= max
            {
                return Err(StoreError::TooManyKeys(max));
            }
        }
        let last = locked
            .last_byte()
            .map_err(|e| io_error("read", &self.file, e))?;
        let mut record = Vec::with_capacity(line.len() + 2);
        if last.is_some_and(|b| b != b'\n') {
            record.push(b'\n');
        }
        record.extend_from_slice(line.as_bytes());
        record.push(b'\n');
        // Refused before writing: a file pushed past the limit by keyhatch's own line could no
        // longer be listed, nor the key just added revoked.
        let size = locked.size().map_err(|e| io_error("read", &self.file, e))?;
        if size + record.len() as u64 > self.max_size {
            return Err(StoreError::WouldBeTooLarge {
                path: self.file.clone(),
                size,
                max: self.max_size,
            });
        }
        locked
            .append_whole(&record)
            .map_err(|e| io_error("write", &self.file, e))?;
        if last.is_none() {
            // A new file's directory entry must be durable too.
            dir.sync().map_err(|e| io_error("sync", &self.dir, e))?;
        }
        Ok(())
    }

    /// Removes every line holding the key with `fingerprint`, provided each is keyhatch's (its
    /// comment starts with `tag`). Every other byte is kept; the previous file is kept as
    /// `authorized_keys.old`, as `ssh-keygen -R` does.
    pub fn remove_key(&self, fingerprint: &str, tag: &Tag) -> Result<(), StoreError> {
        self.rewrite_ours(fingerprint, tag, |contents, lines| {
            let numbers: Vec<usize> = lines.iter().map(|k| k.number).collect();
            Ok::<_, StoreError>((authorized_keys::without_lines(contents, &numbers), ()))
        })
        .map(drop)
    }

    /// Gives every line holding the key with `fingerprint` the options `change` makes of its
    /// own, provided each is keyhatch's (its comment starts with `tag`); returns the new
    /// contents and the lines' numbers. Every other byte is kept, and on those lines everything
    /// from the key on; the previous file is kept as `authorized_keys.old`. `change` may refuse,
    /// and then nothing is written.
    pub fn rewrite_options<E: From<StoreError>>(
        &self,
        fingerprint: &str,
        tag: &Tag,
        mut change: impl FnMut(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<(Vec<u8>, Vec<usize>), E> {
        self.rewrite_ours(fingerprint, tag, |contents, lines| {
            let mut new = Vec::with_capacity(lines.len());
            for line in lines {
                new.push((line.number, change(line.options)?));
            }
            let numbers = new.iter().map(|(number, _)| *number).collect();
            Ok((authorized_keys::with_new_options(contents, &new), numbers))
        })
    }

    /// Rewrites the file as `edit` makes it from its contents and the lines holding the key
    /// with `fingerprint`, once all of them are found to be keyhatch's (tagged `tag`); see
    /// [`Self::rewrite_locked`]. Returns what was written and what `edit` said besides; `edit`
    /// may refuse, and then nothing is written.
    fn rewrite_ours<T, E: From<StoreError>>(
        &self,
        fingerprint: &str,
        tag: &Tag,
        mut edit: impl FnMut(&[u8], &[&KeyLine<'_>]) -> Result<(Vec<u8>, T), E>,
    ) -> Result<(Vec<u8>, T), E> {
        let not_found = || StoreError::KeyNotFound(fingerprint.to_owned());
        let dir = SshDir::open(&self.home, &self.location)?.ok_or_else(not_found)?;
        let beside = self.beside(&dir)?;
        let written = self.rewrite_locked::<_, E>(&dir, |contents| {
            let parsed = authorized_keys::parse(contents);
            let lines: Vec<&KeyLine<'_>> = parsed
                .keys
                .iter()
                .filter(|k| k.fingerprint() == fingerprint)
                .collect();
            if lines.is_empty() {
                return Err(not_found().into());
            }
            if !lines.iter().all(|k| k.is_tagged(tag)) {
                return Err(StoreError::NotOurs(fingerprint.to_owned()).into());
            }
            if let Some(beside) = &beside {
                beside.check(lines[0].key.key_data(), fingerprint)?;
            }
            let (changed, said) = edit(contents, &lines)?;
            Ok((Some(changed.clone()), (changed, said)))
        })?;
        written.ok_or_else(|| not_found().into())
    }

    /// Rewrites the file in `dir` as `edit` makes it from its contents: under the lock, by
    /// rename, started over when an outside writer changed the file meanwhile, never past the
    /// size limit. `edit` answers the new contents (none when nothing is to be written) and
    /// what it says besides; it may refuse, and then nothing is written. `None` when the file
    /// is missing.
    fn rewrite_locked<T, E: From<StoreError>>(
        &self,
        dir: &SshDir,
        mut edit: impl FnMut(&[u8]) -> Result<(Option<Vec<u8>>, T), E>,
    ) -> Result<Option<T>, E> {
        for _ in 0..ATTEMPTS {
            let Some(locked) = Locked::acquire(dir, false, self.max_size, self.lock_timeout)?
            else {
                return Ok(None);
            };
            temp::remove_stale_temps(dir);
            let contents = locked.read_all(&self.file, self.max_size)?;
            let (changed, said) = edit(&contents)?;
            let Some(changed) = changed else {
                return Ok(Some(said));
            };
            if changed.len() as u64 > self.max_size {
                return Err(StoreError::WouldBeTooLarge {
                    path: self.file.clone(),
                    size: contents.len() as u64,
                    max: self.max_size,
                }
                .into());
            }
            if replace::replace(
                dir,
                &locked,
                &contents,
                &changed,
                self.max_size,
                self.crash_at,
            )? {
                // Written in the directory opened at the start: if that was moved away or
                // replaced meanwhile, sshd reads another file, and "done" would be false.
                if !dir.is_reached_from(&self.home, &self.location) {
                    return Err(StoreError::Moved(self.dir.clone()).into());
                }
                return Ok(Some(said));
            }
        }
        Err(StoreError::Busy(self.file.clone()).into())
    }

    /// Tightens `part` to the mode sshd wants (`~/.ssh` 0700, the file 0600), through a
    /// descriptor and only when it is a real directory or regular file owned by `uid`.
    pub fn make_private(&self, part: Part, uid: u32) -> Result<(), StoreError> {
        let dir = SshDir::open(&self.home, &self.location)?
            .ok_or_else(|| StoreError::Missing(self.dir.clone()))?;
        let (file, path, mode) = match part {
            Part::SshDir => (None, &self.dir, 0o700),
            Part::File => {
                let flags = OFlags::RDONLY | OFlags::NONBLOCK;
                let file =
                    dir.open_file(dir.file_name(), flags, 0)
                        .map_err(|e| match e.kind() {
                            io::ErrorKind::NotFound => StoreError::Missing(self.file.clone()),
                            _ if e.raw_os_error() == Some(libc::ELOOP) => {
                                StoreError::Symlink(self.file.clone())
                            }
                            _ => io_error("open", &self.file, e),
                        })?;
                (Some(file), &self.file, 0o600)
            }
        };
        let fd = file.as_ref().map_or(dir.fd(), std::os::fd::AsFd::as_fd);
        let st = rustix::fs::fstat(fd).map_err(|e| io_error("read", path, e.into()))?;
        let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
        if part == Part::File && kind != rustix::fs::FileType::RegularFile {
            return Err(StoreError::NotRegular(path.clone()));
        }
        if st.st_uid != uid {
            return Err(StoreError::NotYours {
                path: path.clone(),
                owner: st.st_uid,
            });
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
            .map_err(|e| io_error("change the mode of", path, e.into()))
    }

    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        if size > self.max_size {
            return Err(StoreError::TooLarge {
                path: self.file.clone(),
                size,
                max: self.max_size,
            });
        }
        Ok(())
    }
}
