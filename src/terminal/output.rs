//! What the terminal commands print: every line escaped, standard output checked before a
//! private key goes to it, and written with `write(2)` itself.

use std::io::{self, IsTerminal, Write};

/// `text` as one line of plain text: a control character (a line end, an escape sequence that
/// a fingerprint or path given by someone else could carry to the terminal), and anything else
/// that would not show as itself (a bidirectional override, an invisible character, with which
/// a label in someone's file could make its line read otherwise), shown escaped.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else if !crate::ssh::label::is_printable(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Writes a line to standard output, control characters escaped; a closed or full output is
/// not a panic.
pub fn say(line: &str) {
    let _ = writeln!(io::stdout(), "{}", one_line(line));
}

/// Writes a line to standard error, control characters escaped; a closed one is not a panic.
pub fn note(line: &str) {
    let _ = writeln!(io::stderr(), "{}", one_line(line));
}

/// Why standard output cannot take a private key, if it cannot: not open for writing (a
/// read-only descriptor, whose writes Rust's standard output reports as done), or a device
/// other than a terminal (`/dev/null`, which Rust's runtime puts in place of a closed
/// standard output, `/dev/zero`…), which would drop it.
pub fn stdout_refuses_a_key() -> Option<&'static str> {
    use rustix::fs::{FileType, OFlags};
    let out = io::stdout();
    let writable = rustix::fs::fcntl_getfl(&out)
        .is_ok_and(|flags| flags.intersects(OFlags::WRONLY | OFlags::RDWR));
    if !writable {
        return Some("standard output is closed or not open for writing");
    }
    let device = rustix::fs::fstat(&out)
        .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice);
    (device && !out.is_terminal()).then_some("standard output is a device that would drop it")
}

/// Why standard output may not take a private key, when someone else could read it there: a
/// named pipe (its reader may be anyone: red team), or a file another account owns (it can
/// read it whatever its mode, and can make it look private the moment before: red team), one
/// with another name, one others may read now (`> key` under umask 022), or one another
/// process holds open (a descriptor opened while it was readable reads what is written now:
/// red team). A terminal, a pipe to a program and a socket are the person's own doing.
pub fn stdout_is_shared() -> Option<String> {
    use rustix::fs::FileType;
    let out = io::stdout();
    let stat = rustix::fs::fstat(&out).ok()?;
    let mode = stat.st_mode & 0o7777;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Fifo if !is_anonymous_pipe(&out) => Some(
            "standard output is a named pipe, which any process may be reading: pipe to a \
             program (| …) or give -f FILE"
                .to_owned(),
        ),
        FileType::RegularFile if stat.st_uid != rustix::process::geteuid().as_raw() => {
            Some("standard output is another account's file".to_owned())
        }
        FileType::RegularFile if stat.st_nlink != 1 => {
            Some("standard output is a file with other names".to_owned())
        }
        FileType::RegularFile if mode & 0o077 != 0 => Some(format!(
            "standard output is a file others may read (mode {mode:04o}): remove it, then \
             give -f FILE, or (umask 077; keyhatch keys generate -f - > FILE)"
        )),
        FileType::RegularFile if open_elsewhere(&out) == Some(true) => Some(
            "another process has standard output's file open, and could read the key: remove \
             the file, then give -f FILE"
                .to_owned(),
        ),
        _ => None,
    }
}

/// Whether `out` is a pipe made by `pipe(2)` (a shell's `|`), not a named one.
fn is_anonymous_pipe(out: &impl std::os::fd::AsFd) -> bool {
    /// `PIPEFS_MAGIC`: the filesystem of pipes without a name.
    const PIPEFS: i64 = 0x5049_5045;
    #[allow(clippy::useless_conversion)] // `f_type` is narrower on some targets
    rustix::fs::fstatfs(out).is_ok_and(|fs| i64::from(fs.f_type) == PIPEFS)
}

/// Whether another open file holds `file`: a write lease, which the kernel grants only to the
/// one open file of its owner, taken and given back at once; `None` where the filesystem
/// grants no leases (NFS), which cannot tell.
#[allow(unsafe_code)]
fn open_elsewhere(file: &impl std::os::fd::AsFd) -> Option<bool> {
    use nix::libc;
    use std::os::fd::AsRawFd;
    let fd = file.as_fd().as_raw_fd();
    // SAFETY: fcntl with integer arguments on a descriptor this process holds open.
    if unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_WRLCK) } == 0 {
        // SAFETY: as above; giving back the lease just taken.
        unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK) };
        return Some(false);
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN | libc::EBUSY) => Some(true),
        _ => None,
    }
}

/// Writes all of `bytes` to standard output's descriptor itself: Rust's `Stdout` reports a
/// write to a bad descriptor as done.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let out = io::stdout();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rustix::io::write(&out, rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What an error says at the terminal.
pub(super) fn message(error: crate::error::AppError) -> String {
    error.to_string()
}

/// `value` as the API's JSON.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}
