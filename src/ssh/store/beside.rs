//! The file sshd reads beside `authorized_keys` unless told otherwise: its compiled-in
//! `AuthorizedKeysFile` (Debian's too) is `.ssh/authorized_keys .ssh/authorized_keys2`. A copy
//! of a key there still logs in once keyhatch has removed or narrowed its own line (red team),
//! so it counts as a copy on a line keyhatch did not write: a revoke or restrict of the key is
//! refused, and an administrator's removal leaves it, each saying so.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use ssh_key::public::KeyData;

use super::AuthorizedKeys;
use super::dir::SshDir;
use super::error::{StoreError, io_error};
use super::replace::backup_name;
use super::temp::temp_prefix;
use crate::ssh::authorized_keys;

/// The name sshd reads beside `authorized_keys`.
const NAME: &str = "authorized_keys2";

/// The keys of the file sshd reads beside keyhatch's, and its path.
pub(super) struct Beside {
    /// The file, for messages.
    pub(super) path: PathBuf,
    /// Every key sshd would read in it, whatever its line's options or comment.
    keys: Vec<KeyData>,
    /// Whether it leads to `authorized_keys.old` (or a rewrite's temporary file), which a
    /// change leaves holding the file as it was, with every key keyhatch changes (red team).
    pub(super) is_old: bool,
}

impl Beside {
    /// Whether the file holds `key`, or will once keyhatch has changed its own.
    pub(super) fn holds(&self, key: &KeyData) -> bool {
        self.is_old || self.keys.contains(key)
    }

    /// Refuses a change of keyhatch's line holding `key` (with `fingerprint`) that this file
    /// would undo.
    pub(super) fn check(&self, key: &KeyData, fingerprint: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        if self.is_old {
            Err(StoreError::BesideIsOld(path))
        } else if self.keys.contains(key) {
            let fingerprint = fingerprint.to_owned();
            Err(StoreError::CopyBeside { fingerprint, path })
        } else {
            Ok(())
        }
    }
}

impl AuthorizedKeys {
    /// The keys of `authorized_keys2` beside the file in `dir`, read as sshd reads it (through a
    /// link, with the person's rights), at most the size limit. `None` where keyhatch's file is
    /// not `authorized_keys`, and where sshd would read no such file: missing, not readable by
    /// the person, not a regular file, or keyhatch's own file (a link to it).
    pub(super) fn beside(&self, dir: &SshDir) -> Result<Option<Beside>, StoreError> {
        if dir.file_name() != "authorized_keys" {
            return Ok(None);
        }
        let path = dir.path_of(NAME);
        let old = |path: PathBuf| {
            let keys = Vec::new();
            Ok(Some(Beside {
                path,
                keys,
                is_old: true,
            }))
        };
        let Ok(file) = dir.open_for_reading(NAME) else {
            // A link to `.old` before a first change has made it.
            return if links_to_a_file_a_change_makes(dir) {
                old(path)
            } else {
                Ok(None)
            };
        };
        let meta = file.metadata().map_err(|e| io_error("read", &path, e))?;
        let is = |name: &str| {
            dir.stat(name)
                .is_ok_and(|st| (st.st_dev, st.st_ino) == (meta.dev(), meta.ino()))
        };
        if !meta.is_file() || is(dir.file_name()) {
            return Ok(None);
        }
        if is(&backup_name(dir)) || links_to_a_file_a_change_makes(dir) {
            return old(path);
        }
        let mut contents = Vec::new();
        file.take(self.max_size + 1)
            .read_to_end(&mut contents)
            .map_err(|e| io_error("read", &path, e))?;
        if contents.len() as u64 > self.max_size {
            let size = meta.len().max(contents.len() as u64);
            let max = self.max_size;
            return Err(StoreError::TooLarge { path, size, max });
        }
        let parsed = authorized_keys::parse(&contents);
        let keys = parsed
            .keys
            .iter()
            .map(|k| k.key.key_data().clone())
            .collect();
        Ok(Some(Beside {
            path,
            keys,
            is_old: false,
        }))
    }
}

/// Whether `authorized_keys2` in `dir` leads, through links, to a name a change makes beside
/// keyhatch's file: `authorized_keys.old`, or a rewrite's temporary file (red team: a link
/// through another link to `.old`, before a first change made it).
fn links_to_a_file_a_change_makes(dir: &SshDir) -> bool {
    let (old, temp) = (backup_name(dir), temp_prefix(dir.file_name()));
    let mut path = dir.path_of(NAME);
    // As many links as the kernel follows.
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else {
            return false;
        };
        let named = target.file_name().and_then(OsStr::to_str);
        if named.is_some_and(|last| last == old || last.starts_with(&temp)) {
            return true;
        }
        path = match path.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    false
}
