//! Would sshd use the keys? The checks of OpenSSH's `StrictModes` (`safe_path` in misc.c), in
//! words a person understands, and the two fixes keyhatch may make safely.
//!
//! sshd ignores `authorized_keys` when the file, `~/.ssh` or the home directory is owned by
//! another account (root excepted) or writable by group or others. keyhatch may tighten
//! `~/.ssh` to 0700 and the file to 0600; it never changes the home directory, and never chowns.

use std::fs::{self, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::libc;

use super::store::{AuthorizedKeys, StoreError, io_error};

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

/// Lists what would make sshd ignore `<home>/.ssh/authorized_keys` for the account `uid`;
/// empty when nothing would. A missing file or `~/.ssh` is no problem: there is nothing to use.
pub fn check(home: &Path, uid: u32) -> Vec<Problem> {
    let store = AuthorizedKeys::in_home(home);
    let mut problems = Vec::new();
    let entries = [
        (store.path(), Kind::File),
        (store.dir(), Kind::SshDir),
        (home, Kind::Home),
    ];
    for (path, kind) in entries {
        // sshd resolves links (realpath) and checks what they point to.
        let Ok(meta) = fs::metadata(path) else {
            continue;
        };
        if kind == Kind::File && !meta.is_file() {
            problems.push(Problem {
                message: format!(
                    "{} is not a regular file, so sshd ignores it.",
                    path.display()
                ),
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

/// Makes `fix` (only on a real file or directory owned by `uid`), then checks again.
pub fn fix(home: &Path, uid: u32, fix: Fix) -> Result<Vec<Problem>, StoreError> {
    let store = AuthorizedKeys::in_home(home);
    let (path, mode) = match fix {
        Fix::SshDirMode => (store.dir().to_owned(), 0o700),
        Fix::FileMode => (store.path().to_owned(), 0o600),
    };
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => StoreError::Symlink(path.clone()),
            _ => io_error("open", &path, e),
        })?;
    let meta = file.metadata().map_err(|e| io_error("read", &path, e))?;
    let right_kind = match fix {
        Fix::SshDirMode => meta.is_dir(),
        Fix::FileMode => meta.is_file(),
    };
    if !right_kind {
        return Err(StoreError::NotRegular(path));
    }
    if meta.uid() != uid {
        return Err(io_error(
            "change the mode of",
            &path,
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                "it belongs to another account",
            ),
        ));
    }
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| io_error("change the mode of", &path, e))?;
    Ok(check(home, uid))
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
    use super::*;

    fn uid() -> u32 {
        nix::unistd::getuid().as_raw()
    }

    fn home_with_file(home_mode: u32, dir_mode: u32, file_mode: u32) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        fs::create_dir(&ssh).unwrap();
        fs::write(ssh.join("authorized_keys"), b"").unwrap();
        fs::set_permissions(
            ssh.join("authorized_keys"),
            Permissions::from_mode(file_mode),
        )
        .unwrap();
        fs::set_permissions(&ssh, Permissions::from_mode(dir_mode)).unwrap();
        fs::set_permissions(home.path(), Permissions::from_mode(home_mode)).unwrap();
        home
    }

    #[test]
    fn private_modes_are_healthy_and_a_missing_file_is_too() {
        let home = home_with_file(0o755, 0o700, 0o600);
        assert_eq!(check(home.path(), uid()), []);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(check(empty.path(), uid()), []);
    }

    #[test]
    fn writable_modes_are_reported_and_only_ssh_and_the_file_are_fixable() {
        let home = home_with_file(0o777, 0o777, 0o666);
        let problems = check(home.path(), uid());
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

        fix(home.path(), uid(), Fix::SshDirMode).unwrap();
        let left = fix(home.path(), uid(), Fix::FileMode).unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&home.path().join(".ssh")), 0o700);
        assert_eq!(mode(&home.path().join(".ssh/authorized_keys")), 0o600);
        assert_eq!(
            mode(home.path()),
            0o777,
            "the home directory is never changed"
        );
    }

    #[test]
    fn another_owner_is_reported_and_never_fixed() {
        let home = home_with_file(0o755, 0o700, 0o666);
        let file = home.path().join(".ssh/authorized_keys");
        // Give the file to another account (the test runs as root, as CI does), then look at it
        // as the home's owner: sshd would ignore it, and keyhatch must not touch it.
        std::os::unix::fs::chown(&file, Some(4243), None).expect("the test runs as root");
        let problems = check(home.path(), uid());
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("uid 4243") && p.fix.is_none()),
            "{problems:?}"
        );
        let err = fix(home.path(), uid(), Fix::FileMode).unwrap_err();
        assert!(
            err.to_string().contains("belongs to another account"),
            "{err}"
        );
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o666);
    }

    #[test]
    fn a_fix_never_follows_a_symlink() {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::symlink(&target, home.path().join(".ssh")).unwrap();
        assert!(matches!(
            fix(home.path(), uid(), Fix::SshDirMode),
            Err(StoreError::Symlink(_))
        ));
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o777);
    }
}
