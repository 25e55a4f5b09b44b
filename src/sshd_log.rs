//! Reading sshd's log for when each key last logged in (server only): a thread follows the
//! log named by `sshd-log` and keeps, per account and key, the last "Accepted publickey" line
//! ([`crate::ssh::usage`]). Requests only look up what it has read.
//!
//! The journal is read through `journalctl`, taking only the entries journald itself marks as
//! root's `sshd` (or `sshd-session`): fields no other account can set, unlike a syslog file's
//! lines, which any account can add to with `logger`.

mod file;
mod journal;
mod reading;

use std::path::PathBuf;

pub use reading::{Reading, Seen, now};

/// Where sshd's log is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The system journal.
    Journal,
    /// Journal files: one file, or a directory of them (such as the one
    /// `systemd-journal-remote` writes for every node).
    JournalAt(PathBuf),
    /// A text log: sshd's own (`-E FILE`) or syslog's (`/var/log/auth.log`).
    File(PathBuf),
}

impl Source {
    /// Reads the `sshd-log` setting: `journal`, `journal:PATH`, or an absolute file path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let absolute = |path: &str| {
            let path = PathBuf::from(path);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(format!(
                    "sshd-log {text:?} must be \"journal\", \"journal:/path\" or an absolute path, like /var/log/auth.log"
                ))
            }
        };
        match text {
            "journal" => Ok(Self::Journal),
            _ => match text.strip_prefix("journal:") {
                Some(path) => absolute(path).map(Self::JournalAt),
                None => absolute(text).map(Self::File),
            },
        }
    }
}

/// Starts following `source` on a thread of its own; requests read what it found from the
/// returned [`Reading`].
pub fn start(source: Source) -> std::io::Result<Reading> {
    let reading = Reading::new();
    let shared = reading.clone();
    std::thread::Builder::new()
        .name("sshd-log".into())
        .spawn(move || match source {
            Source::File(path) => file::follow(&path, &shared),
            Source::Journal => journal::follow(None, &shared),
            Source::JournalAt(path) => journal::follow(Some(&path), &shared),
        })?;
    Ok(reading)
}
