//! Keys restricted by address (`from=`), judged by a real sshd: a login from a loopback address
//! the key is not allowed is refused, one from an allowed address is let in, and tightening a
//! key closes a door that was open.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use crate::helpers::{App, spawn_app_in};
use crate::sshd_login::{Sshd, assert_logs_in, test_dir, write_private};

pub(crate) fn refused_from(sshd: &Sshd, source: &str, key: &Path) {
    let out = sshd.login_from(source, key, None);
    assert!(
        !out.status.success(),
        "{} logged in from {source}",
        key.display()
    );
    // Refused for its address, not for anything else.
    let log = sshd.log();
    assert!(
        log.contains("not from a permitted host"),
        "sshd log:\n{log}"
    );
}

pub(crate) fn logs_in_from(sshd: &Sshd, source: &str, key: &Path) {
    let out = sshd.login_from(source, key, None);
    assert!(
        out.status.success(),
        "login from {source} failed: {}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        sshd.log()
    );
}

/// Generates a key through the API with `body`, writes its private half to `dir/name`.
pub(crate) fn generate(
    app: &App,
    dir: &Path,
    name: &str,
    body: &str,
) -> (std::path::PathBuf, serde_json::Value) {
    let reply = app.post_json("/api/keys/generate", body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let made = reply.json();
    let path = dir.join(name);
    write_private(&path, made["private_key"].as_str().unwrap(), 0o600);
    (path, made)
}

pub(crate) fn start(dir: &Path, args: &[&str]) -> (std::path::PathBuf, Sshd, App) {
    let home = dir.join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(dir, &home);
    let app = spawn_app_in(&home, dir, args, &[]);
    (home, sshd, app)
}

#[test]
fn a_key_restricted_to_one_address_logs_in_only_from_there_and_tightening_closes_a_door() {
    let dir = test_dir();
    let (home, sshd, app) = start(dir.path(), &[]);

    let (only_two, made) = generate(
        &app,
        dir.path(),
        "only-two",
        r#"{"allowed_from": "127.0.0.2"}"#,
    );
    assert_eq!(made["info"]["allowed_from"], "127.0.0.2");
    refused_from(&sshd, "127.0.0.1", &only_two);
    logs_in_from(&sshd, "127.0.0.2", &only_two);

    // A key from anywhere works from both, until it is tightened: then the door is closed.
    let (anywhere, made) = generate(&app, dir.path(), "anywhere", "{}");
    assert_eq!(made["info"].get("allowed_from"), None);
    logs_in_from(&sshd, "127.0.0.1", &anywhere);
    logs_in_from(&sshd, "127.0.0.3", &anywhere);
    let fingerprint = made["info"]["fingerprint"].as_str().unwrap();
    let body = serde_json::json!({ "fingerprint": fingerprint, "allowed_from": "127.0.0.0/30, !127.0.0.1" });
    let reply = app.post_json("/api/keys/restrict", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["allowed_from"], "127.0.0.0/30,!127.0.0.1");
    refused_from(&sshd, "127.0.0.1", &anywhere);
    logs_in_from(&sshd, "127.0.0.2", &anywhere);
    refused_from(&sshd, "127.0.0.5", &anywhere);

    // Never widened: an address outside what it has is refused with a sentence, and a
    // malformed network (which would make sshd refuse the key from everywhere) too; the file
    // is untouched.
    let file = home.join(".ssh/authorized_keys");
    let before = fs::read(&file).unwrap();
    for (allowed_from, says) in [
        ("127.0.0.9", "none of 127.0.0.9 lies within"),
        ("127.0.0.1/8", "the network is 127.0.0.0/8"),
        // An attempt to close the quote and add options of its own.
        (
            r#"127.0.0.2",command="touch /pwned"#,
            "a pattern is an address, a network",
        ),
        ("127.0.0.2,restrict=x", "holds '='"),
    ] {
        let body = serde_json::json!({ "fingerprint": fingerprint, "allowed_from": allowed_from });
        let reply = app.post_json("/api/keys/restrict", &body.to_string());
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains(says), "{}", reply.body);
    }
    let reply = app.post_json("/api/keys/generate", r#"{"allowed_from": "127.0.0.1/8"}"#);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(fs::read(&file).unwrap(), before);
    logs_in_from(&sshd, "127.0.0.2", &only_two);
}

#[test]
fn the_sites_from_and_the_persons_combine_into_one_that_sshd_reads() {
    let dir = test_dir();
    let site = r#"--key-options=restrict,pty,from="127.0.0.0/29""#;
    let lists = "--from-list=lab=127.0.0.2,127.0.0.3";
    let (home, sshd, app) = start(dir.path(), &[site, lists]);

    // The site's own from= alone: in its range only.
    let (plain, _) = generate(&app, dir.path(), "plain", "{}");
    logs_in_from(&sshd, "127.0.0.6", &plain);
    refused_from(&sshd, "127.0.0.9", &plain);

    // The site's list, chosen by name, within the site's from=: one from= on the line, which
    // sshd reads (a line with two is skipped, and the key would not log in at all).
    let (lab, made) = generate(&app, dir.path(), "lab", r#"{"allowed_from": "lab"}"#);
    assert_eq!(made["info"]["allowed_from"], "127.0.0.2,127.0.0.3");
    logs_in_from(&sshd, "127.0.0.3", &lab);
    refused_from(&sshd, "127.0.0.6", &lab);
    let file = fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap();
    let line = file.lines().last().unwrap();
    assert_eq!(line.matches("from=").count(), 1, "{line}");
    let list = app.get_authorized("/api/keys/list").json();
    assert_eq!(list["from_lists"][0]["name"], "lab");

    // Wider than the site's: only what both allow.
    let (wide, made) = generate(
        &app,
        dir.path(),
        "wide",
        r#"{"allowed_from": "127.0.0.0/8"}"#,
    );
    assert_eq!(made["info"]["allowed_from"], "127.0.0.0/29");
    refused_from(&sshd, "127.0.0.9", &wide);
    assert_logs_in(&sshd, &wide, None);
}

#[test]
fn at_the_terminal_a_key_is_made_restricted_and_tightened_and_bad_patterns_change_nothing() {
    use crate::terminal::{keys, text};

    let dir = test_dir();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(dir.path(), &home);
    let key = dir.path().join("id_ci");
    let key_arg = key.to_str().unwrap();

    let made = keys(
        &home,
        &[
            "generate",
            "-f",
            key_arg,
            "--no-passphrase",
            "--from",
            "127.0.0.0/30,!127.0.0.3",
            "--json",
        ],
        b"",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let info: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(info["allowed_from"], "127.0.0.0/30,!127.0.0.3");
    let fingerprint = info["fingerprint"].as_str().unwrap();
    logs_in_from(&sshd, "127.0.0.1", &key);
    refused_from(&sshd, "127.0.0.3", &key);

    let file = home.join(".ssh/authorized_keys");
    let before = fs::read(&file).unwrap();
    for (args, says) in [
        (vec!["--from", "127.0.0.1/8"], "the network is 127.0.0.0/8"),
        (vec!["--from", "127.0.1.1"], "none of 127.0.1.1 lies within"),
        (vec!["--from", "anywhere"], "to remove a restriction"),
        (vec!["--expires-on", "2020-01-01"], "must come after today"),
        (vec!["--expires-on", "next week"], "is not a day like"),
        (
            vec!["--from", "ci.example.org"],
            "none of ci.example.org lies within",
        ),
    ] {
        let mut all = vec!["restrict", fingerprint];
        all.extend(args.iter());
        let out = keys(&home, &all, b"");
        assert_eq!(out.status.code(), Some(1), "{all:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{all:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(fs::read(&file).unwrap(), before, "{all:?} changed the file");
    }
    let nothing = keys(&home, &["restrict", fingerprint], b"");
    assert_eq!(nothing.status.code(), Some(2), "{}", text(&nothing.stderr));

    let out = keys(
        &home,
        &[
            "restrict",
            fingerprint,
            "--from",
            "127.0.0.2",
            "--expires-on",
            "2099-12-31",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("logs in only from 127.0.0.2,!127.0.0.3; it expires 2099-12-31"),
        "{}",
        text(&out.stdout)
    );
    refused_from(&sshd, "127.0.0.1", &key);
    logs_in_from(&sshd, "127.0.0.2", &key);
    let listed = keys(&home, &["list"], b"");
    assert!(
        text(&listed.stdout).contains("(from 127.0.0.2,!127.0.0.3)"),
        "{}",
        text(&listed.stdout)
    );

    // A host name warns that sshd matches it only with UseDNS yes.
    let laptop = dir.path().join("laptop");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f"])
        .arg(&laptop)
        .status()
        .unwrap();
    assert!(made.success());
    let public = fs::read(laptop.with_extension("pub")).unwrap();
    let out = keys(&home, &["add", "-", "--from", "*.example.org"], &public);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("UseDNS yes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_address_sshd_reads_in_hexadecimal_cannot_pass_the_sites_pattern() {
    let dir = test_dir();
    let site = r#"--key-options=restrict,pty,from="127.0.0.???""#;
    let (_, sshd, app) = start(dir.path(), &[site]);
    // sshd reads 127.0.0.0x2 as the address 127.0.0.2, outside the site's 127.0.0.???.
    let reply = app.post_json("/api/keys/generate", r#"{"allowed_from": "127.0.0.0x2"}"#);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.contains("short, hexadecimal or octal form"),
        "{}",
        reply.body
    );
    let (inside, made) = generate(
        &app,
        dir.path(),
        "inside",
        r#"{"allowed_from": "127.0.0.123"}"#,
    );
    assert_eq!(made["info"]["allowed_from"], "127.0.0.123");
    logs_in_from(&sshd, "127.0.0.123", &inside);
    refused_from(&sshd, "127.0.0.2", &inside);
}

/// A copy of a key in a line keyhatch did not write, hidden as sshd still reads it: after a NUL
/// (where sshd stops reading the line), or with white space inside its base64 (which sshd's
/// decoder skips: red team). Each lets the key in from anywhere, so revoke and restrict refuse
/// rather than say done.
#[test]
fn a_hidden_copy_of_a_key_is_seen_so_revoke_and_restrict_are_not_taken_for_done() {
    use std::io::Write as _;

    let dir = test_dir();
    let (home, sshd, app) = start(dir.path(), &[]);
    // After the base64, in it, or as a key sshd reads in another form.
    let hide = [
        "a NUL",
        "a vertical tab",
        "a form feed",
        "a carriage return",
        "the type's short name in the blob",
        "a NUL after the type's name in the blob",
    ];
    for (others, how) in (1..).zip(hide) {
        let (key, made) = generate(&app, dir.path(), how, r#"{"allowed_from": "127.0.0.9"}"#);
        let public = made["info"]["public_key"].as_str().unwrap();
        let mut fields = public.split(' ');
        let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
        let copy = match how {
            "a NUL" => format!("{kind} {blob}\0"),
            "a vertical tab" => format!("{kind} {}\x0b{}", &blob[..30], &blob[30..]),
            "a form feed" => format!("{kind} {}\x0c{}", &blob[..9], &blob[9..]),
            "a carriage return" => format!("{kind} {}\r{}", &blob[..60], &blob[60..]),
            // `ssh-ed25519` inside written `ED25519` (as sshd 9.2 reads it too), or with a NUL
            // after it (sshd reads it as a C string).
            _ => {
                let bytes = BASE64_STANDARD.decode(blob).unwrap();
                let name: &[u8] = match how {
                    "the type's short name in the blob" => b"\0\0\0\x07ED25519",
                    _ => b"\0\0\0\x0cssh-ed25519\0",
                };
                let renamed = [name, &bytes[15..]].concat();
                format!("{kind} {}", BASE64_STANDARD.encode(renamed))
            }
        };
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(home.join(".ssh/authorized_keys"))
            .unwrap();
        writeln!(file, "{copy} laptop").unwrap();
        drop(file);
        logs_in_from(&sshd, "127.0.0.2", &key);

        let list = app.get_authorized("/api/keys/list").json();
        assert_eq!(list["other_keys"], others, "{how}: {list}");
        assert_eq!(
            list["unreadable_lines"],
            serde_json::json!([]),
            "{how}: {list}"
        );
        let fingerprint = made["info"]["fingerprint"].as_str().unwrap();
        let body = serde_json::json!({ "fingerprint": fingerprint, "allowed_from": "127.0.0.9" });
        let reply = app.post_json("/api/keys/restrict", &body.to_string());
        assert_eq!(reply.status, 403, "{how}: {}", reply.body);
        assert!(
            reply.body.contains("a line keyhatch did not write"),
            "{how}: {}",
            reply.body
        );
        let body = serde_json::json!({ "fingerprint": fingerprint });
        let reply = app.post_json("/api/keys/revoke", &body.to_string());
        assert_eq!(reply.status, 403, "{how}: {}", reply.body);
    }
    // A copy in authorized_keys2, which sshd reads too (red team): the key logs in from
    // anywhere, and revoke and restrict refuse, naming the file.
    let (key, made) = generate(
        &app,
        dir.path(),
        "beside",
        r#"{"allowed_from": "127.0.0.9"}"#,
    );
    let public = made["info"]["public_key"].as_str().unwrap();
    let bare: Vec<&str> = public.split(' ').take(2).collect();
    let beside = home.join(".ssh/authorized_keys2");
    fs::write(&beside, format!("{} laptop\n", bare.join(" "))).unwrap();
    logs_in_from(&sshd, "127.0.0.2", &key);
    let fingerprint = made["info"]["fingerprint"].as_str().unwrap();
    let body = serde_json::json!({ "fingerprint": fingerprint, "allowed_from": "127.0.0.9" });
    let restrict = app.post_json("/api/keys/restrict", &body.to_string());
    let body = serde_json::json!({ "fingerprint": fingerprint });
    let revoke = app.post_json("/api/keys/revoke", &body.to_string());
    for reply in [restrict, revoke] {
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(reply.body.contains("authorized_keys2"), "{}", reply.body);
    }
    // Gone from there, the revoke goes through, and sshd no longer lets the key in.
    fs::write(&beside, b"").unwrap();
    let reply = app.post_json("/api/keys/revoke", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    refused_from(&sshd, "127.0.0.9", &key);
}
