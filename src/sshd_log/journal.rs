//! Reading the journal through `journalctl`: every two seconds, the entries after the last one
//! read, starting from the oldest. Only entries journald itself marks as root's `sshd` or
//! `sshd-session` are asked for: `_UID` and `_COMM` are set by journald, not by the process
//! that logs, so no other account can add a login.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::reading::Reading;
use crate::ssh::usage::accepted;

/// Follows the journal (the system's, or the files at `at`) for ever.
pub(super) fn follow(at: Option<&Path>, reading: &Reading) {
    let mut cursor: Option<String> = None;
    for round in 1u64.. {
        let read = read_after(at, cursor.as_deref(), reading);
        if let Some(last) = read.as_ref().ok().and_then(Option::as_ref) {
            cursor = Some(last.clone());
        }
        // The journals of several nodes merge by time: an entry that reaches a file late comes
        // before the cursor and is skipped. Each minute the last hour is read again.
        if round % LATE_EVERY == 0 {
            let _ = read_since(at, super::reading::now() - LATE_WINDOW, reading);
        }
        reading.set_readable(read.is_ok() && readable(at));
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// How many rounds of 2 s between two readings of the last [`LATE_WINDOW`] seconds.
const LATE_EVERY: u64 = 30;

/// How late an entry may reach the journal files and still be read: an hour.
const LATE_WINDOW: i64 = 3600;

/// Reads the entries since `since` (seconds since 1970) again.
fn read_since(at: Option<&Path>, since: i64, reading: &Reading) -> std::io::Result<Option<String>> {
    read(at, &format!("--since=@{since}"), reading)
}

/// Reads the entries after `cursor` (all of them without one); returns the last one's cursor.
fn read_after(
    at: Option<&Path>,
    cursor: Option<&str>,
    reading: &Reading,
) -> std::io::Result<Option<String>> {
    let position = cursor.map_or_else(|| "--no-tail".to_owned(), |c| format!("--after-cursor={c}"));
    Ok(read(at, &position, reading)?.or_else(|| cursor.map(str::to_owned)))
}

/// Reads the entries `position` (a journalctl option) names; returns the last one's cursor.
fn read(at: Option<&Path>, position: &str, reading: &Reading) -> std::io::Result<Option<String>> {
    let mut journalctl = Command::new("journalctl");
    match at {
        Some(dir) if dir.is_dir() => journalctl.arg("--directory").arg(dir),
        Some(file) => journalctl.arg("--file").arg(file),
        None => &mut journalctl,
    };
    journalctl
        .args(["--no-pager", "--quiet", "--output=json"])
        .args(["_UID=0", "_COMM=sshd", "_COMM=sshd-session"]);
    journalctl.arg(position);
    // Nothing of keyhatch's environment (in local mode, its login token) goes to journalctl.
    let mut child = journalctl
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut last = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line?) else {
                continue;
            };
            let field = |name: &str| entry.get(name).and_then(serde_json::Value::as_str);
            if let Some(next) = field("__CURSOR") {
                last = Some(next.to_owned());
            }
            // Checked again, whatever journalctl's matches did.
            let sshd = matches!(field("_COMM"), Some("sshd" | "sshd-session"));
            if !sshd || field("_UID") != Some("0") {
                continue;
            }
            let login = field("MESSAGE").and_then(accepted);
            let at = field("__REALTIME_TIMESTAMP").and_then(|t| t.parse::<i64>().ok());
            if let (Some(login), Some(at)) = (login, at) {
                reading.record_login(&login, at / 1_000_000);
            }
        }
    }
    let status = child.wait()?;
    if !status.success() && last.is_none() {
        return Err(std::io::Error::other(format!("journalctl: {status}")));
    }
    Ok(last)
}

/// Whether the journal files can be read by this account: journalctl shows an account that
/// may not read the system's journal only its own entries, and says nothing is wrong.
fn readable(at: Option<&Path>) -> bool {
    let opens = |file: &Path| std::fs::File::open(file).is_ok();
    match at {
        Some(dir) if dir.is_dir() => journal_files(dir).iter().any(|f| opens(f)),
        Some(file) => opens(file),
        None => ["/var/log/journal", "/run/log/journal"]
            .iter()
            .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
            .any(|machine| opens(&machine.path().join("system.journal"))),
    }
}

/// The `.journal` files in `dir` and the directories below it (one level).
fn journal_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let entries = || std::fs::read_dir(dir).into_iter().flatten().flatten();
    let below = entries()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten());
    entries()
        .chain(below)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect()
}
