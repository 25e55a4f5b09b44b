//! `keyhatch admin …`, the site's offboarding, run as root on the real binary against throwaway
//! accounts (removed even when a test fails): only keyhatch's lines go, every other byte stays,
//! files are reached only through each account's helper, and each removal is audited.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, PrivateKey};

use crate::helpers::{Account, ended_within};

/// A fresh ed25519 key's fingerprint and its line, with `options` (none when empty) and
/// `comment`.
fn key_line(options: &str, comment: &str) -> (String, String) {
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    key.set_comment(comment);
    let public = key.public_key();
    let line = public.to_openssh().unwrap();
    let line = if options.is_empty() {
        line
    } else {
        format!("{options} {line}")
    };
    (public.fingerprint(HashAlg::Sha256).to_string(), line)
}

/// Writes `contents` as `account`'s `~/.ssh/authorized_keys`, owned by them as sshd wants.
fn give_keys(account: &Account, contents: &[u8]) -> PathBuf {
    let ssh = account.home().join(".ssh");
    fs::create_dir_all(&ssh).unwrap();
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
    let file = ssh.join("authorized_keys");
    fs::write(&file, contents).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    for path in [&ssh, &file] {
        chown(path, Some(account.uid), Some(account.gid)).unwrap();
    }
    file
}

/// `contents` without the lines holding any of `lines` (each a whole line, its `\n` too).
fn without(contents: &str, lines: &[&str]) -> String {
    contents
        .split_inclusive('\n')
        .filter(|l| !lines.contains(&l.trim_end_matches('\n')))
        .collect()
}

/// A scratch directory every account can search (homes go in it), and the audit log's path.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("audit.log");
    (dir, log)
}

/// Runs `keyhatch admin ARGS` as root with a site's settings, auditing to `log`, as the
/// administrator `bob` under sudo.
fn admin(log: &Path, args: &[&str]) -> Output {
    site(Command::new(env!("CARGO_BIN_EXE_keyhatch")), log)
        .arg("admin")
        .args(args)
        .output()
        .unwrap()
}

/// `command` with a site's settings in its environment, auditing to `log`, as the
/// administrator `bob` under sudo.
fn site(mut command: Command, log: &Path) -> Command {
    command
        .env("KEYHATCH_CONFIG", "none")
        .env("KEYHATCH_MODE", "site")
        .env("KEYHATCH_PUBLIC_URL", "https://keys.example.org")
        .env("KEYHATCH_PROXY_USER", "www-data")
        .env("KEYHATCH_AUDIT_LOG", log)
        .env("SUDO_USER", "bob")
        .env_remove("KEYHATCH_TAG");
    command
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The audit log's lines.
fn audited(log: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn list_and_revoke_all_take_keyhatchs_lines_and_leave_every_other_byte() {
    let (_dir, log) = scratch();
    let alice = Account::create_person();
    let (fp_a, ours_a) = key_line(r#"restrict,expiry-time="20200101""#, "fileglancer laptop");
    let (fp_b, ours_b) = key_line("restrict", "fileglancer");
    let (_, theirs) = key_line("", "alice@desktop");
    let (_, theirs_too) = key_line(r#"from="10.0.0.0/8""#, "fileglancerx not ours");
    // A comment, a blank line, CRLF, and no newline at the end: all kept as they are.
    let contents = format!("# alice's keys\n{theirs}\r\n{ours_a}\n\n  {theirs_too}\n{ours_b}");
    let file = give_keys(&alice, contents.as_bytes());

    let out = admin(&log, &["list", "--user", &alice.name, "--json"]);
    assert!(out.status.success(), "{}", said(&out));
    let list = json(&out);
    let listed: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [fp_a.as_str(), fp_b.as_str()]);
    assert_eq!(list["other_keys"], 2);

    let out = admin(
        &log,
        &["revoke", "--user", &alice.name, "--all", "--dry-run"],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains(&format!("Would revoke {fp_a}")),
        "{}",
        said(&out)
    );
    assert_eq!(
        fs::read(&file).unwrap(),
        contents.as_bytes(),
        "a dry run writes nothing"
    );

    let out = admin(&log, &["revoke", "--user", &alice.name, "--all", "--json"]);
    assert!(out.status.success(), "{}", said(&out));
    let removed = json(&out)["removed"].as_array().unwrap().len();
    assert_eq!(removed, 2);
    let after = fs::read_to_string(&file).unwrap();
    assert_eq!(after, without(&contents, &[&ours_a, &ours_b]));
    assert_eq!(
        after,
        format!("# alice's keys\n{theirs}\r\n\n  {theirs_too}\n")
    );

    let lines = audited(&log);
    let of = |outcome: &str| -> Vec<&str> {
        lines
            .iter()
            .filter(|l| l["action"] == "admin-revoke" && l["outcome"] == outcome)
            .map(|l| l["fingerprint"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        of("dry run: would be removed"),
        [fp_a.as_str(), fp_b.as_str()]
    );
    assert_eq!(of("ok"), [fp_a.as_str(), fp_b.as_str()]);
    assert!(
        lines
            .iter()
            .all(|l| l["actor"] == "admin" && l["login"] == "bob" && l["account"] == *alice.name),
        "{lines:?}"
    );
}

#[test]
fn sweep_removes_only_keys_sshd_here_refuses_and_a_dry_run_nothing() {
    let (_dir, log) = scratch();
    let carol = Account::create_person();
    let (gone, expired) = key_line(r#"restrict,expiry-time="20200101""#, "fileglancer old");
    let (gone_utc, expired_utc) = key_line(r#"expiry-time="202001011200Z""#, "fileglancer z");
    let (_, later) = key_line(r#"restrict,expiry-time="20990101""#, "fileglancer later");
    let (_, endless) = key_line("restrict", "fileglancer");
    let (_, foreign) = key_line(r#"expiry-time="20200101""#, "carol@laptop");
    let contents = format!("{expired}\n{foreign}\n{later}\n{expired_utc}\n{endless}\n");
    let file = give_keys(&carol, contents.as_bytes());

    let out = admin(
        &log,
        &[
            "sweep",
            "--expired",
            "--users",
            &carol.name,
            "--dry-run",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", said(&out));
    let answer = json(&out);
    assert_eq!(answer["dry_run"], true);
    let would: Vec<&str> = answer["accounts"][0]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(would, [gone.as_str(), gone_utc.as_str()]);
    assert_eq!(fs::read(&file).unwrap(), contents.as_bytes());

    let out = admin(&log, &["sweep", "--expired", "--users", &carol.name]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("Removed 2 expired key(s) from 1 account(s)"),
        "{}",
        said(&out)
    );
    let after = fs::read_to_string(&file).unwrap();
    assert_eq!(after, without(&contents, &[&expired, &expired_utc]));
    assert_eq!(after, format!("{foreign}\n{later}\n{endless}\n"));

    let sweeps: Vec<(String, String)> = audited(&log)
        .iter()
        .filter(|l| l["action"] == "admin-sweep")
        .map(|l| (l["fingerprint"].to_string(), l["outcome"].to_string()))
        .collect();
    assert_eq!(sweeps.len(), 4, "{sweeps:?}");
    assert_eq!(sweeps[0].1, "\"dry run: would be removed\"");
    assert_eq!(sweeps[3], (format!("\"{gone_utc}\""), "\"ok\"".to_owned()));
}

/// The attack: a person points their keys file (or `~/.ssh`) at a root-owned file that holds an
/// expired keyhatch key, hoping root's sweep or revoke rewrites it for them. The helper, as
/// them, neither writes through the link nor reads what they could not: the account is reported
/// failed and root's file is untouched.
#[test]
fn a_keys_file_or_ssh_dir_linked_to_roots_files_gains_nothing() {
    let (dir, log) = scratch();
    let roots = dir.path().join("root-ssh");
    fs::create_dir(&roots).unwrap();
    let (_, expired) = key_line(r#"expiry-time="20200101""#, "fileglancer planted");
    let (_, foreign) = key_line("", "root@node");
    let secret = format!("{foreign}\n{expired}\n");
    let target = roots.join("authorized_keys");
    fs::write(&target, &secret).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();

    let dave = Account::create_person();
    let ssh = dave.home().join(".ssh");
    fs::create_dir(&ssh).unwrap();
    chown(&ssh, Some(dave.uid), Some(dave.gid)).unwrap();
    symlink(&target, ssh.join("authorized_keys")).unwrap();
    let erin = Account::create_person();
    symlink(&roots, erin.home().join(".ssh")).unwrap();

    for who in [&dave.name, &erin.name] {
        let out = admin(&log, &["sweep", "--expired", "--users", who]);
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert!(
            said(&out).contains(&format!("{who}: failed:")),
            "{}",
            said(&out)
        );
        assert!(said(&out).contains("symbolic link"), "{}", said(&out));
        let out = admin(&log, &["revoke", "--user", who, "--all"]);
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert_eq!(fs::read_to_string(&target).unwrap(), secret);
    }
    assert_eq!(
        fs::read_dir(&roots).unwrap().count(),
        1,
        "nothing was made beside it"
    );
    assert!(
        audited(&log).iter().all(|l| l["outcome"] != "ok"),
        "{:?}",
        audited(&log)
    );
}

/// A home nobody but root can enter, then an account with an expired key: the first is
/// reported with its reason, the second swept, and the exit status says one failed.
/// A home taken from its account for a test, given back (owner and mode 0700) when dropped.
struct GivenBack(PathBuf, u32, u32);

impl Drop for GivenBack {
    fn drop(&mut self) {
        let _ = chown(&self.0, Some(self.1), Some(self.2));
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700));
    }
}

#[test]
fn an_unreadable_home_is_reported_and_the_sweep_goes_on() {
    let (_dir, log) = scratch();
    let locked = Account::create_person();
    let home = locked.home();
    // Given back before the account goes (userdel -r removes only a home its account owns),
    // even when the test fails.
    let _given_back = GivenBack(home.clone(), locked.uid, locked.gid);
    chown(&home, Some(0), Some(0)).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o000)).unwrap();
    let frank = Account::create_person();
    let (_, expired) = key_line(r#"expiry-time="20200101""#, "fileglancer old");
    let (_, foreign) = key_line("", "frank@laptop");
    let file = give_keys(&frank, format!("{expired}\n{foreign}\n").as_bytes());

    // And a name with no account (red team: a failure before any helper went unaudited).
    let users = format!("{},{},khnosuchaccount", locked.name, frank.name);
    let out = admin(&log, &["sweep", "--expired", "--users", &users]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let text = said(&out);
    assert!(
        text.contains(&format!("{}: failed:", locked.name)),
        "{text}"
    );
    assert!(text.contains("ermission denied"), "{text}");
    assert!(text.contains("khnosuchaccount: failed:"), "{text}");
    assert!(
        text.contains("1 account(s) gone through, 0 skipped, 2 failed"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), format!("{foreign}\n"));
    for account in [locked.name.as_str(), "khnosuchaccount"] {
        let failed = audited(&log)
            .into_iter()
            .filter(|l| l["account"] == account)
            .filter(|l| l["outcome"].as_str().unwrap().starts_with("failed: "))
            .count();
        assert_eq!(failed, 1, "{account}'s failure is audited");
    }
}

#[test]
fn report_json_counts_each_accounts_keys_the_oldest_expired_and_unending() {
    let (dir, log) = scratch();
    let homes = dir.path().join("homes");
    fs::create_dir(&homes).unwrap();
    fs::set_permissions(&homes, fs::Permissions::from_mode(0o755)).unwrap();
    let gina = Account::create_person_in(&homes);
    let hank = Account::create_person_in(&homes);
    fs::create_dir(homes.join("lost+found")).unwrap();
    let (first, oldest) = key_line(r#"expiry-time="20200101""#, "fileglancer first");
    let (_, later) = key_line(r#"expiry-time="20990101""#, "fileglancer");
    let (endless_fp, endless) = key_line("restrict", "fileglancer ci");
    let (_, foreign) = key_line("", "gina@laptop");
    let contents = format!("{foreign}\n{oldest}\n{later}\n{endless}\n");
    let file = give_keys(&gina, contents.as_bytes());

    let homes_arg = homes.to_str().unwrap();
    let out = admin(
        &log,
        &["report", "--homes", homes_arg, "--json", "--jobs", "1"],
    );
    assert!(out.status.success(), "{}", said(&out));
    let report = json(&out);
    let rows = report["accounts"].as_array().unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["account"] == name)
            .unwrap_or_else(|| panic!("{name} in {report}"))
    };
    let g = row(&gina.name);
    assert_eq!(g["keys"], 3);
    assert_eq!(g["oldest"]["fingerprint"], first.as_str());
    assert_eq!(g["oldest"]["label"], "first");
    assert_eq!(g["expired"].as_array().unwrap().len(), 1);
    assert_eq!(g["expired"][0]["fingerprint"], first.as_str());
    assert_eq!(g["expired"][0]["expires"], "2020-01-01");
    assert_eq!(g["no_expiry"].as_array().unwrap().len(), 1);
    assert_eq!(g["no_expiry"][0]["fingerprint"], endless_fp.as_str());
    let h = row(&hank.name);
    assert_eq!((h["keys"].as_u64(), h["oldest"].is_null()), (Some(0), true));
    let skipped = row(homes.join("lost+found").to_str().unwrap());
    assert!(
        skipped["skipped"].as_str().unwrap().contains("root's"),
        "{skipped}"
    );
    assert_eq!(
        fs::read(&file).unwrap(),
        contents.as_bytes(),
        "a report writes nothing"
    );
    assert!(audited(&log).is_empty(), "a report is no action");

    let out = admin(&log, &["report", "--homes", homes_arg]);
    assert!(out.status.success(), "{}", said(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table.lines().find(|l| l.starts_with(&gina.name)).unwrap();
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&columns[1..5], ["3", "1", "1", first.as_str()], "{table}");
}

#[test]
fn admin_refuses_without_root_site_settings_a_known_account_all_expired_or_accounts() {
    let (_dir, log) = scratch();
    let code = |out: Output| (out.status.code(), said(&out));
    let (status, text) = code(admin(&log, &["revoke", "--user", "root"]));
    assert_eq!(status, Some(2), "{text}");
    assert!(text.contains("revoke needs --all"), "{text}");
    let (status, text) = code(admin(&log, &["sweep", "--users", "root"]));
    assert_eq!(status, Some(2), "{text}");
    assert!(text.contains("sweep needs --expired"), "{text}");
    let (status, text) = code(admin(&log, &["report"]));
    assert_eq!(status, Some(2), "{text}");
    assert!(text.contains("SSSD"), "{text}");
    let (status, text) = code(admin(&log, &["list", "--user", "khtest-nobody-here"]));
    assert_eq!(status, Some(1), "{text}");
    assert!(text.contains("no account khtest-nobody-here"), "{text}");
    let (status, text) = code(admin(&log, &["revoke", "--user", "root", "--all"]));
    assert_eq!(status, Some(1), "{text}");
    assert!(text.contains("root's keys are not keyhatch's"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .args(["admin", "list", "--user", "root"])
        .env("KEYHATCH_CONFIG", "none")
        .env("KEYHATCH_MODE", "local")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("local mode"), "{}", said(&out));
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_keyhatch"))
        .args(["admin", "list", "--user", "root"])
        .env("KEYHATCH_CONFIG", "none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("runs as root"), "{}", said(&out));
}

/// Red team: the same key on a line keyhatch did not write and on keyhatch's: removing
/// keyhatch's line would not stop it, yet revoke and sweep said it was gone (and sshd let it in).
/// Also where the line hides the key with white space sshd skips, or is in `authorized_keys2`,
/// which sshd reads too (red team, both).
#[test]
fn a_key_a_foreign_line_also_holds_is_left_and_reported_as_still_let_in() {
    let (_dir, log) = scratch();
    let alice = Account::create_person();
    let beside = alice.home().join(".ssh/authorized_keys2");
    for place in ["in the file", "with white space", "beside"] {
        let (fp, ours) = key_line(r#"restrict,expiry-time="20200101""#, "fileglancer dup");
        let base64 = ours.split(' ').nth(2).unwrap();
        let (head, tail) = base64.split_at(20);
        let theirs = match place {
            "with white space" => format!("ssh-ed25519 {head}\x0b{tail} alice@laptop"),
            _ => format!("ssh-ed25519 {base64} alice@laptop"),
        };
        let contents = match place {
            "beside" => format!("{ours}\n"),
            _ => format!("{theirs}\n{ours}\n"),
        };
        let file = give_keys(&alice, contents.as_bytes());
        if place == "beside" {
            fs::write(&beside, format!("{theirs}\n")).unwrap();
            chown(&beside, Some(alice.uid), Some(alice.gid)).unwrap();
        }
        for args in [
            vec!["revoke", "--user", &alice.name, "--all"],
            vec!["sweep", "--expired", "--users", &alice.name],
        ] {
            let out = admin(&log, &args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{place}, {args:?}: {}",
                said(&out)
            );
            assert!(
                said(&out).contains("still let in by a line keyhatch did not write"),
                "{place}, {args:?}: {}",
                said(&out)
            );
            assert!(said(&out).contains(&fp), "{}", said(&out));
            assert_eq!(
                fs::read_to_string(&file).unwrap(),
                contents,
                "{place}, {args:?}"
            );
        }
        let failed: Vec<_> = audited(&log)
            .into_iter()
            .filter(|l| l["fingerprint"] == fp.as_str())
            .map(|l| l["outcome"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(failed.len(), 2, "{place}: {failed:?}");
        assert!(
            failed.iter().all(|o| o.starts_with("failed: left")),
            "{place}: {failed:?}"
        );
    }
}

/// Red team: the names of a `--users-file` that is a pipe were read once to check them and
/// were gone when the sweep read them again: nothing was swept, and the run said it was done.
#[test]
fn a_users_file_on_a_pipe_is_read_once_and_swept() {
    use std::io::Write;
    use std::process::Stdio;

    let (_dir, log) = scratch();
    let alice = Account::create_person();
    let (_, expired) = key_line(r#"restrict,expiry-time="20200101""#, "fileglancer old");
    let (_, theirs) = key_line("", "alice@laptop");
    let file = give_keys(&alice, format!("{theirs}\n{expired}\n").as_bytes());
    let mut child = site(Command::new(env!("CARGO_BIN_EXE_keyhatch")), &log)
        .args(["admin", "sweep", "--expired", "--users-file", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "# leaving today\n{}", alice.name).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("1 account(s) gone through"),
        "{}",
        said(&out)
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), format!("{theirs}\n"));
}

/// A stop asked for while the `--users-file` pipe has yet to be written stops the run: it
/// waited for the pipe's writer, a Ctrl-C or `timeout` notwithstanding.
#[test]
fn a_sweep_waiting_for_its_users_file_stops_when_asked() {
    use std::process::Stdio;

    let (_dir, log) = scratch();
    let mut child = site(Command::new(env!("CARGO_BIN_EXE_keyhatch")), &log)
        .args(["admin", "sweep", "--expired", "--users-file", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The pipe stays open, unwritten, until the end of the test.
    let _writer = child.stdin.take().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = ended_within(&mut child, std::time::Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(143),
        "still reading after 10 s"
    );
    let last = audited(&log).pop().unwrap_or_default();
    assert_eq!(last["action"], "admin-sweep", "{last}");
    assert!(
        last["outcome"]
            .as_str()
            .unwrap_or_default()
            .starts_with("unknown: "),
        "{last}"
    );
}

/// Red team: a label in a person's file with a bidirectional override and invisible characters
/// reached the administrator's terminal as it was, and could show a line as another.
#[test]
fn a_label_that_would_read_otherwise_reaches_the_terminal_escaped() {
    let (_dir, log) = scratch();
    let alice = Account::create_person();
    let (_, ours) = key_line(
        "restrict",
        "fileglancer a\u{202e}9902 seripxe( b\u{200b}\u{2066}x",
    );
    give_keys(&alice, format!("{ours}\n").as_bytes());
    for args in [
        vec!["list", "--user", &alice.name],
        vec!["revoke", "--user", &alice.name, "--all", "--dry-run"],
        vec!["report", "--users", &alice.name],
    ] {
        let out = admin(&log, &args);
        assert!(out.status.success(), "{args:?}: {}", said(&out));
        let text = said(&out);
        assert!(
            !text.contains(['\u{202e}', '\u{200b}', '\u{2066}']),
            "{args:?}: {text:?}"
        );
    }
}

/// Red team: with `--homes`, a directory owned by an account whose home is elsewhere (a second
/// account on the same uid, a directory handed to someone) was "skipped, gone through
/// already", or silently replaced by that account's own home.
#[test]
fn a_directory_that_is_not_its_owners_home_is_named_not_gone_through_as_another() {
    let (dir, log) = scratch();
    let homes = dir.path().join("homes");
    fs::create_dir(&homes).unwrap();
    fs::set_permissions(&homes, fs::Permissions::from_mode(0o755)).unwrap();
    let ivy = Account::create_person_in(&homes);
    let (_, expired) = key_line(r#"expiry-time="20200101""#, "fileglancer old");
    let own = give_keys(&ivy, format!("{expired}\n").as_bytes());
    // A directory of ivy's uid that is not ivy's home, holding an expired key of its own.
    let other = homes.join("zz-not-ivys-home");
    fs::create_dir_all(other.join(".ssh")).unwrap();
    let theirs = other.join(".ssh/authorized_keys");
    fs::write(&theirs, format!("{expired}\n")).unwrap();
    for path in [other.clone(), other.join(".ssh"), theirs.clone()] {
        chown(&path, Some(ivy.uid), Some(ivy.gid)).unwrap();
    }
    let homes_arg = homes.to_str().unwrap();
    let out = admin(&log, &["sweep", "--expired", "--homes", homes_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let text = said(&out);
    assert!(
        text.contains(&format!(
            "zz-not-ivys-home: failed: owned by uid {}, whose account {} has its home at",
            ivy.uid, ivy.name
        )),
        "{text}"
    );
    assert!(
        text.contains("1 account(s) gone through, 0 skipped, 1 failed"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&own).unwrap(), "");
    assert_eq!(fs::read_to_string(&theirs).unwrap(), format!("{expired}\n"));
}

/// A home that does not answer in time (here: a program of the person's own holds their file's
/// lock past `lock-timeout`) is reported, audited, and the run goes on to the next account.
#[test]
fn a_home_held_past_the_lock_timeout_is_reported_and_the_sweep_goes_on() {
    let (_dir, log) = scratch();
    let (jack, kate) = (Account::create_person(), Account::create_person());
    let (_, expired) = key_line(r#"expiry-time="20200101""#, "fileglancer old");
    let held = give_keys(&jack, format!("{expired}\n").as_bytes());
    let swept = give_keys(&kate, format!("{expired}\n").as_bytes());
    let _lock = jack.hold_lock(&held);
    let users = format!("{},{}", jack.name, kate.name);
    let started = std::time::Instant::now();
    let out = site(Command::new(env!("CARGO_BIN_EXE_keyhatch")), &log)
        .args(["admin", "sweep", "--expired", "--users", &users])
        .env("KEYHATCH_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let text = said(&out);
    assert!(text.contains(&format!("{}: failed:", jack.name)), "{text}");
    assert!(text.contains("locked by another program"), "{text}");
    assert!(
        text.contains("1 account(s) gone through, 0 skipped, 1 failed"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&held).unwrap(), format!("{expired}\n"));
    assert_eq!(fs::read_to_string(&swept).unwrap(), "");
    let failed = audited(&log)
        .into_iter()
        .filter(|l| l["account"] == *jack.name)
        .filter(|l| l["outcome"].as_str().unwrap().starts_with("failed: "))
        .count();
    assert_eq!(failed, 1, "the failure is audited");
}

/// On a terminal, a sweep shows how far it is (`n/total accounts`, rewritten in place) and
/// clears the line at the end; without one (every other test here), it shows nothing.
#[test]
fn on_a_terminal_the_sweep_shows_its_progress() {
    let (dir, log) = scratch();
    let (lena, mark) = (Account::create_person(), Account::create_person());
    let users = format!("{},{}", lena.name, mark.name);
    // util-linux script gives the command a terminal, and keeps what it wrote in `typescript`.
    let typescript = dir.path().join("typescript");
    let command = format!(
        "{} admin sweep --expired --dry-run --users {users}",
        env!("CARGO_BIN_EXE_keyhatch")
    );
    let out = site(Command::new("script"), &log)
        .args(["-q", "-e", "-c", &command])
        .arg(&typescript)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    let shown = fs::read_to_string(&typescript).unwrap();
    assert!(shown.contains("\r0/2 accounts"), "{shown:?}");
    assert!(shown.contains("\r2/2 accounts"), "{shown:?}");
    assert!(
        shown.contains("\r\u{1b}[K"),
        "the line is cleared: {shown:?}"
    );
    assert!(shown.contains("2 account(s) gone through"), "{shown:?}");
}

/// Red team (helper-73, helper-74): `keyhatch admin` stopped with its helper at work (a
/// Ctrl-C, `timeout`, a lost ssh session, a signal to its pid alone) left the helper to remove
/// the person's keys alone, with no audit line. It kills its helpers as it stops, and says so.
#[test]
fn an_admin_revoke_stopped_changes_nothing_behind_its_back_and_says_so() {
    use std::os::unix::process::CommandExt;

    let (_dir, log) = scratch();
    let alice = Account::create_person();
    let (_, ours) = key_line("restrict", "fileglancer");
    let contents = format!("{ours}\n");
    let file = give_keys(&alice, contents.as_bytes());
    // `keyhatch admin revoke --all` of alice's keys, through `wrapper` (as `nohup`), in a
    // process group of its own, once its helper waits for alice's lock.
    let revoking = |wrapper: &[&str]| {
        let program = [wrapper, &[env!("CARGO_BIN_EXE_keyhatch")]].concat();
        let started = site(Command::new(program[0]), &log)
            .args(&program[1..])
            .args(["admin", "revoke", "--user", &alice.name, "--all"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        started
    };
    for (signal, to_group, code) in [("INT", true, 130), ("TERM", false, 143), ("HUP", true, 129)] {
        let lock = alice.hold_lock(&file);
        let mut sweep = revoking(&[]);
        let to = match to_group {
            true => format!("-{}", sweep.id()),
            false => sweep.id().to_string(),
        };
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), "--", &to])
            .status();
        assert!(sent.unwrap().success());
        let status = sweep.wait().unwrap();
        drop(lock);
        std::thread::sleep(std::time::Duration::from_millis(700));
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            contents,
            "SIG{signal}: a key was removed after the command had stopped"
        );
        let last = audited(&log).pop().unwrap_or_default();
        assert_eq!(last["action"], "admin-revoke", "SIG{signal}: {last}");
        let outcome = last["outcome"].as_str().unwrap_or_default();
        let unknown =
            outcome.starts_with("unknown: keyhatch admin was stopped before it had written");
        // A Ctrl-C reaches the helper too, which may end first: then its failure is the line.
        let failed = to_group && signal == "INT" && outcome.starts_with("failed: ");
        assert!(unknown || failed, "SIG{signal}: {last}");
        let expected = if failed { Some(1) } else { Some(code) };
        assert_eq!(status.code(), expected, "SIG{signal}");
    }
    // Run under nohup, it outlives the lost session it was started to outlive (helper-75: the
    // hangup stopped it).
    let lock = alice.hold_lock(&file);
    let mut sweep = revoking(&["nohup"]);
    let group = format!("-{}", sweep.id());
    assert!(
        Command::new("kill")
            .args(["-HUP", "--", &group])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(lock);
    assert!(sweep.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&file).unwrap(), "");
    let last = audited(&log).pop().unwrap_or_default();
    assert_eq!(last["outcome"], "ok", "{last}");
}
