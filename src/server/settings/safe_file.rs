//! Opening the settings file so that no other account can have chosen what is read, as sshd's
//! `safe_path` (openssh misc.c) checks its files: every directory on the way, and the file,
//! must belong to this account or root and be writable by no one else (a root-owned sticky
//! directory such as `/tmp` excepted: there nobody can rename another's entry). The file is
//! reached one directory at a time from `/`, each opened without following links and checked
//! by its descriptor, and the file checked is the one read: no swap between check and read.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{CWD, FileType, Mode, OFlags, Stat};

use super::error::SettingsError;

/// The largest settings file read: a settings file is a few lines.
const MAX_LEN: u64 = 1 << 20;

/// The text of the settings file at `path`, when it and every directory leading to it could be
/// changed only by `uid` or root.
pub(super) fn read(path: &Path, uid: u32) -> Result<String, SettingsError> {
    let file_error = |message: String| SettingsError::File {
        path: path.to_owned(),
        message,
    };
    let absolute = std::path::absolute(path).map_err(|e| file_error(e.to_string()))?;
    // The directories as named, before links are resolved: one another account can write
    // could point the rest of the path anywhere it likes.
    let mut named: Vec<&Path> = absolute.ancestors().skip(1).collect();
    named.reverse();
    for dir in named {
        let stat =
            rustix::fs::stat(dir).map_err(|e| file_error(format!("{}: {e}", dir.display())))?;
        check_dir(path, dir, &stat, uid)?;
    }
    // A link on the way, as named, chooses where the rest leads: it must be this account's or
    // root's too (a sticky directory such as /tmp lets anyone leave one there).
    for named in absolute.ancestors() {
        if let Ok(link) = rustix::fs::lstat(named)
            && FileType::from_raw_mode(link.st_mode) == FileType::Symlink
            && link.st_uid != uid
            && link.st_uid != 0
        {
            return Err(SettingsError::UnsafeFile {
                path: path.to_owned(),
                why: format!("{} is a link owned by uid {}", named.display(), link.st_uid),
            });
        }
    }
    let real = absolute
        .canonicalize()
        .map_err(|e| file_error(e.to_string()))?;
    let names: Vec<&OsStr> = real
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let Some((file_name, dirs)) = names.split_last() else {
        return Err(file_error("it is not a file".into()));
    };
    let opened = |e: rustix::io::Errno, at: &Path| file_error(format!("{}: {e}", at.display()));
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let mut at = PathBuf::from("/");
    let mut dir = rustix::fs::openat(CWD, "/", flags | OFlags::DIRECTORY, Mode::empty())
        .map_err(|e| opened(e, &at))?;
    check_dir(path, &at, &fstat(&dir, &at, path)?, uid)?;
    for name in dirs {
        at.push(name);
        dir = rustix::fs::openat(&dir, *name, flags | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| opened(e, &at))?;
        check_dir(path, &at, &fstat(&dir, &at, path)?, uid)?;
    }
    at.push(file_name);
    // Not blocking: a FIFO put there would otherwise hold keyhatch until someone writes to it.
    let file = rustix::fs::openat(&dir, *file_name, flags | OFlags::NONBLOCK, Mode::empty())
        .map_err(|e| opened(e, &at))?;
    let stat = fstat(&file, &at, path)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(file_error("it is not a regular file".into()));
    }
    // /proc and /sys show other processes' data as root's files.
    let on_disk = rustix::fs::fstatfs(&file).map_or(true, |fs| {
        fs.f_type != rustix::fs::PROC_SUPER_MAGIC && fs.f_type != 0x6265_6572 // SYSFS_MAGIC
    });
    if !on_disk {
        return Err(file_error(
            "it is not a file on a disk (/proc, /sys)".into(),
        ));
    }
    if u64::try_from(stat.st_size).unwrap_or(u64::MAX) > MAX_LEN {
        return Err(file_error(format!(
            "it is larger than {} MiB",
            MAX_LEN >> 20
        )));
    }
    let (owner, mode) = (stat.st_uid, stat.st_mode & 0o7777);
    let why = if owner != uid && owner != 0 {
        Some(format!("it belongs to uid {owner}"))
    } else if mode & 0o022 != 0 {
        Some(format!("group or others can write it (mode {mode:o})"))
    } else {
        None
    };
    if let Some(why) = why {
        return Err(SettingsError::UnsafeFile {
            path: path.to_owned(),
            why,
        });
    }
    let mut text = String::new();
    std::fs::File::from(file)
        .take(MAX_LEN)
        .read_to_string(&mut text)
        .map_err(|e| file_error(e.to_string()))?;
    Ok(text)
}

/// `fd`'s status, or an error naming `at`.
fn fstat(fd: &impl std::os::fd::AsFd, at: &Path, path: &Path) -> Result<Stat, SettingsError> {
    rustix::fs::fstat(fd).map_err(|e| SettingsError::File {
        path: path.to_owned(),
        message: format!("{}: {e}", at.display()),
    })
}

/// Refuses the directory `dir` (of the settings file `path`) when an account other than `uid`
/// and root could change what it holds.
fn check_dir(path: &Path, dir: &Path, stat: &Stat, uid: u32) -> Result<(), SettingsError> {
    let (owner, mode) = (stat.st_uid, stat.st_mode & 0o7777);
    let sticky_root = owner == 0 && mode & 0o1000 != 0;
    let why = if owner != uid && owner != 0 {
        format!("the directory {} belongs to uid {owner}", dir.display())
    } else if mode & 0o022 != 0 && !sticky_root {
        format!(
            "the directory {} can be written by group or others (mode {mode:o})",
            dir.display()
        )
    } else {
        return Ok(());
    };
    Err(SettingsError::UnsafeFile {
        path: path.to_owned(),
        why,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn every_directory_on_the_way_is_checked_not_only_the_files_own() {
        let top = tempfile::tempdir().unwrap();
        let (a, b) = (top.path().join("a"), top.path().join("a/b"));
        std::fs::create_dir_all(&b).unwrap();
        let file = b.join("keyhatch.toml");
        std::fs::write(&file, "[keyhatch]\n").unwrap();
        let uid = nix::unistd::getuid().as_raw();
        assert_eq!(read(&file, uid).unwrap(), "[keyhatch]\n");

        mode(&a, 0o777);
        let err = read(&file, uid).unwrap_err().to_string();
        assert!(
            err.contains(&format!("the directory {} can be written", a.display())),
            "{err}"
        );
        // Sticky, as /tmp is: only when root owns it.
        mode(&a, 0o1777);
        assert!(read(&file, uid).is_ok());
        std::os::unix::fs::chown(&a, Some(4247), None).expect("the test runs as root");
        let err = read(&file, uid).unwrap_err().to_string();
        assert!(err.contains("belongs to uid 4247"), "{err}");
    }

    #[test]
    fn a_link_through_a_directory_others_can_write_is_refused() {
        let top = tempfile::tempdir().unwrap();
        let file = top.path().join("keyhatch.toml");
        std::fs::write(&file, "[keyhatch]\n").unwrap();
        let shared = top.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::os::unix::fs::symlink(&file, shared.join("keyhatch.toml")).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        assert!(read(&shared.join("keyhatch.toml"), uid).is_ok());
        mode(&shared, 0o777);
        let err = read(&shared.join("keyhatch.toml"), uid)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&shared.display().to_string()), "{err}");
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let top = tempfile::tempdir().unwrap();
        let fifo = top.path().join("keyhatch.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let err = read(&fifo, uid).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    /// The attack (red team): another account leaves a link in a root-owned sticky directory,
    /// as /tmp is, to a root-owned file of its choosing (`/proc/PID/cmdline` of a setuid
    /// program it started holds its own text).
    #[test]
    fn another_accounts_link_in_a_sticky_directory_and_proc_files_are_refused() {
        let top = tempfile::tempdir().unwrap();
        let file = top.path().join("ca.pem");
        std::fs::write(&file, "root's\n").unwrap();
        let sticky = top.path().join("tmp");
        std::fs::create_dir(&sticky).unwrap();
        mode(&sticky, 0o1777);
        let link = sticky.join("ca.pem");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        assert!(read(&link, uid).is_ok(), "root's own link passes");
        rustix::fs::chownat(
            CWD,
            &link,
            Some(rustix::fs::Uid::from_raw(4247)),
            None,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let err = read(&link, uid).unwrap_err().to_string();
        assert!(err.contains("is a link owned by uid 4247"), "{err}");

        let err = read(Path::new("/proc/self/cmdline"), uid)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a file on a disk"), "{err}");
    }
}
