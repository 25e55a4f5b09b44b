//! OpenSSH's sshd is the judge: a key generated through keyhatch's HTTP API logs in.
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::spawn_app;

/// A private sshd on a free loopback port that reads `<home>/.ssh/authorized_keys`.
pub(crate) struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
    user: String,
}

impl Sshd {
    /// An sshd that lets in only this test's own account, with keys from `home`: from
    /// `~/.ssh/authorized_keys` and `~/.ssh/authorized_keys2`, as sshd's own default reads.
    pub(crate) fn start(dir: &Path, home: &Path) -> Self {
        let ssh = home.join(".ssh");
        let keys = format!(
            "{} {}",
            ssh.join("authorized_keys").display(),
            ssh.join("authorized_keys2").display()
        );
        Self::start_for(dir, &user(), &keys)
    }

    /// An sshd that lets in only `user`, with keys from `keys` (its `AuthorizedKeysFile`).
    pub(crate) fn start_for(dir: &Path, user: &str, keys: &str) -> Self {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sshd is installed (Debian package openssh-server; the README's test command installs it)");
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").unwrap();
        let host_key = dir.join("host_key");
        keypair(&host_key, "host");
        let port = free_port();
        // ssh reads a passphrase from this program; the passphrase itself travels in its env.
        write_private(
            &dir.join("askpass"),
            "#!/bin/sh\nprintf '%s\\n' \"$TEST_PASSPHRASE\"\n",
            0o700,
        );
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {pid}\n\
                 AuthorizedKeysFile {keys}\nStrictModes yes\nUsePAM no\n\
                 PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel VERBOSE\n",
                host_key = host_key.display(),
                pid = dir.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        // sshd's log goes to a file of its own (-E), as a site points keyhatch's sshd-log at.
        let child = Command::new(sshd)
            .arg("-D")
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .arg("-f")
            .arg(&config)
            .stderr(fs::File::create(dir.join("sshd.stderr")).unwrap())
            .spawn()
            .expect("sshd starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not listen: {}",
                fs::read_to_string(dir.join("sshd.log")).unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            dir: dir.to_owned(),
            user: user.to_owned(),
        }
    }

    /// Runs `true` over ssh with `key`; `passphrase` is given through SSH_ASKPASS, not an argument.
    pub(crate) fn login(&self, key: &Path, passphrase: Option<&str>) -> Output {
        self.login_from("127.0.0.1", key, passphrase)
    }

    /// [`Self::login`] from the loopback address `source` (`ssh -b`), e.g. 127.0.0.2.
    pub(crate) fn login_from(&self, source: &str, key: &Path, passphrase: Option<&str>) -> Output {
        let mut ssh = Command::new("ssh");
        ssh.args(["-b", source])
            .args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args(["-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no"])
            .args([
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "PasswordAuthentication=no",
            ])
            .args(["-o", "ConnectTimeout=10", "-p", &self.port.to_string()])
            .arg(format!("{}@127.0.0.1", self.user))
            .arg("true")
            .stdin(Stdio::null());
        match passphrase {
            None => {
                ssh.args(["-o", "BatchMode=yes"]);
            }
            Some(passphrase) => {
                ssh.env("SSH_ASKPASS", self.dir.join("askpass"))
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .env("TEST_PASSPHRASE", passphrase)
                    .args(["-o", "NumberOfPasswordPrompts=1"]);
            }
        }
        ssh.output().expect("ssh runs")
    }

    /// What sshd logged, and wrote on its standard error (before its log was open).
    pub(crate) fn log(&self) -> String {
        let read = |name| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        read("sshd.stderr") + &read("sshd.log")
    }

    /// The file sshd logs to.
    pub(crate) fn log_file(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn user() -> String {
    String::from_utf8(run("id", &["-un"]).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Makes an unencrypted ed25519 key pair at `path` and `path.pub` with real ssh-keygen.
fn keypair(path: &Path, comment: &str) {
    let path = path.to_str().unwrap();
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
    );
}

pub(crate) fn write_private(path: &Path, contents: &str, mode: u32) {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut f, contents.as_bytes()).unwrap();
}

/// A directory sshd's StrictModes accepts: every ancestor owned by root or us and writable by
/// neither group nor others. target/ when the checkout allows it (not under /tmp), else /run.
pub(crate) fn test_dir() -> tempfile::TempDir {
    let candidates = [Path::new(env!("CARGO_TARGET_TMPDIR")), Path::new("/run")];
    let base = candidates
        .into_iter()
        .find(|dir| strict_modes_accept(dir))
        .expect("no directory that sshd's StrictModes accepts: target/ and /run are group- or world-writable");
    let dir = tempfile::Builder::new()
        .prefix("keyhatch-sshd-")
        .tempdir_in(base)
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Whether sshd's `safe_path` would accept `dir` and all its ancestors.
fn strict_modes_accept(dir: &Path) -> bool {
    let uid = nix::unistd::getuid().as_raw();
    dir.ancestors().all(|d| {
        fs::metadata(d).is_ok_and(|m| (m.uid() == 0 || m.uid() == uid) && m.mode() & 0o022 == 0)
    })
}

pub(crate) fn assert_logs_in(sshd: &Sshd, key: &Path, passphrase: Option<&str>) {
    let out = sshd.login(key, passphrase);
    assert!(
        out.status.success(),
        "login failed: {}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        sshd.log()
    );
}

pub(crate) fn assert_refused(sshd: &Sshd, key: &Path, passphrase: Option<&str>) {
    let out = sshd.login(key, passphrase);
    assert!(
        !out.status.success(),
        "login unexpectedly succeeded with {}",
        key.display()
    );
}

#[test]
fn keys_generated_through_keyhatch_log_in_and_others_do_not() {
    let dir = test_dir();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();

    // A key someone added by hand, on a last line with no newline: it must keep working.
    let foreign = dir.path().join("foreign");
    keypair(&foreign, "by hand");
    fs::create_dir(home.join(".ssh")).unwrap();
    fs::set_permissions(home.join(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    let foreign_pub = fs::read_to_string(foreign.with_extension("pub")).unwrap();
    write_private(
        &home.join(".ssh/authorized_keys"),
        foreign_pub.trim_end(),
        0o600,
    );

    let sshd = Sshd::start(dir.path(), &home);
    let app = spawn_app(&home);

    let plain = app.generate(None);
    let plain_key = dir.path().join("plain");
    write_private(&plain_key, plain["private_key"].as_str().unwrap(), 0o600);
    assert_logs_in(&sshd, &plain_key, None);

    let locked = app.generate(Some("a long passphrase"));
    let locked_key = dir.path().join("locked");
    write_private(&locked_key, locked["private_key"].as_str().unwrap(), 0o600);
    assert_logs_in(&sshd, &locked_key, Some("a long passphrase"));
    assert_refused(&sshd, &locked_key, Some("the wrong passphrase"));

    assert_logs_in(&sshd, &foreign, None);

    // Revoked: sshd no longer lets it in; the hand-added key and the other keyhatch key still work.
    let revoke = serde_json::json!({ "fingerprint": plain["info"]["fingerprint"] }).to_string();
    assert_eq!(app.post_json("/api/keys/revoke", &revoke).status, 200);
    assert_refused(&sshd, &plain_key, None);
    assert_logs_in(&sshd, &foreign, None);
    assert_logs_in(&sshd, &locked_key, Some("a long passphrase"));

    let stranger = dir.path().join("stranger");
    keypair(&stranger, "stranger");
    assert_refused(&sshd, &stranger, None);
}

#[test]
fn labelled_and_added_keys_log_in_until_their_expiry_time_and_not_after() {
    let dir = test_dir();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(dir.path(), &home);
    let app = spawn_app(&home);

    let body = r#"{"label": "Seqera production", "expires_in_days": 30}"#;
    let reply = app.post_json("/api/keys/generate", body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let generated = reply.json();
    assert_eq!(generated["info"]["label"], "Seqera production");
    assert_eq!(
        crate::helpers::comment_of(&generated["info"]),
        "fileglancer Seqera production"
    );
    let expires = generated["info"]["expires"].as_str().unwrap().to_owned();
    let generated_key = dir.path().join("generated");
    write_private(
        &generated_key,
        generated["private_key"].as_str().unwrap(),
        0o600,
    );
    assert_logs_in(&sshd, &generated_key, None);

    // A key the person already had, added by its public half only.
    let laptop = dir.path().join("laptop");
    keypair(&laptop, "me@laptop");
    let public = fs::read_to_string(laptop.with_extension("pub")).unwrap();
    let body = serde_json::json!({ "public_key": public, "expires_in_days": 90 }).to_string();
    let reply = app.post_json("/api/keys/add", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        crate::helpers::comment_of(&reply.json()),
        "fileglancer me@laptop"
    );
    assert_logs_in(&sshd, &laptop, None);
    let again = app.post_json("/api/keys/add", &body);
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("already in the file"), "{}", again.body);

    let file = fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap();
    let compact = expires.replace('-', "");
    let expected = format!("restrict,pty,expiry-time=\"{compact}\" ssh-ed25519 ");
    assert!(file.starts_with(&expected), "{file}");
    assert!(
        file.lines()
            .next()
            .unwrap()
            .ends_with(" fileglancer Seqera production"),
        "{file}"
    );

    // Time passes: the generated key's day has come. sshd refuses it, the list says so, and
    // the added key still works.
    let passed = file.replacen(&compact, "20200101", 1);
    fs::write(home.join(".ssh/authorized_keys"), passed).unwrap();
    assert_refused(&sshd, &generated_key, None);
    assert_logs_in(&sshd, &laptop, None);
    let list = app.get_authorized("/api/keys/list").json();
    assert_eq!(list["keys"][0]["expires"], "2020-01-01");
    assert_eq!(list["keys"][0]["expired"], true);
    // Not expired: left out, as every field at its default is.
    assert_eq!(list["keys"][1].get("expired"), None, "{}", list["keys"][1]);
}
