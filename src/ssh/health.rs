//! Would sshd use the keys? The checks of OpenSSH's `StrictModes` (`safe_path` in misc.c), in
//! words a person understands, and the two fixes keyhatch may make safely.
//!
//! sshd ignores `authorized_keys` when the file, `~/.ssh` or the home directory is owned by
//! another account (root excepted) or writable by group or others. keyhatch may tighten
//! `~/.ssh` to 0700 and the file to 0600; it never changes the home directory, and never chowns.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::store::{AuthorizedKeys, Part, StoreError};

/// One reason sshd would ignore the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong and what it does, for the person.
    pub message: String,
    /// The fix keyhatch can make, if it may.
    pub fix: Option<Fix>,
}

/// A fix keyhatch may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// `chmod 700 ~/.ssh`.
    SshDirMode,
    /// `chmod 600 ~/.ssh/authorized_keys`.
    FileMode,
}

/// Lists what would make sshd ignore the store's file for the account `uid`; empty when nothing
/// would. A missing file or `~/.ssh` is no problem: there is nothing to use.
pub fn check(store: &AuthorizedKeys, uid: u32) -> Vec<Problem> {
    let mut problems = Vec::new();
    let entries = [
        (store.path(), Kind::File),
        (store.dir(), Kind::SshDir),
        (store.home(), Kind::Home),
    ];
    for (path, kind) in entries {
        // sshd resolves links (realpath) and checks what they point to.
        let Ok(meta) = fs::metadata(path) else {
            continue;
        };
        let what = match kind {
            Kind::File if !meta.is_file() => Some("a regular file"),
            Kind::SshDir | Kind::Home if !meta.is_dir() => Some("a directory"),
            _ => None,
        };
        if let Some(what) = what {
            problems.push(Problem {
                message: format!("{} is not {what}, so sshd ignores it.", path.display()),
                fix: None,
            });
            continue;
        }
        if meta.uid() != uid && meta.uid() != 0 {
            problems.push(Problem {
                message: format!(
                    "{} belongs to another account (uid {}), so sshd ignores your keys. Ask your administrator to give it back to you.",
                    path.display(),
                    meta.uid()
                ),
                fix: None,
            });
        }
        if meta.mode() & 0o022 != 0 {
            problems.push(writable(path, kind, meta.mode()));
        }
    }
    problems
}

/// Makes `fix` (only on a real file or directory owned by `uid`, never through a link), then
/// checks again.
pub fn fix(store: &AuthorizedKeys, uid: u32, fix: Fix) -> Result<Vec<Problem>, StoreError> {
    let part = match fix {
        Fix::SshDirMode => Part::SshDir,
        Fix::FileMode => Part::File,
    };
    store.make_private(part, uid)?;
    Ok(check(store, uid))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    SshDir,
    Home,
}

fn writable(path: &Path, kind: Kind, mode: u32) -> Problem {
    let who = if mode & 0o002 != 0 {
        "anyone"
    } else {
        "your group"
    };
    let (fix, advice) = match kind {
        Kind::File => (
            Some(Fix::FileMode),
            "keyhatch can set it to 0600 (only you can read and write it).",
        ),
        Kind::SshDir => (
            Some(Fix::SshDirMode),
            "keyhatch can set it to 0700 (only you can use it).",
        ),
        Kind::Home => (
            None,
            "Run `chmod go-w ~` yourself, or ask your administrator: keyhatch does not change your home directory.",
        ),
    };
    Problem {
        message: format!(
            "{} can be changed by {who} (mode {:o}), so sshd ignores your keys. {advice}",
            path.display(),
            mode & 0o7777
        ),
        fix,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::ssh::testing::{chmod, home_with, mode, uid};

    /// A home with an empty `authorized_keys`, and the three modes set; its store.
    fn home_with_modes(home: u32, dir: u32, file: u32) -> (tempfile::TempDir, AuthorizedKeys) {
        let temp = home_with(b"");
        let store = AuthorizedKeys::in_home(temp.path());
        chmod(store.path(), file);
        chmod(store.dir(), dir);
        chmod(store.home(), home);
        (temp, store)
    }

    #[test]
    fn private_modes_are_healthy_and_a_missing_file_is_too() {
        let (_home, store) = home_with_modes(0o755, 0o700, 0o600);
        assert_eq!(check(&store, uid()), []);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(check(&AuthorizedKeys::in_home(empty.path()), uid()), []);
    }

    #[test]
    fn writable_modes_are_reported_and_only_ssh_and_the_file_are_fixable() {
        let (_home, store) = home_with_modes(0o777, 0o777, 0o666);
        let problems = check(&store, uid());
        let fixes: Vec<_> = problems.iter().map(|p| p.fix).collect();
        assert_eq!(fixes, [Some(Fix::FileMode), Some(Fix::SshDirMode), None]);
        assert!(
            problems[2].message.contains("chmod go-w ~"),
            "{}",
            problems[2].message
        );
        assert!(
            problems[0].message.contains("anyone"),
            "{}",
            problems[0].message
        );

        fix(&store, uid(), Fix::SshDirMode).unwrap();
        let left = fix(&store, uid(), Fix::FileMode).unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(mode(store.dir()), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(
            mode(store.home()),
            0o777,
            "the home directory is never changed"
        );
    }

    #[test]
    fn an_ssh_path_that_is_not_a_directory_is_called_that() {
        let home = tempfile::tempdir().unwrap();
        fs::write(home.path().join(".ssh"), b"").unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        let problems = check(&store, uid());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .ends_with(".ssh is not a directory, so sshd ignores it."),
            "{}",
            problems[0].message
        );
        let err = fix(&store, uid(), Fix::SshDirMode).unwrap_err();
        assert!(matches!(err, StoreError::NotADirectory(_)), "{err}");
    }

    #[test]
    fn another_owner_is_reported_and_never_fixed() {
        let (_home, store) = home_with_modes(0o755, 0o700, 0o666);
        // Give the file to another account (the test runs as root, as CI does), then look at it
        // as the home's owner: sshd would ignore it, and keyhatch must not touch it.
        std::os::unix::fs::chown(store.path(), Some(4243), None).expect("the test runs as root");
        let problems = check(&store, uid());
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("uid 4243") && p.fix.is_none()),
            "{problems:?}"
        );
        let err = fix(&store, uid(), Fix::FileMode).unwrap_err();
        assert!(
            matches!(err, StoreError::NotYours { owner: 4243, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("belongs to another account"),
            "{err}"
        );
        assert_eq!(mode(store.path()), 0o666);
    }

    #[test]
    fn a_fix_never_follows_a_symlink() {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("target");
        fs::create_dir(&target).unwrap();
        chmod(&target, 0o777);
        symlink(&target, home.path().join(".ssh")).unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        assert!(matches!(
            fix(&store, uid(), Fix::SshDirMode),
            Err(StoreError::Symlink(_))
        ));
        assert_eq!(mode(&target), 0o777);
        let file_target = home.path().join("file");
        fs::write(&file_target, b"").unwrap();
        chmod(&file_target, 0o666);
        fs::remove_file(home.path().join(".ssh")).unwrap();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        symlink(&file_target, store.path()).unwrap();
        assert!(matches!(
            fix(&store, uid(), Fix::FileMode),
            Err(StoreError::Symlink(_))
        ));
        assert_eq!(mode(&file_target), 0o666);
    }
}
