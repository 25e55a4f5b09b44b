//! `keyhatch keys …` at the terminal, driven as a person would: the binary, a temporary home,
//! no settings file; OpenSSH judges the keys it makes.
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::home_with;
use crate::sshd_login::{Sshd, test_dir};

/// `keyhatch --home HOME keys ARGS…` with `stdin` on standard input, no settings file and no
/// terminal.
pub(crate) fn keys(home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    keys_with(home, args, stdin, &[])
}

/// [`keys`] with extra environment variables.
pub(crate) fn keys_with(home: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    // setsid: a session of its own, so no controlling terminal, as in a script or in CI.
    let mut child = Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--home")
        .arg(home)
        .arg("keys")
        .args(args)
        .env("KEYHATCH_CONFIG", "none")
        .env_remove("TOWER_ACCESS_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn listed(home: &Path) -> serde_json::Value {
    let out = keys(home, &["list", "--json"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ssh_keygen(args: &[&str]) -> Output {
    Command::new("ssh-keygen").args(args).output().unwrap()
}

#[test]
fn a_key_generated_at_the_terminal_is_written_0600_opened_by_ssh_keygen_and_let_in_by_sshd() {
    // A home sshd's StrictModes accepts (not below /tmp).
    let home = test_dir();
    let key = home.path().join("id_seqera");
    let pass = home.path().join("pass");
    fs::write(&pass, "correct horse battery\n").unwrap();
    // Red team (helper-49): a passphrase file every account can read was taken.
    let generate = |pass: &Path| {
        keys(
            home.path(),
            &[
                "generate",
                "-f",
                key.to_str().unwrap(),
                "--passphrase-file",
                pass.to_str().unwrap(),
                "--label",
                "pipelines",
                "--expires-in",
                "30",
            ],
            b"",
        )
    };
    fs::set_permissions(&pass, fs::Permissions::from_mode(0o644)).unwrap();
    let refused = generate(&pass);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("other accounts may read it (mode 644)"));
    assert!(!key.exists());
    fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
    let out = generate(&pass);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("Your private key has been saved in"),
        "{said}"
    );
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The private key opens with the passphrase only, to the public half written beside it.
    let opened = ssh_keygen(&[
        "-y",
        "-P",
        "correct horse battery",
        "-f",
        key.to_str().unwrap(),
    ]);
    assert!(opened.status.success(), "{}", text(&opened.stderr));
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let words = |line: &str| line.split(' ').take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(words(&text(&opened.stdout)), words(&public));
    assert!(
        !ssh_keygen(&["-y", "-P", "", "-f", key.to_str().unwrap()])
            .status
            .success()
    );
    // Authorized as the page would: tagged and labelled, with the site's options and the expiry.
    let file = fs::read_to_string(home.path().join(".ssh/authorized_keys")).unwrap();
    assert!(file.starts_with("restrict,pty,expiry-time=\""), "{file}");
    assert!(
        file.trim_end()
            .ends_with(&format!("{} fileglancer pipelines", words(&public)))
    );
    let list = listed(home.path());
    assert_eq!(list["keys"][0]["label"], "pipelines");

    let dir = test_dir();
    let sshd = Sshd::start(dir.path(), home.path());
    let login = sshd.login(&key, Some("correct horse battery"));
    assert!(
        login.status.success(),
        "{}\n{}",
        text(&login.stderr),
        sshd.log()
    );
}

#[test]
fn list_add_and_revoke_at_the_terminal_leave_every_other_line_as_it_was() {
    let mine = tempfile::tempdir().unwrap();
    let laptop = mine.path().join("laptop");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f"])
        .arg(&laptop)
        .output()
        .unwrap();
    assert!(made.status.success());
    let foreign = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t admin@bastion\n# kept as is\n";
    let home = home_with(foreign.as_bytes());
    let file = home.path().join(".ssh/authorized_keys");

    let empty = keys(home.path(), &["list"], b"");
    assert!(empty.status.success());
    assert!(text(&empty.stdout).starts_with("No keyhatch keys in "));
    assert!(text(&empty.stderr).contains("1 other key(s)"));

    // From a file, labelled by its own comment; then the same key from standard input is refused.
    let added = keys(
        home.path(),
        &[
            "add",
            laptop.with_extension("pub").to_str().unwrap(),
            "--json",
        ],
        b"",
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let info: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(info["label"], "me@laptop");
    let again = keys(
        home.path(),
        &["add"],
        &fs::read(laptop.with_extension("pub")).unwrap(),
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already in the file"),
        "{}",
        text(&again.stderr)
    );

    let list = listed(home.path());
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert_eq!(list["keys"][0]["fingerprint"], info["fingerprint"]);
    let fingerprint = info["fingerprint"].as_str().unwrap();
    let table = text(&keys(home.path(), &["list"], b"").stdout);
    assert!(
        table.starts_with(fingerprint) && table.contains("me@laptop"),
        "{table}"
    );

    let revoked = keys(home.path(), &["revoke", fingerprint], b"");
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert_eq!(fs::read_to_string(&file).unwrap(), foreign);
    let twice = keys(home.path(), &["revoke", fingerprint], b"");
    assert_eq!(twice.status.code(), Some(1));
    assert!(text(&twice.stderr).starts_with("keyhatch: no key with fingerprint"));

    // A key keyhatch did not write is not keyhatch's to revoke.
    let theirs = ssh_keygen(&["-lf", file.to_str().unwrap()]);
    let theirs = text(&theirs.stdout).split(' ').nth(1).unwrap().to_owned();
    let refused = keys(home.path(), &["revoke", &theirs], b"");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(fs::read_to_string(&file).unwrap(), foreign);
}

#[test]
fn a_private_key_on_standard_output_opens_and_is_authorized() {
    let home = home_with(b"");
    let out = keys(
        home.path(),
        &["generate", "-f", "-", "--no-passphrase"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    fs::write(&key, &out.stdout).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let opened = ssh_keygen(&["-y", "-f", key.to_str().unwrap()]);
    assert!(opened.status.success(), "{}", text(&opened.stderr));
    let base64 = text(&opened.stdout).split(' ').nth(1).unwrap().to_owned();
    let file = fs::read_to_string(home.path().join(".ssh/authorized_keys")).unwrap();
    assert!(file.contains(&base64));
    assert!(text(&out.stderr).contains("Authorized SHA256:"));
}

#[test]
fn bad_input_at_the_terminal_gets_a_clear_message_and_changes_nothing() {
    let line =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t x\n";
    let home = home_with(line.as_bytes());
    let file = home.path().join(".ssh/authorized_keys");
    let taken = home.path().join("id");
    fs::write(&taken, "someone's key\n").unwrap();
    let id = taken.to_str().unwrap();
    // The shape of a private key, made here so that no key-like block sits in the source.
    let fake_private = ["BEGIN", "END"]
        .map(|m| format!("-----{m} OPENSSH PRIVATE KEY-----\n"))
        .join("abc\n");
    let refusals: [(&[&str], &[u8], &str); 7] = [
        (
            &["generate", "-f", id, "--no-passphrase"],
            b"",
            "exists already",
        ),
        // No terminal, and no passphrase given: nothing is made rather than a key left open.
        (
            &["generate", "-f", "/nonexistent/dir/key"],
            b"",
            "no terminal to ask the passphrase",
        ),
        (
            &["generate", "-f", "-", "--no-passphrase", "--json"],
            b"",
            "both write to standard output",
        ),
        (
            &[
                "generate",
                "-f",
                "-",
                "--no-passphrase",
                "--expires-in",
                "0",
            ],
            b"",
            "day",
        ),
        (
            &[
                "generate",
                "-f",
                "-",
                "--no-passphrase",
                "--label",
                &"x".repeat(300),
            ],
            b"",
            "label",
        ),
        (&["add"], fake_private.as_bytes(), "private key"),
        (&["add"], b"not a key\n", "key"),
    ];
    for (args, stdin, says) in refusals {
        let out = keys(home.path(), args, stdin);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("keyhatch: ") && err.contains(says),
            "{args:?}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {}",
            text(&out.stdout)
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), line, "{args:?}");
    }
    assert_eq!(fs::read_to_string(&taken).unwrap(), "someone's key\n");
    assert!(!home.path().join("id.pub").exists());
    // A file that cannot be made leaves no key authorized.
    let out = keys(
        home.path(),
        &["generate", "-f", "/nonexistent/dir/key", "--no-passphrase"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/dir/key"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), line);
    // Standard output that fails the private key (a pipe whose reader is gone): nobody holds
    // it, so it is revoked again.
    let mut gone = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--home")
        .arg(home.path())
        .args(["keys", "generate", "-f", "-", "--no-passphrase"])
        .env("KEYHATCH_CONFIG", "none")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(gone.stdout.take());
    let full = gone.wait_with_output().unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert!(
        text(&full.stderr).contains("it was revoked again"),
        "{}",
        text(&full.stderr)
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), line);
    // Red team: standard output closed (Rust's runtime puts /dev/null there) lost the private
    // key of an authorized key; an empty passphrase source made a key without one; a
    // fingerprint given to revoke carried escape sequences to the terminal.
    let closed = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--home")
        .arg(home.path())
        .args(["keys", "generate", "-f", "-", "--no-passphrase"])
        .env("KEYHATCH_CONFIG", "none")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(closed.status.code(), Some(1));
    assert!(text(&closed.stderr).contains("a device that would drop it"));
    assert_eq!(fs::read_to_string(&file).unwrap(), line);
    // Red team, again: a read-only standard output took the key "successfully" (Rust reports
    // EBADF as done), and /dev/zero drops it.
    let read_only = home.path().join("read-only");
    fs::write(&read_only, "").unwrap();
    for (out, says) in [
        (fs::File::open(&read_only).unwrap(), "not open for writing"),
        (
            fs::File::options().write(true).open("/dev/zero").unwrap(),
            "a device that would drop it",
        ),
    ] {
        let lost = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .arg("--home")
            .arg(home.path())
            .args(["keys", "generate", "-f", "-", "--no-passphrase"])
            .env("KEYHATCH_CONFIG", "none")
            .stdout(out)
            .output()
            .unwrap();
        assert_eq!(lost.status.code(), Some(1));
        assert!(text(&lost.stderr).contains(says), "{}", text(&lost.stderr));
        assert_eq!(fs::read_to_string(&file).unwrap(), line);
    }
    assert_eq!(fs::read_to_string(&read_only).unwrap(), "");
    // Red team (helper-49): `generate -f - > key` under umask 022 left the private key in a
    // file every account could read; helper-50: making it 0600 then was too late for a
    // descriptor opened before, and another account's file made 0600 the moment before passed.
    // Each is refused, and nothing is made; the person's own private file takes the key.
    let to_stdout_file = |path: &Path, mode: u32, owner: Option<u32>| {
        fs::write(path, "").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(path, owner, owner).unwrap();
        Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .arg("--home")
            .arg(home.path())
            .args(["keys", "generate", "-f", "-", "--no-passphrase"])
            .env("KEYHATCH_CONFIG", "none")
            .stdout(fs::File::options().write(true).open(path).unwrap())
            .output()
            .unwrap()
    };
    for (name, mode, owner, says) in [
        ("shared", 0o644, None, "others may read (mode 0644)"),
        ("theirs", 0o600, Some(65534), "another account's file"),
    ] {
        let out = home.path().join(name);
        let refused = to_stdout_file(&out, mode, owner);
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
        assert!(
            text(&refused.stderr).contains(says),
            "{}",
            text(&refused.stderr)
        );
        assert_eq!(fs::read_to_string(&out).unwrap(), "");
        assert_eq!(fs::read_to_string(&file).unwrap(), line);
    }
    // helper-51: a descriptor another process opened while the file was readable reads what
    // is written after it was made private; and a named pipe's reader may be anyone.
    let stale = home.path().join("stale");
    fs::write(&stale, "").unwrap();
    let opened_before = fs::File::open(&stale).unwrap();
    let refused = to_stdout_file(&stale, 0o600, None);
    drop(opened_before);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("another process has"),
        "{}",
        text(&refused.stderr)
    );
    let fifo = home.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = Command::new("cat")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let into_fifo = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--home")
        .arg(home.path())
        .args(["keys", "generate", "-f", "-", "--no-passphrase"])
        .env("KEYHATCH_CONFIG", "none")
        .stdout(fs::File::options().write(true).open(&fifo).unwrap())
        .output()
        .unwrap();
    let read = reader.wait_with_output().unwrap();
    assert_eq!(
        into_fifo.status.code(),
        Some(1),
        "{}",
        text(&into_fifo.stderr)
    );
    assert!(
        text(&into_fifo.stderr).contains("named pipe"),
        "{}",
        text(&into_fifo.stderr)
    );
    assert!(read.stdout.is_empty());
    assert_eq!(fs::read_to_string(&file).unwrap(), line);
    let private = home.path().join("private");
    let made = to_stdout_file(&private, 0o600, None);
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(
        fs::read_to_string(&private)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let made_one = fs::read_to_string(&file).unwrap();
    assert_eq!(made_one.lines().count(), line.lines().count() + 1);
    fs::write(&file, line).unwrap();
    let empty = home.path().join("empty");
    fs::write(&empty, "").unwrap();
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o600)).unwrap();
    let nothing = keys(
        home.path(),
        &[
            "generate",
            "-f",
            "-",
            "--passphrase-file",
            empty.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(nothing.status.code(), Some(1));
    assert!(text(&nothing.stderr).contains("no passphrase in it"));
    assert_eq!(fs::read_to_string(&file).unwrap(), line);
    let escaped = keys(
        home.path(),
        &["revoke", "SHA256:\u{1b}[2J\u{1b}[31mx\nsecond"],
        b"",
    );
    assert_eq!(escaped.status.code(), Some(1));
    let said = text(&escaped.stderr);
    assert!(
        !said.contains('\u{1b}') && said.trim_end().lines().count() == 1,
        "{said:?}"
    );
    // What is printed on success is escaped too: a path with an escape sequence in it.
    let odd = home.path().join("odd\u{1b}[2Jname");
    let made = keys(
        home.path(),
        &["generate", "-f", odd.to_str().unwrap(), "--no-passphrase"],
        b"",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(!made.stdout.contains(&0x1b), "{}", text(&made.stdout));
    // Usage errors are clap's, status 2.
    assert_eq!(keys(home.path(), &["generate"], b"").status.code(), Some(2));
}

/// A person at a terminal: the passphrase is asked twice with echo off, as ssh-keygen asks it.
/// Driven through a pseudo-terminal by Python's `pty`, answering each prompt once it shows.
#[test]
fn at_a_terminal_the_passphrase_is_asked_twice_unechoed_and_a_mismatch_makes_nothing() {
    let home = home_with(b"");
    let driver = r#"
import os, pty, signal, sys
signal.alarm(60)
argv, answers = sys.argv[1:-2], sys.argv[-2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
def read():
    try:
        return os.read(fd, 1024)
    except OSError:
        return b""
seen = b""
for answer in answers:
    while not seen.rstrip().endswith(b":"):
        more = read()
        if not more:
            break
        seen += more
    if not seen.rstrip().endswith(b":"):
        break
    os.write(fd, b"\x03" if answer == "^C" else answer.encode() + b"\n")
    seen += b"|"
while True:
    more = read()
    if not more:
        break
    seen += more
import termios
try:
    echo = termios.tcgetattr(fd)[3] & termios.ECHO
except termios.error:
    echo = "unknown"
sys.stdout.write(seen.decode(errors="replace") + "\\nECHO=" + str(echo))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"#;
    let key = home.path().join("id");
    let run = |first: &str, second: &str| {
        Command::new("python3")
            .args(["-c", driver, env!("CARGO_BIN_EXE_keyhatch"), "--home"])
            .arg(home.path())
            .args(["keys", "generate", "-f"])
            .arg(&key)
            .args([first, second])
            .env("KEYHATCH_CONFIG", "none")
            .output()
            .unwrap()
    };
    let mismatch = run("one secret", "another");
    let screen = text(&mismatch.stdout);
    assert_eq!(mismatch.status.code(), Some(1), "{screen}");
    assert!(screen.contains("passphrases do not match"), "{screen}");
    assert!(!key.exists());
    assert_eq!(
        fs::read(home.path().join(".ssh/authorized_keys")).unwrap(),
        b""
    );

    // Ctrl-C at the first prompt: nothing is made, and the terminal echoes again.
    let stopped = run("^C", "unused");
    let screen = text(&stopped.stdout);
    assert_eq!(stopped.status.code(), Some(1), "{screen}");
    assert!(screen.contains("interrupted; nothing was made"), "{screen}");
    assert!(!screen.contains("ECHO=0"), "echo left off: {screen}");
    assert!(!key.exists());

    let made = run("a long passphrase", "a long passphrase");
    let screen = text(&made.stdout);
    assert!(made.status.success(), "{screen}");
    assert!(
        screen.starts_with("Enter passphrase (empty for no passphrase):"),
        "{screen}"
    );
    assert!(screen.contains("Enter same passphrase again:"), "{screen}");
    assert!(!screen.contains("a long passphrase"), "echoed: {screen}");
    let opened = ssh_keygen(&["-y", "-P", "a long passphrase", "-f", key.to_str().unwrap()]);
    assert!(opened.status.success(), "{}", text(&opened.stderr));
}
