//! The audit log (server only): one JSON line for each login, change and refused request, to
//! stderr or to a file. It names the action, the account, the remote address, the key's fingerprint and the
//! outcome; never key material, a passphrase, the token or a session id.
//!
//! Some fields come from the network (a name a client claims, an address a proxy reports), so
//! each is cut to [`MAX_FIELD_CHARS`] and its invisible characters written as `\u{…}` before it
//! is logged: a line stays short and shows what was sent.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::ssh::Date;
use crate::ssh::label::is_printable;

/// The most characters of one field written to the log; the rest is counted, not written.
pub const MAX_FIELD_CHARS: usize = 200;

/// Where audit lines go; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Audit {
    sink: Arc<Mutex<Sink>>,
    /// Refusals of the last minute (see [`Self::record_refusal`]).
    refusals: Arc<Mutex<Refusals>>,
}

/// By account and action: when a refusal was last written, and how many since were not.
type Refusals = HashMap<(String, String), (Instant, u64)>;

/// How often a refusal of the same action to the same account is written: one person's flood
/// of requests refused at once (past `keys-per-hour`, say) must not fill the disk.
const REFUSAL_EVERY: Duration = Duration::from_secs(60);

/// How many accounts' (or names') refusals are counted apart within a minute.
const REFUSALS_KEPT: usize = 4096;

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
            refusals: Arc::default(),
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
            refusals: Arc::default(),
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
    /// more were `so` since. Past [`REFUSALS_KEPT`] names within a minute, every other
    /// name's count together.
    fn throttled(&self, event: &Event<'_>, against: &str, claimed: bool, so: &str) {
        let now = Instant::now();
        let unwritten = {
            let Ok(mut refusals) = self.refusals.lock() else {
                return;
            };
            if refusals.len() >= REFUSALS_KEPT {
                refusals.retain(|_, (last, _)| now.duration_since(*last) < REFUSAL_EVERY);
            }
            let mut key = (against.to_owned(), event.action.to_owned());
            if refusals.len() >= REFUSALS_KEPT && !refusals.contains_key(&key) {
                key.0 = "*".to_owned();
            }
            match refusals.get_mut(&key) {
                Some((last, skipped)) if now.duration_since(*last) < REFUSAL_EVERY => {
                    *skipped += 1;
                    return;
                }
                Some((last, skipped)) => {
                    *last = now;
                    std::mem::take(skipped)
                }
                None => {
                    refusals.insert(key, (now, 0));
                    0
                }
            }
        };
        if unwritten == 0 {
            return self.write(event, claimed, None);
        }
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

    /// Writes `event`, done by the site's administrator at the terminal (`keyhatch admin`), as
    /// one line marked `"actor": "admin"` with `login`, the administrator's own login name
    /// (`SUDO_USER`, else `LOGNAME`).
    pub fn record_by_admin(&self, event: &Event<'_>, login: &str) {
        self.write(event, false, Some(login));
    }

    fn write(&self, event: &Event<'_>, claimed: bool, admin: Option<&str>) {
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
        let fingerprint = event.fingerprint.map(loggable);
        let event = Event {
            action: &loggable(event.action),
            account: &loggable(event.account),
            remote: &loggable(event.remote),
            fingerprint: fingerprint.as_deref(),
            outcome: &loggable(event.outcome),
        };
        let login = admin.map(loggable);
        let Ok(mut line) = serde_json::to_vec(&Line {
            time: utc_now(),
            event: &event,
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

/// `path` opened for appending, created readable by this account only; never through a link.
fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
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
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_618_245, 999), "2026-11-25T14:50:45.999Z");
    }

    #[test]
    fn a_line_is_one_json_object_with_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        audit.record(&Event {
            action: "revoke",
            account: "alice",
            remote: "127.0.0.1:4000",
            fingerprint: Some("SHA256:abc"),
            outcome: "ok",
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["action"], "revoke");
        assert_eq!(line["fingerprint"], "SHA256:abc");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(text.lines().count(), 1);
    }

    /// The red team's attack: a person past `keys-per-hour` sent generates without end; each
    /// refusal, which costs no work, wrote a line (5 MB in 10 seconds).
    #[test]
    fn one_persons_flood_of_refusals_writes_a_line_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        let refused = |account| Event {
            action: "generate",
            account,
            remote: "unix",
            fingerprint: None,
            outcome: "too many keys this hour",
        };
        for _ in 0..1000 {
            audit.record_refusal(&refused("alice"));
        }
        audit.record_refusal(&refused("bob"));
        let text = std::fs::read_to_string(&path).unwrap();
        let accounts: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["account"].to_string())
            .collect();
        assert_eq!(accounts, ["\"alice\"", "\"bob\""]);
    }

    #[test]
    fn an_administrators_line_names_the_actor_and_their_login() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        let event = Event {
            action: "admin-revoke",
            account: "alice",
            remote: "terminal",
            fingerprint: Some("SHA256:abc"),
            outcome: "ok",
        };
        audit.record_by_admin(&event, "bob\u{202e}");
        audit.record(&event);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["actor"], "admin");
        assert_eq!(lines[0]["login"], "bob\\u{202e}");
        assert!(lines[1].get("actor").is_none() && lines[1].get("login").is_none());
    }

    #[test]
    fn a_long_or_invisible_field_is_cut_and_escaped() {
        assert!(matches!(loggable("alice"), Cow::Borrowed("alice")));
        let long = "a".repeat(64 * 1024);
        let cut = loggable(&long);
        assert_eq!(
            cut,
            format!(
                "{}… ({} more bytes)",
                "a".repeat(MAX_FIELD_CHARS),
                long.len() - MAX_FIELD_CHARS
            )
        );
        assert_eq!(loggable("al\u{2028}ice\n"), "al\\u{2028}ice\\u{000a}");
        assert_eq!(
            loggable(&"é".repeat(MAX_FIELD_CHARS)),
            "é".repeat(MAX_FIELD_CHARS)
        );
    }

    /// The attack: a client that is not the proxy claims a 60 KB name again and again, to fill
    /// the disk the audit log is on. Each line stays short whatever it sends, and holds the
    /// name's start, escaped.
    #[test]
    fn a_huge_claimed_name_adds_a_short_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        let claimed = format!("evil\u{202e}{}", "x".repeat(60_000));
        for _ in 0..20 {
            audit.record(&Event {
                action: "refused",
                account: &claimed,
                remote: &"9".repeat(10_000),
                fingerprint: None,
                outcome: "user header from a peer that is not the proxy",
            });
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 20 * 1024, "20 lines take {size} bytes");
        let text = std::fs::read_to_string(&path).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let account = line["account"].as_str().unwrap();
        assert!(account.starts_with("evil\\u{202e}xxx"), "{account}");
        assert!(!text.contains('\u{202e}'));
    }
}
