//! The file sshd reads beside `authorized_keys` unless told otherwise: its compiled-in
//! `AuthorizedKeysFile` (Debian's too) is `.ssh/authorized_keys .ssh/authorized_keys2`. A copy
//! of a key there still logs in once keyhatch has removed or narrowed its own line (red team),
//! so it counts as a copy on a line keyhatch did not write: a revoke or restrict of the key is
//! refused, and an administrator's removal leaves it, each saying so.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use ssh_key::public::KeyData;

use super::AuthorizedKeys;
use super::dir::SshDir;
use super::error::{StoreError, io_error};
use crate::ssh::authorized_keys;

/// The keys of the file sshd reads beside keyhatch's, and its path.
pub(super) struct Beside {
    /// The file, for messages.
    pub(super) path: PathBuf,
    /// Every key sshd would read in it, whatever its line's options or comment.
    keys: Vec<KeyData>,
}

impl Beside {
    /// Whether the file holds `key`.
    pub(super) fn holds(&self, key: &KeyData) -> bool {
        self.keys.contains(key)
    }
}

impl AuthorizedKeys {
    /// The keys of `authorized_keys2` beside the file in `dir`, read as sshd reads it (through a
    /// link, with the person's rights), at most the size limit. `None` where keyhatch's file is
    /// not `authorized_keys`, and where sshd would read no such file: missing, not readable by
    /// the person, not a regular file, or keyhatch's own file (a link to it).
    pub(super) fn beside(&self, dir: &SshDir) -> Result<Option<Beside>, StoreError> {
        const NAME: &str = "authorized_keys2";
        if dir.file_name() != "authorized_keys" {
            return Ok(None);
        }
        let Ok(file) = dir.open_for_reading(NAME) else {
            return Ok(None);
        };
        let path = dir.path_of(NAME);
        let meta = file.metadata().map_err(|e| io_error("read", &path, e))?;
        let ours = dir.stat(dir.file_name()).ok();
        if !meta.is_file() || ours.is_some_and(|o| (o.st_dev, o.st_ino) == (meta.dev(), meta.ino()))
        {
            return Ok(None);
        }
        let too_large = |size| StoreError::TooLarge {
            path: path.clone(),
            size,
            max: self.max_size,
        };
        let mut contents = Vec::new();
        file.take(self.max_size + 1)
            .read_to_end(&mut contents)
            .map_err(|e| io_error("read", &path, e))?;
        if contents.len() as u64 > self.max_size {
            return Err(too_large(meta.len().max(contents.len() as u64)));
        }
        let parsed = authorized_keys::parse(&contents);
        let keys = parsed
            .keys
            .iter()
            .map(|k| k.key.key_data().clone())
            .collect();
        Ok(Some(Beside { path, keys }))
    }
}
