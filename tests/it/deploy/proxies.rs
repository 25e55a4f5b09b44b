//! The shipped proxy examples in front of the real keyhatch, started with the shipped settings
//! file: each file is changed only where a test must (its addresses, the certificate, and the
//! login: basic auth where an identity provider would run), then real requests go through it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::helpers::{Account, free_port, wait_for};

use super::{certificate, repo};

/// The public host of the shipped settings file, which the examples serve.
pub const HOST: &str = "portal.example.org";
/// The path of its public URL, under which the examples pass requests to keyhatch.
pub const PATH: &str = "/keys";

/// keyhatch from `deploy/keyhatch.toml` and one shipped proxy in front of it, on loopback;
/// both stopped on drop.
pub struct Proxied {
    keyhatch: Child,
    proxy: Child,
    /// The proxy's HTTPS port on 127.0.0.1.
    pub port: u16,
    /// keyhatch's audit log.
    pub audit_log: PathBuf,
    /// The people who may log in, with their passwords.
    people: Vec<(String, String)>,
    /// Holds the socket, the proxy's files and the certificate; removed last.
    dir: tempfile::TempDir,
}

/// What a request through the proxy got back.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Proxied {
    /// keyhatch behind the shipped nginx example, with a stand-in for oauth2-proxy: a server of
    /// nginx's own on another port that answers its `/keys/oauth2/auth` from a password file, with
    /// the header oauth2-proxy sets (`X-Auth-Request-User`).
    pub fn nginx(people: &[&str]) -> Self {
        let (dir, socket, people) = Self::prepare(people);
        let d = dir.path().display().to_string();
        let (cert, key) = certificate(dir.path());
        let (port, auth_port) = (free_port(), free_port());
        let site = replaced(
            &repo("deploy/nginx-keyhatch.conf"),
            &[
                ("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;")),
                ("/etc/ssl/certs/portal.example.org.pem", &cert),
                ("/etc/ssl/private/portal.example.org.key", &key),
                ("/run/keyhatch/keyhatch.sock", &socket.display().to_string()),
                ("127.0.0.1:4180", &format!("127.0.0.1:{auth_port}")),
                // Another page of the portal host: a person's own web server behind it, as
                // Open OnDemand's /rnode/ is (here the stand-in's server).
                (
                    "    location @keyhatch {",
                    &format!(
                        "    location /other/ {{ proxy_pass http://127.0.0.1:{auth_port}; }}\n    location @keyhatch {{"
                    ),
                ),
            ],
        );
        fs::write(dir.path().join("keyhatch.conf"), site).unwrap();
        fs::create_dir(dir.path().join("standin")).unwrap();
        fs::write(dir.path().join("standin/ok"), "").unwrap();
        fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "user www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{}}\nhttp {{\n  access_log off;\n  log_format lengths '$request_uri $request_length';\n\
                 client_body_temp_path {d}/body;\n\
                 proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
                 scgi_temp_path {d}/scgi;\n  include {d}/keyhatch.conf;\n\
                 # The stand-in for oauth2-proxy: 200 and the name, or 401.\n\
                 server {{\n    listen 127.0.0.1:{auth_port};\n    access_log {d}/standin.log lengths;\n\
                     location = /keys/oauth2/auth {{\n      auth_basic keyhatch;\n\
                       auth_basic_user_file {d}/htpasswd;\n\
                       add_header X-Auth-Request-User $remote_user;\n\
                       root {d}/standin;\n      try_files /ok =500;\n    }}\n\
                     location = /other/sw.js {{\n      add_header Service-Worker-Allowed /;\n\
                       return 200 \"self.onfetch = () => {{}};\\n\";\n    }}\n\
                     location / {{ return 401 \"sign in at the identity provider\\n\"; }}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let proxy = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts (the README's test command installs it)");
        Self::start(dir, &socket, proxy, port, people)
    }

    /// keyhatch behind the shipped Apache example, run by an Apache of its own (its own
    /// configuration, pid file and port; never the system's service), with basic auth in place
    /// of `AuthType openid-connect` and the modules the example's comment names.
    pub fn apache(people: &[&str]) -> Self {
        let (dir, socket, people) = Self::prepare(people);
        let d = dir.path().display().to_string();
        let (cert, key) = certificate(dir.path());
        let port = free_port();
        let example = repo("deploy/apache-keyhatch.conf");
        let site = replaced(
            &example,
            &[
                (
                    "<VirtualHost *:443>",
                    &format!("<VirtualHost 127.0.0.1:{port}>"),
                ),
                ("/etc/ssl/certs/portal.example.org.pem", &cert),
                ("/etc/ssl/private/portal.example.org.key", &key),
                ("/run/keyhatch/keyhatch.sock", &socket.display().to_string()),
                (
                    "AuthType openid-connect",
                    &format!(
                        "AuthType Basic\n        AuthName keyhatch\n        \
                         AuthBasicProvider file\n        AuthUserFile {d}/htpasswd"
                    ),
                ),
            ],
        );
        fs::write(dir.path().join("keyhatch.conf"), site).unwrap();
        // What every Apache has (Debian enables these by default), basic auth for the test, and
        // then exactly the modules the example says it needs.
        let mut modules: Vec<String> = [
            "mpm_event",
            "authn_core",
            "authz_core",
            "authn_file",
            "auth_basic",
            "socache_shmcb",
        ]
        .map(str::to_owned)
        .to_vec();
        modules.extend(needed_modules(&example));
        let mut config = format!(
            "ServerName localhost\nServerRoot {d}\nListen 127.0.0.1:{port}\nPidFile {d}/apache.pid\n\
             ErrorLog {d}/error.log\nMutex file:{d} default\nUser www-data\nGroup www-data\n"
        );
        for module in &modules {
            config.push_str(&format!(
                "LoadModule {module}_module /usr/lib/apache2/modules/mod_{module}.so\n"
            ));
        }
        config.push_str(&format!("Include {d}/keyhatch.conf\n"));
        fs::write(dir.path().join("apache.conf"), config).unwrap();
        let proxy = Command::new("/usr/sbin/apache2")
            .args(["-DFOREGROUND", "-f"])
            .arg(dir.path().join("apache.conf"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("apache2 is installed");
        Self::start(dir, &socket, proxy, port, people)
    }

    /// The directory (searchable by the proxy's account), the socket's path in it, and a
    /// password for each person, written to `htpasswd` there.
    fn prepare(people: &[&str]) -> (tempfile::TempDir, PathBuf, Vec<(String, String)>) {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let people: Vec<(String, String)> = people
            .iter()
            .map(|name| ((*name).to_owned(), format!("pw-{name}")))
            .collect();
        let htpasswd = crate::helpers::htpasswd(
            people
                .iter()
                .map(|(name, password)| (name.as_str(), password.as_str())),
        );
        fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        fs::set_permissions(
            dir.path().join("htpasswd"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let socket = dir.path().join("keyhatch.sock");
        (dir, socket, people)
    }

    /// Starts keyhatch with the shipped settings file (its socket and audit log moved into
    /// `dir`) and waits for both it and the proxy.
    fn start(
        dir: tempfile::TempDir,
        socket: &Path,
        mut proxy: Child,
        port: u16,
        people: Vec<(String, String)>,
    ) -> Self {
        let audit_log = dir.path().join("log/audit.log");
        let config = dir.path().join("keyhatch.toml");
        let settings = replaced(
            &repo("deploy/keyhatch.toml"),
            &[
                ("/run/keyhatch/keyhatch.sock", &socket.display().to_string()),
                (
                    "/var/log/keyhatch/audit.log",
                    &audit_log.display().to_string(),
                ),
            ],
        );
        fs::write(&config, settings).unwrap();
        let mut keyhatch = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .arg("--config")
            .arg(&config)
            .env_remove("KEYHATCH_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("keyhatch starts");
        let up = std::panic::catch_unwind(|| {
            wait_for(
                || std::os::unix::net::UnixStream::connect(socket).is_ok(),
                "keyhatch's socket",
            );
            wait_for(
                || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
                "the proxy",
            );
        });
        if up.is_err() {
            for child in [&mut proxy, &mut keyhatch] {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!(
                "did not come up; the proxy's error log:\n{}",
                fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
        }
        Self {
            keyhatch,
            proxy,
            port,
            audit_log,
            people,
            dir,
        }
    }

    /// Sends a request through the proxy with curl, as `who` (`None`: no login), to `path`
    /// sent as it is written (`--path-as-is`), with extra curl arguments.
    pub fn curl(&self, who: Option<&str>, path: &str, extra: &[&str]) -> Answer {
        let mut command = Command::new("curl");
        command
            .args([
                "-sS",
                "-k",
                "--path-as-is",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
            ])
            .arg("--resolve")
            .arg(format!("{HOST}:{}:127.0.0.1", self.port));
        if let Some(who) = who {
            let (_, password) = self.people.iter().find(|(n, _)| n == who).unwrap();
            // From standard input, so the password is in no command line.
            command.args(["-K", "-"]);
            command.stdin(Stdio::piped());
            let mut child = command
                .arg(format!("https://{HOST}:{}{path}", self.port))
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("user = \"{who}:{password}\"\n").as_bytes())
                .unwrap();
            return answer(child.wait_with_output().unwrap());
        }
        let out = command
            .arg(format!("https://{HOST}:{}{path}", self.port))
            .args(extra)
            .output()
            .unwrap();
        answer(out)
    }

    /// GET `path` as `who`.
    pub fn get(&self, who: &str, path: &str) -> Answer {
        self.curl(Some(who), path, &[])
    }

    /// POSTs JSON `body` to `path` as `who`.
    pub fn post(&self, who: &str, path: &str, body: &str) -> Answer {
        self.curl(
            Some(who),
            path,
            &["-H", "Content-Type: application/json", "--data", body],
        )
    }

    /// GETs `path` as `who` like a browser that waits 2 s before it reads (`slow_reader.py`):
    /// the status line and how many bytes came.
    pub fn get_slowly(&self, who: &str, path: &str) -> (String, usize) {
        use base64::Engine;
        use std::io::Write;
        let (_, password) = self.people.iter().find(|(n, _)| n == who).unwrap();
        let mut reader = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/deploy/slow_reader.py"))
            .args([HOST, &self.port.to_string(), path])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let basic = base64::prelude::BASE64_STANDARD.encode(format!("{who}:{password}"));
        writeln!(reader.stdin.take().unwrap(), "Basic {basic}").unwrap();
        let out = reader.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (status, bytes) = text.trim().split_once('\n').unwrap_or((&text, "0"));
        (status.to_owned(), bytes.parse().unwrap_or(0))
    }

    /// The audit log so far.
    pub fn audit(&self) -> String {
        fs::read_to_string(&self.audit_log).unwrap_or_default()
    }

    /// The proxy's error log, for failure messages.
    pub fn proxy_log(&self) -> String {
        self.file("error.log")
    }

    /// A file the proxy wrote in its directory, or nothing.
    pub fn file(&self, name: &str) -> String {
        fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        for child in [&mut self.proxy, &mut self.keyhatch] {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

fn answer(out: std::process::Output) -> Answer {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    Answer {
        status: status
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("curl: {text}{}", String::from_utf8_lossy(&out.stderr))),
        body: body.to_owned(),
    }
}

/// `text` with each `(from, to)` replaced; a `from` the text no longer has fails the test, so
/// the examples cannot drift away from what is tested.
fn replaced(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in pairs {
        assert!(text.contains(from), "the example no longer has {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// The modules the Apache example's opening comment says it needs (`mod_ssl` → `ssl`).
fn needed_modules(example: &str) -> Vec<String> {
    let comment: String = example
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let needs = &comment[comment
        .find("Needs")
        .expect("the example says what it needs")..];
    let needs = &needs[..needs.find('(').unwrap_or(needs.len())];
    needs
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|word| word.strip_prefix("mod_"))
        .map(str::to_owned)
        .collect()
}

/// The page, a generate and a list through `proxy` as `alice`, and the health check with no
/// login, all under the shipped public URL's path.
fn serves_the_page_a_generate_a_list_and_healthz(proxy: &Proxied, alice: &Account) {
    let page = proxy.get(&alice.name, &format!("{PATH}/ssh-keys"));
    assert_eq!(page.status, 200, "{}\n{}", page.body, proxy.proxy_log());
    assert!(page.body.contains("SSH Keys"), "{}", page.body);
    assert!(page.body.contains(&alice.name), "the page names alice");

    let generated = proxy.post(&alice.name, &format!("{PATH}/api/keys/generate"), "{}");
    assert_eq!(generated.status, 200, "{}", generated.body);
    let key: serde_json::Value = serde_json::from_str(&generated.body).unwrap();
    let fingerprint = key["info"]["fingerprint"].as_str().unwrap();
    let file = fs::read_to_string(alice.home().join(".ssh/authorized_keys")).unwrap();
    assert_eq!(file.lines().count(), 1, "{file}");

    let listed = proxy.get(&alice.name, &format!("{PATH}/api/keys/list"));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(listed["keys"][0]["fingerprint"], fingerprint, "{listed}");

    let health = proxy.curl(None, &format!("{PATH}/healthz"), &[]);
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    // Everything else still needs the login.
    let anonymous = proxy.curl(None, &format!("{PATH}/api/keys/list"), &[]);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    // The audit line of the generate names alice and the client's address, as the proxy said.
    let audit = proxy.audit();
    let line = audit
        .lines()
        .find(|l| l.contains("\"generate\""))
        .unwrap_or_else(|| panic!("{audit}"));
    assert!(
        line.contains(&format!("\"account\":\"{}\"", alice.name)),
        "{line}"
    );
    assert!(line.contains("\"remote\":\"127.0.0.1\""), "{line}");
}

#[test]
fn the_shipped_nginx_example_serves_the_page_a_generate_a_list_and_healthz() {
    let alice = Account::create_person();
    let proxy = Proxied::nginx(&[&alice.name]);
    serves_the_page_a_generate_a_list_and_healthz(&proxy, &alice);
}

/// The attack: another page of the portal host (a person's own web server, proxied as Open
/// OnDemand's /rnode/ is) serves a service worker's script with `Service-Worker-Allowed: /`,
/// which would let it take /keys/ as its scope and stand between people and keyhatch. The
/// shipped nginx example never passes that header on.
#[test]
fn the_shipped_nginx_example_lets_no_other_page_claim_keyhatchs_path_for_a_service_worker() {
    let proxy = Proxied::nginx(&[]);
    let headers = proxy.curl(None, "/other/sw.js", &["-D", "-"]);
    assert!(headers.body.contains("200"), "{}", headers.body);
    assert!(
        !headers
            .body
            .to_ascii_lowercase()
            .contains("service-worker-allowed"),
        "{}",
        headers.body
    );
}

#[test]
fn the_shipped_apache_example_serves_the_page_a_generate_a_list_and_healthz() {
    let alice = Account::create_person();
    let proxy = Proxied::apache(&[&alice.name]);
    serves_the_page_a_generate_a_list_and_healthz(&proxy, &alice);
}

/// Red team (helper-66): nginx's defaults put an answer larger than its buffers, for a browser
/// that reads slowly, and a request body past 16 KB in temporary files on disk: a page that
/// shows a new private key, or a body with a passphrase or a Platform token. The shipped
/// example keeps both in memory (nginx says in its error log whenever it spools one).
#[test]
fn the_shipped_nginx_example_puts_no_answer_or_request_body_on_disk() {
    let alice = Account::create_person();
    let ssh = alice.home().join(".ssh");
    fs::create_dir_all(&ssh).unwrap();
    let others: String = (0..3000u32)
        .map(|n| {
            let mut wire = Vec::new();
            for part in [&b"ssh-ed25519"[..], &[n.to_be_bytes(); 8].concat()] {
                wire.extend_from_slice(&(part.len() as u32).to_be_bytes());
                wire.extend_from_slice(part);
            }
            let key = base64::Engine::encode(&base64::prelude::BASE64_STANDARD, wire);
            format!("ssh-ed25519 {key} someone-else-{n}@laptop\n")
        })
        .collect();
    fs::write(ssh.join("authorized_keys"), others).unwrap();
    for made in [ssh.clone(), ssh.join("authorized_keys")] {
        std::os::unix::fs::chown(&made, Some(alice.uid), Some(alice.gid)).unwrap();
    }
    let proxy = Proxied::nginx(&[&alice.name]);
    let generate = format!("{PATH}/api/keys/generate");
    let padded = |blanks: usize| {
        format!(
            r#"{{"passphrase": "correct horse battery staple"{}}}"#,
            " ".repeat(blanks)
        )
    };
    let generated = proxy.post(&alice.name, &generate, &padded(32 << 10));
    assert_eq!(generated.status, 200, "{}", generated.body);
    let key: serde_json::Value = serde_json::from_str(&generated.body).unwrap();
    let private = ssh_key::PrivateKey::from_openssh(key["private_key"].as_str().unwrap()).unwrap();
    assert!(
        private.is_encrypted(),
        "the passphrase in the body was read whole"
    );
    // Past what keyhatch takes through it: refused before any of it is kept, whether its
    // length is declared or it comes in chunks (helper-67: a chunked 1 MiB was spooled).
    let large = padded(100 << 10);
    assert_eq!(proxy.post(&alice.name, &generate, &large).status, 413);
    let chunked = ["-H", "Transfer-Encoding: chunked"];
    let sent = proxy.curl(
        Some(&alice.name),
        &generate,
        &[
            &["-H", "Content-Type: application/json", "--data", &large][..],
            &chunked[..],
        ]
        .concat(),
    );
    assert_eq!(sent.status, 413, "{}", sent.body);
    // A request whose sign-in has expired goes to the sign-in page (helper-67: its body, the
    // passphrase in it, was passed on to oauth2-proxy, and past 16 KB spooled).
    let expired = proxy.curl(
        None,
        &generate,
        &[
            "-H",
            "Content-Type: application/json",
            "--data",
            &padded(32 << 10),
        ],
    );
    assert_eq!(expired.status, 401, "{}", expired.body);
    // The health check takes no login, and no body either (helper-68: one was spooled).
    let health = format!("{PATH}/healthz");
    let posted = proxy.curl(
        None,
        &health,
        &[&["--data", &large][..], &chunked[..]].concat(),
    );
    assert_eq!(posted.status, 413, "{}", posted.body);
    let posted = proxy.curl(None, &health, &["--data", &padded(32 << 10)]);
    assert_eq!(
        posted.status, 405,
        "keyhatch's answer to a POST: {}",
        posted.body
    );
    let (status, bytes) = proxy.get_slowly(&alice.name, &format!("{PATH}/ssh-keys"));
    assert!(status.contains(" 200"), "{status}");
    assert!(bytes > 500_000, "the page is large: {bytes} bytes");
    let log = proxy.proxy_log();
    assert!(!log.contains("buffered to a temporary file"), "{log}");
    let standin = proxy.file("standin.log");
    let sign_in = standin
        .lines()
        .find(|l| l.starts_with("/keys/oauth2/sign_in"))
        .unwrap_or_else(|| panic!("{standin}"));
    let length: usize = sign_in.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        length < 4096,
        "the body went on to the sign-in page: {sign_in}"
    );
}
