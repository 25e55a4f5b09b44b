//! The audit log (server only): one JSON line for each login, change and refused request, to
//! stderr or to a file. It names the action, the account, the remote address, the key's fingerprint and the
//! outcome; never key material, a passphrase, the token or a session id.
//!
//! Some fields come from the network (a name a client claims, an address a proxy reports), so
//! each is cut to [`MAX_FIELD_CHARS`] and its invisible characters written as `\u{…}` before it
//! is logged: a line stays short and shows what was sent.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use self::throttle::{Throttle, Unwritten};

use crate::ssh::Date;
use crate::ssh::label::is_printable;

mod throttle;

/// The most characters of one field written to the log; the rest is counted, not written.
pub const MAX_FIELD_CHARS: usize = 200;

/// Where audit lines go; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Audit {
    sink: Arc<Mutex<Sink>>,
    /// Throttled lines of the last minute (see [`Self::record_refusal`]).
    throttle: Arc<Mutex<Throttle>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

enum Sink {
    Stderr,
    File(File, PathBuf),
}

/// One audited event.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    /// `login`, `logout`, `generate`, `revoke`, `fix`, `refused`, or the administrator's
    /// `admin-revoke` and `admin-sweep`.
    pub action: &'a str,
    /// The account acted for, or that tried.
    pub account: &'a str,
    /// The client's address (`unix` on the socket).
    pub remote: &'a str,
    /// The key concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<&'a str>,
    /// `ok`, or why not.
    pub outcome: &'a str,
}

impl Audit {
    /// Audit lines on standard error.
    pub fn to_stderr() -> Self {
        Self {
            sink: Arc::new(Mutex::new(Sink::Stderr)),
            throttle: Arc::default(),
        }
    }

    /// Audit lines appended to `path`, created readable by this account only. A missing
    /// directory is created 0700 (outside systemd, nothing else makes `/var/log/keyhatch`: the
    /// unit's `LogsDirectory` does).
    pub fn to_file(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        Ok(Self {
            sink: Arc::new(Mutex::new(Sink::File(append(path)?, path.to_owned()))),
            throttle: Arc::default(),
        })
    }

    /// Opens the log's file again by its path, as logrotate expects after moving it away (it
    /// sends SIGHUP); lines go on to the old file until the new one is open. Standard error has
    /// nothing to reopen.
    pub fn reopen(&self) -> io::Result<()> {
        let Ok(mut sink) = self.sink.lock() else {
            return Ok(());
        };
        if let Sink::File(file, path) = &mut *sink {
            *file = append(path)?;
        }
        Ok(())
    }

    /// Writes `event` as one line. A log that cannot be written never fails the request.
    pub fn record(&self, event: &Event<'_>) {
        self.write(event, false, None);
    }

    /// Writes `event`, a request refused before any work (a per-person limit), at most once a
    /// minute for its account and action; the next line written says how many were refused
    /// meanwhile without one (red team: 25,000 lines in 10 seconds from one person).
    pub fn record_refusal(&self, event: &Event<'_>) {
        self.throttled(event, event.account, false, "refused");
    }

    /// Writes `event`, a refusal, as [`Self::record_refusal`] does, counted against `against`
    /// rather than its account (local mode's gate: another account, by its uid).
    pub fn record_refusal_counted_as(&self, event: &Event<'_>, against: &str) {
        self.throttled(event, against, false, "refused");
    }

    /// Writes `event`, an operation that failed as `kind` (a helper killed, a file another
    /// program holds, a conflict), at most once a minute for its account, action and kind; the
    /// next line written alike says how many failed so meanwhile. The person can make some
    /// fail as fast as they send them (red team: a lease on their own file, 5,900 lines in 5
    /// seconds), and with words of their choosing (a file's size in each 409: counted apart by
    /// outcome, 4,097 lines a minute filled the table, and others' lines went unwritten).
    pub fn record_failure(&self, event: &Event<'_>, kind: &str) {
        let against = format!("{}\n{kind}", event.account);
        self.throttled(event, &against, false, "failed alike");
    }

    /// Writes `event`, a request refused at the door, whose account is a name the proxy sent
    /// (or a peer that is not the proxy claimed) and keyhatch has not checked, as one line
    /// marked `"claimed": true`, throttled as [`Self::record_refusal`] is, counted against
    /// `against`: the name the proxy gave, or the reason where no name can be believed, so
    /// that names a client makes up cannot each have a line (red team: 325,000 lines, 44 MB, in
    /// 5 seconds of cross-site posts from one signed-in person).
    pub fn record_claimed_refusal(&self, event: &Event<'_>, against: &str) {
        self.throttled(event, against, true, "refused");
    }

    /// Writes `event` at most once a minute for `against` and its action, saying how many
    /// more were `so` since; the lines left unwritten are counted in a line of their own once
    /// their minute is over ([`Self::write_ended_minutes`]).
    fn throttled(&self, event: &Event<'_>, against: &str, claimed: bool, so: &'static str) {
        let mut ended = Vec::new();
        let admitted = match self.throttle.lock() {
            Ok(mut throttle) => {
                throttle.admit((against, event.action), Instant::now(), &mut ended, || {
                    Unwritten {
                        action: loggable(event.action).into_owned(),
                        account: loggable(event.account).into_owned(),
                        remote: loggable(event.remote).into_owned(),
                        fingerprint: event.fingerprint.map(|f| loggable(f).into_owned()),
                        outcome: loggable(event.outcome).into_owned(),
                        claimed,
                        so,
                        count: 0,
                    }
                })
            }
            Err(_) => return,
        };
        self.write_unwritten(ended);
        match admitted {
            None => {}
            Some(0) => self.write(event, claimed, None),
            Some(unwritten) => {
                let outcome = format!(
                    "{} (and {unwritten} more {so} in the last minute or more)",
                    event.outcome
                );
                let event = Event {
                    outcome: &outcome,
                    ..*event
                };
                self.write(&event, claimed, None);
            }
        }
    }

    /// Writes, for each throttled minute over, a line counting what it left unwritten: a
    /// flood that stops is told in full (red team: its count waited for a next line alike,
    /// which might never come). The server calls this every few seconds.
    pub fn write_ended_minutes(&self) {
        self.write_ended_minutes_at(Instant::now());
    }

    /// Writes every count the throttle holds, as at the end of its minute: keyhatch is
    /// stopping.
    pub fn write_unwritten_at_stop(&self) {
        self.write_ended_minutes_at(Instant::now() + throttle::EVERY);
    }

    fn write_ended_minutes_at(&self, now: Instant) {
        let ended = match self.throttle.lock() {
            Ok(mut throttle) => throttle.ended(now),
            Err(_) => return,
        };
        self.write_unwritten(ended);
    }

    fn write_unwritten(&self, lines: Vec<Unwritten>) {
        for line in lines {
            let outcome = line.outcome();
            let event = Event {
                action: &line.action,
                account: &line.account,
                remote: &line.remote,
                fingerprint: line.fingerprint.as_deref(),
                outcome: &outcome,
            };
            self.write_loggable(&event, line.claimed, None);
        }
    }

    /// Writes `event`, done by the site's administrator at the terminal (`keyhatch admin`), as
    /// one line marked `"actor": "admin"` with `login`, the administrator's own login name
    /// (`SUDO_USER`, else `LOGNAME`).
    pub fn record_by_admin(&self, event: &Event<'_>, login: &str) {
        self.write(event, false, Some(login));
    }

    fn write(&self, event: &Event<'_>, claimed: bool, admin: Option<&str>) {
        let fingerprint = event.fingerprint.map(loggable);
        let event = Event {
            action: &loggable(event.action),
            account: &loggable(event.account),
            remote: &loggable(event.remote),
            fingerprint: fingerprint.as_deref(),
            outcome: &loggable(event.outcome),
        };
        self.write_loggable(&event, claimed, admin);
    }

    /// Writes `event`, whose fields are already as [`loggable`] makes them.
    fn write_loggable(&self, event: &Event<'_>, claimed: bool, admin: Option<&str>) {
        #[derive(Serialize)]
        struct Line<'a> {
            time: String,
            #[serde(flatten)]
            event: &'a Event<'a>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            claimed: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            actor: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            login: Option<&'a str>,
        }
        let login = admin.map(loggable);
        let Ok(mut line) = serde_json::to_vec(&Line {
            time: utc_now(),
            event,
            claimed,
            actor: admin.map(|_| "admin"),
            login: login.as_deref(),
        }) else {
            return;
        };
        line.push(b'\n');
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        let _ = match &mut *sink {
            Sink::Stderr => io::stderr().write_all(&line),
            Sink::File(file, _) => file.write_all(&line),
        };
    }
}

/// `path` opened for appending, created readable by this account only; never through a link,
/// and only a regular file of this account's that no other may write: another account's file
/// there read the lines and took forged ones, and a FIFO held the start for good (red team).
fn append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt;
    let refused = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    // A FIFO would not open (nobody reads it), or, swapped in after this look, open without
    // waiting and fail the look below.
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.is_file()
    {
        return refused("it is not a regular file".to_owned());
    }
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return refused("it is not a regular file".to_owned());
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return refused(format!(
            "it belongs to uid {}, not to this account",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refused(format!(
            "group or others can write it (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(file)
}

/// `field` as logged: at most [`MAX_FIELD_CHARS`] characters, then how many bytes were left
/// out; controls, separators and invisible characters written as `\u{2028}`.
fn loggable(field: &str) -> Cow<'_, str> {
    let mut chars = field.char_indices();
    let plain = chars
        .by_ref()
        .take(MAX_FIELD_CHARS)
        .all(|(_, c)| is_printable(c));
    if plain && chars.next().is_none() {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(MAX_FIELD_CHARS + 24);
    let mut end = field.len();
    for (n, (at, c)) in field.char_indices().enumerate() {
        if n == MAX_FIELD_CHARS {
            end = at;
            break;
        }
        if is_printable(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        }
    }
    if end < field.len() {
        out.push_str(&format!("… ({} more bytes)", field.len() - end));
    }
    Cow::Owned(out)
}

/// The time now as RFC 3339 in UTC, to the millisecond: `2026-11-25T14:50:00.123Z`.
fn utc_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

fn rfc3339(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}.{millis:03}Z",
        Date::from_days(days),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
