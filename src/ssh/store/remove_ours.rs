//! Removing many of keyhatch's own lines at once (an administrator's offboarding: all of an
//! account's keys, or those whose time has passed), in one locked rewrite; and the same choice
//! read without a lock, for a dry run that changes nothing.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;

use nix::libc;
use rustix::fs::OFlags;

use super::AuthorizedKeys;
use super::beside::Beside;
use super::dir::SshDir;
use super::error::{StoreError, io_error};
use crate::ssh::authorized_keys::{self, KeyLine};
use crate::ssh::tag::Tag;

impl AuthorizedKeys {
    /// Judges every line tagged `tag`, in file order, telling `judge` whether a line keyhatch
    /// did not write holds the same key (so that removing keyhatch's would not stop it), and
    /// removes those `judge` picks (its `true`), keeping every other byte: under the lock, by rename, started over when an
    /// outside writer changed the file meanwhile; the previous file is kept as
    /// `authorized_keys.old`. With `dry_run`, or when nothing is picked, nothing is written.
    /// A missing `~/.ssh` or file has nothing to judge. Returns each judgement.
    ///
    /// The file is reached as a rewrite reaches it, in a dry run too: never through a link
    /// (`~/.ssh` or the file), never a file with other names, so a dry run fails where the
    /// removal would.
    pub fn remove_ours_where<T>(
        &self,
        tag: &Tag,
        dry_run: bool,
        mut judge: impl FnMut(&KeyLine<'_>, bool) -> (bool, T),
    ) -> Result<Vec<(bool, T)>, StoreError> {
        let Some(dir) = SshDir::open(&self.home, &self.location)? else {
            return Ok(Vec::new());
        };
        let beside = self.beside(&dir)?;
        if dry_run {
            let Some(contents) = self.read_unfollowed(&dir)? else {
                return Ok(Vec::new());
            };
            return Ok(judge_lines(&contents, tag, beside.as_ref(), &mut judge).0);
        }
        let judged = self.rewrite_locked(&dir, |contents| {
            let (judged, picked) = judge_lines(contents, tag, beside.as_ref(), &mut judge);
            let changed =
                (!picked.is_empty()).then(|| authorized_keys::without_lines(contents, &picked));
            Ok::<_, StoreError>((changed, judged))
        })?;
        Ok(judged.unwrap_or_default())
    }

    /// The file's contents read as a rewrite would reach it, without its lock: `None` when it
    /// is missing; refused when it is a link, not a regular file, has other names, or is over
    /// the size limit.
    fn read_unfollowed(&self, dir: &SshDir) -> Result<Option<Vec<u8>>, StoreError> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK;
        let file = match dir.open_file(dir.file_name(), flags, 0) {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(StoreError::Symlink(self.file.clone()));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("open", &self.file, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| io_error("read", &self.file, e))?;
        if !meta.is_file() {
            return Err(StoreError::NotRegular(self.file.clone()));
        }
        if meta.nlink() > 1 {
            return Err(StoreError::HardLinked {
                path: self.file.clone(),
                links: meta.nlink(),
            });
        }
        self.check_size(meta.len())?;
        let mut contents = Vec::new();
        file.take(self.max_size + 1)
            .read_to_end(&mut contents)
            .map_err(|e| io_error("read", &self.file, e))?;
        self.check_size(contents.len() as u64)?;
        Ok(Some(contents))
    }
}

/// `judge`'s judgement of every line of `contents` tagged `tag`, in file order, and the numbers
/// of the lines it picked; a key is held elsewhere on a line of `contents` keyhatch did not
/// write, or in the file `beside`.
fn judge_lines<T>(
    contents: &[u8],
    tag: &Tag,
    beside: Option<&Beside>,
    judge: &mut impl FnMut(&KeyLine<'_>, bool) -> (bool, T),
) -> (Vec<(bool, T)>, Vec<usize>) {
    let parsed = authorized_keys::parse(contents);
    let (ours, theirs): (Vec<_>, Vec<_>) = parsed.keys.iter().partition(|k| k.is_tagged(tag));
    let mut judged = Vec::new();
    let mut picked = Vec::new();
    for line in ours {
        let elsewhere = theirs
            .iter()
            .any(|t| t.key.key_data() == line.key.key_data())
            || beside.is_some_and(|b| b.holds(line.key.key_data()));
        let (remove, said) = judge(line, elsewhere);
        if remove {
            picked.push(line.number);
        }
        judged.push((remove, said));
    }
    (judged, picked)
}
