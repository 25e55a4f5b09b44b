//! "Last used": keyhatch reads sshd's log (a file sshd writes with `-E`, or journal files) and
//! shows when and from where each key last logged in.
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::helpers::{App, spawn_app_in, wait_for};
use crate::sshd_login::{Sshd, test_dir, write_private};

/// The list's key with `fingerprint`.
fn listed(app: &App, fingerprint: &str) -> serde_json::Value {
    let list = app.get_authorized("/api/keys/list").json();
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["fingerprint"] == fingerprint)
        .cloned()
        .unwrap_or_else(|| panic!("{fingerprint} is not listed: {list}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn a_login_sshd_logs_shows_on_the_page_within_seconds_and_a_key_never_used_says_so() {
    let dir = test_dir();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(dir.path(), &home);
    let log = sshd.log_file();
    let started = now();
    let app = spawn_app_in(
        &home,
        dir.path(),
        &[&format!("--sshd-log={}", log.display())],
        &[],
    );

    let used = app.generate(None);
    let unused = app.generate(None);
    let used_print = used["info"]["fingerprint"].as_str().unwrap().to_owned();
    let unused_print = unused["info"]["fingerprint"].as_str().unwrap().to_owned();
    let key = dir.path().join("used");
    write_private(&key, used["private_key"].as_str().unwrap(), 0o600);

    // Read from the moment keyhatch started: the day shown is that day.
    wait_for(
        || {
            app.get_authorized("/api/keys/list")
                .json()
                .get("usage")
                .is_some()
        },
        "the log found readable",
    );
    let list = app.get_authorized("/api/keys/list").json();
    let since = list["usage"]["since"].as_str().unwrap().to_owned();
    assert_eq!(since, page_day(started), "{list}");
    assert_eq!(listed(&app, &used_print).get("last_used"), None);

    let out = sshd.login_from("127.0.0.2", &key, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        || listed(&app, &used_print).get("last_used").is_some(),
        "the login on the list",
    );
    let last = &listed(&app, &used_print)["last_used"];
    assert_eq!(last["from"], "127.0.0.2");
    assert!(
        (now() - 10..=now()).contains(&last["at"].as_i64().unwrap()),
        "{last}"
    );
    assert_eq!(listed(&app, &unused_print).get("last_used"), None);

    // The page says it in words.
    let page = app.get_authorized("/ssh-keys").body;
    assert!(page.contains("Last used just now from 127.0.0.2"), "{page}");
    let since_day = since;
    assert!(
        page.contains(&format!("Not used since {since_day}")),
        "{page}"
    );

    // A log that is rotated away is followed into the new file.
    fs::rename(&log, log.with_extension("old")).unwrap();
    let forged = format!(
        "Accepted publickey for {} from 192.0.2.9 port 1 ssh2: ED25519 {unused_print}\n",
        crate::sshd_login::user()
    );
    fs::write(&log, forged).unwrap();
    wait_for(
        || listed(&app, &unused_print).get("last_used").is_some(),
        "a line of the new log on the list",
    );
    assert_eq!(
        listed(&app, &unused_print)["last_used"]["from"],
        "192.0.2.9"
    );
}

/// `YYYY-MM-DD` of a time in seconds since 1970, in UTC.
fn page_day(at: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{at}"), "+%F"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Writes `entries` (export format) into the journal file `file`, as journal-remote receives
/// them from a node.
fn journal(file: &Path, entries: &str) {
    let mut remote = Command::new("/lib/systemd/systemd-journal-remote")
        .arg("-o")
        .arg(file)
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-journal-remote (Debian package systemd-journal-remote) is installed");
    remote
        .stdin
        .take()
        .unwrap()
        .write_all(entries.as_bytes())
        .unwrap();
    assert!(remote.wait().unwrap().success());
}

/// One journal entry in export format, as journald would mark it.
fn entry(at: i64, seq: u64, uid: u32, comm: &str, message: &str) -> String {
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .replace('-', "");
    format!(
        "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={seq}\n_BOOT_ID={boot}\n_UID={uid}\n_COMM={comm}\nMESSAGE={message}\n\n",
        at * 1_000_000
    )
}

#[test]
fn journal_files_are_read_incrementally_and_only_roots_sshd_counts() {
    let dir = test_dir();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let file = dir.path().join("remote.journal");
    let user = crate::sshd_login::user();
    let probe = spawn_app_in(&home, dir.path(), &[], &[]);
    let key = probe.generate(None);
    let print = key["info"]["fingerprint"].as_str().unwrap().to_owned();
    drop(probe);

    let week_ago = now() - 7 * 86_400;
    let accepted = |from: &str| {
        format!("Accepted publickey for {user} from {from} port 50000 ssh2: ED25519 {print}")
    };
    journal(
        &file,
        &(entry(week_ago, 1, 0, "sshd", &accepted("10.2.3.4"))
            // Another account's process saying the same is no login.
            + &entry(week_ago + 60, 2, 1000, "sshd", &accepted("6.6.6.6"))
            + &entry(week_ago + 61, 3, 0, "bash", &accepted("6.6.6.7"))
            // Root's sshd logging words a client sent before any login.
            + &entry(
                week_ago + 62,
                4,
                0,
                "sshd",
                &format!("Received disconnect from 192.0.2.66 port 1:11: {} [preauth]", accepted("6.6.6.8")),
            )),
    );
    let app = spawn_app_in(
        &home,
        dir.path(),
        &[&format!("--sshd-log=journal:{}", file.display())],
        &[],
    );
    wait_for(
        || listed(&app, &print).get("last_used").is_some(),
        "the journal's login on the list",
    );
    let last = &listed(&app, &print)["last_used"];
    assert_eq!(
        (last["from"].as_str(), last["at"].as_i64()),
        (Some("10.2.3.4"), Some(week_ago))
    );
    let list = app.get_authorized("/api/keys/list").json();
    assert!(
        list["usage"]["since"].as_str().unwrap() <= page_day(week_ago).as_str(),
        "{list}"
    );
    let page = app.get_authorized("/ssh-keys").body;
    assert!(
        page.contains("Last used 7 days ago from 10.2.3.4"),
        "{page}"
    );

    // A newer entry is read where the last read stopped.
    journal(
        &file,
        &entry(now() - 30, 5, 0, "sshd-session", &accepted("10.9.9.9")),
    );
    wait_for(
        || listed(&app, &print)["last_used"]["from"] == "10.9.9.9",
        "the journal's new entry on the list",
    );
}

#[test]
fn without_a_readable_log_no_key_is_said_to_be_unused() {
    let dir = test_dir();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let log = dir.path().join("later/sshd.log");
    let setting = format!("--sshd-log={}", log.display());
    let app = spawn_app_in(&home, dir.path(), &[&setting], &[]);
    let made = app.generate(None);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let list = app.get_authorized("/api/keys/list").json();
    assert_eq!(list.get("usage"), None, "{list}");
    let page = app.get_authorized("/ssh-keys").body;
    assert!(!page.contains("Not used since"), "{page}");

    // The log appears (sshd started later): it is read from its start.
    let print = made["info"]["fingerprint"].as_str().unwrap().to_owned();
    fs::create_dir(log.parent().unwrap()).unwrap();
    let line = format!(
        "Accepted publickey for {} from 192.0.2.4 port 1 ssh2: ED25519 {print}\r\n",
        crate::sshd_login::user()
    );
    fs::write(&log, line).unwrap();
    wait_for(
        || listed(&app, &print).get("last_used").is_some(),
        "the first line of a log that appeared",
    );
}
