//! What the integration tests share: the real keyhatch binary started on a free port with a
//! temporary home, site mode behind a real nginx, temporary homes, throwaway accounts, and the
//! ssh-keygen fixture.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

/// The login token the tests start keyhatch with.
pub const TOKEN: &str = "test-token-0123456789abcdef-0123456789";

/// The fixture full of sshd edge cases, made by tests/fixtures/make-fixtures.sh (19 lines, 12
/// keys of which 5 are tagged `fileglancer`, unreadable lines 8, 16, 17, no final newline).
pub const MIXED: &[u8] = include_bytes!("../fixtures/authorized_keys.mixed");

/// A temporary home whose `~/.ssh/authorized_keys` holds `contents`.
pub fn home_with(contents: &[u8]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    fs::write(home.path().join(".ssh/authorized_keys"), contents).unwrap();
    home
}

/// A Python program that locks the file its argument names, and the file's directory, as
/// keyhatch does for a change (the directory's `flock`, and a POSIX lock on the file, which
/// keyhatch's OFD lock waits for where it cannot lock the directory); prints `held`, and holds
/// them until its standard input closes.
pub const HOLD_LOCK: &str = "import fcntl,os,sys; \
    d=os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY); fcntl.flock(d, fcntl.LOCK_EX); \
    f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); \
    sys.stdin.read()";

/// A running keyhatch server; stopped on drop (SIGTERM, so it removes its login files).
pub struct App {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub port: u16,
    pub home: PathBuf,
    /// `XDG_RUNTIME_DIR` of this server: its login files go there.
    pub runtime: tempfile::TempDir,
    agent: ureq::Agent,
}

/// Starts keyhatch managing `home` (which need not exist).
pub fn spawn_app(home: &Path) -> App {
    spawn_app_with(home, &[])
}

/// Starts keyhatch managing `home` with extra environment variables.
pub fn spawn_app_with(home: &Path, env: &[(&str, &str)]) -> App {
    start(Command::new(env!("CARGO_BIN_EXE_keyhatch")), home, env)
}

/// Starts keyhatch managing `home` from the working directory `cwd`, with extra flags and
/// environment variables.
pub fn spawn_app_in(home: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> App {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhatch"));
    command.current_dir(cwd).args(args);
    start(command, home, env)
}

/// Starts keyhatch managing `home` through `wrapper` (a program that runs the one named after
/// its arguments, as `nohup` does), with extra environment variables.
pub fn spawn_app_through(home: &Path, wrapper: &[&str], env: &[(&str, &str)]) -> App {
    let mut command = Command::new(wrapper[0]);
    command
        .args(&wrapper[1..])
        .arg(env!("CARGO_BIN_EXE_keyhatch"));
    start(command, home, env)
}

/// Starts keyhatch under a file size limit (`RLIMIT_FSIZE`) of `bytes`, through util-linux prlimit.
pub fn spawn_app_limited(home: &Path, bytes: u64) -> App {
    spawn_app_under(home, &format!("--fsize={bytes}:{bytes}"))
}

/// Starts keyhatch under the resource limit `limit`, as util-linux prlimit spells it
/// (`--nofile=1024:1024`).
pub fn spawn_app_under(home: &Path, limit: &str) -> App {
    let mut command = Command::new("prlimit");
    command
        .arg(limit)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_keyhatch"));
    start(command, home, &[])
}

/// Starts keyhatch listening on `addr` (a port of 0 picks a free one) with extra flags.
pub fn spawn_app_at(home: &Path, addr: &str, args: &[&str]) -> App {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhatch"));
    command.args(args);
    start_at(command, home, addr, &[])
}

/// Starts keyhatch managing `home` on the Unix socket `socket`; returns once it listens.
pub fn spawn_socket_app(home: &Path, socket: &Path) -> App {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhatch"));
    command.arg("--socket").arg(socket);
    let app = start(command, home, &[]);
    let started = Instant::now();
    while UnixStream::connect(socket).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "keyhatch did not listen on {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    app
}

fn start(command: Command, home: &Path, env: &[(&str, &str)]) -> App {
    start_at(command, home, "127.0.0.1:0", env)
}

fn start_at(mut command: Command, home: &Path, addr: &str, env: &[(&str, &str)]) -> App {
    let runtime = tempfile::tempdir().unwrap();
    let mut child = command
        .args(["--addr", addr, "--home"])
        .arg(home)
        .env("KEYHATCH_TOKEN", TOKEN)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("KEYHATCH_TAG")
        .env_remove("KEYHATCH_KEY_OPTIONS")
        // No settings file: not the developer's, not a site mode installed on this machine.
        .env("KEYHATCH_CONFIG", "none")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("keyhatch starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|line| line.trim().strip_prefix("http://").map(str::to_owned))
        .expect("keyhatch prints its login URL");
    // Keep reading what it prints, so its later lines never meet a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    // On loopback the link's host is an origin of this start alone (`k….localhost`), which
    // this machine's resolver may not know: the tests reach the same server at 127.0.0.1.
    let (host, port) = url.split('/').next().unwrap().rsplit_once(':').unwrap();
    let host = if host.ends_with(".localhost") {
        "127.0.0.1"
    } else {
        host
    };
    let base = format!("http://{host}:{port}");
    let port = port.parse().unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    App {
        child,
        base,
        port,
        home: home.to_owned(),
        runtime,
        agent,
    }
}

/// keyhatch in site mode and nginx in front of it; both stopped on drop.
pub struct SiteStack {
    /// The socket, nginx's files; removed on drop, after both are stopped.
    _dir: tempfile::TempDir,
    pub keyhatch: Child,
    nginx: Child,
    /// `http://localhost:PORT`, through nginx.
    pub base: String,
    pub socket: PathBuf,
    passwords: Vec<(String, String)>,
    pub agent: ureq::Agent,
}

impl SiteStack {
    /// Starts both, with `people` (name, password) in nginx's password file and `extra`
    /// flags for keyhatch.
    pub fn start(people: &[&str], extra: &[&str]) -> Self {
        Self::start_with_env(people, extra, &[])
    }

    /// Starts both, as [`SiteStack::start`], with extra environment variables for keyhatch.
    pub fn start_with_env(people: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_binary(
            Path::new(env!("CARGO_BIN_EXE_keyhatch")),
            people,
            extra,
            env,
        )
    }

    /// Starts both, as [`SiteStack::start_with_env`], with the keyhatch at `binary` (an
    /// installed one) in place of the tests' build.
    pub fn start_binary(
        binary: &Path,
        people: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_under(binary, "", people, extra, env)
    }

    /// Starts both, as [`SiteStack::start_binary`], with keyhatch's `public-url` at `path` (as
    /// `/ssh/`) on nginx's host. nginx passes every path to keyhatch, whatever it starts with.
    pub fn start_under(
        binary: &Path,
        path: &str,
        people: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // nginx's workers run as www-data: they must reach the password file and the socket.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.path().join("keyhatch.sock");
        let port = free_port();
        let mut keyhatch = Command::new(binary)
            .args(["--mode", "site", "--proxy-user", "www-data", "--socket"])
            .arg(&socket)
            .arg("--public-url")
            .arg(format!("http://localhost:{port}{path}"))
            .args(extra)
            .env_remove("KEYHATCH_TOKEN")
            .env("KEYHATCH_CONFIG", "none")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("keyhatch starts");
        let mut lines = BufReader::new(keyhatch.stdout.take().unwrap()).lines();
        let first = lines.next().expect("keyhatch says it serves").unwrap();
        assert!(first.contains("site mode"), "{first}");
        std::thread::spawn(move || lines.for_each(drop));

        let passwords: Vec<(String, String)> = people
            .iter()
            .map(|name| ((*name).to_owned(), format!("pw-{name}")))
            .collect();
        let htpasswd = htpasswd(
            passwords
                .iter()
                .map(|(name, password)| (name.as_str(), password.as_str())),
        );
        let nginx_dir = dir.path().join("nginx");
        fs::create_dir(&nginx_dir).unwrap();
        fs::write(nginx_dir.join("htpasswd"), htpasswd).unwrap();
        fs::set_permissions(
            nginx_dir.join("htpasswd"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let d = nginx_dir.display();
        // The shipped example's check of the name (deploy/nginx-keyhatch.conf), with the name
        // from auth_basic rather than from oauth2-proxy.
        let (name_map, name_check) = shipped_nginx_name_check();
        let config = format!(
            "user www-data;\nworker_processes 1;\nworker_rlimit_nofile 8192;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               {name_map}\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                 auth_basic \"keyhatch\";\n      auth_basic_user_file {d}/htpasswd;\n\
                 set $keyhatch_user $remote_user;\n\
                 try_files /.keyhatch-checks-the-name @keyhatch;\n    }}\n\
                 location @keyhatch {{\n{name_check}\n\
                 proxy_pass http://unix:{socket}:;\n      proxy_set_header Host $http_host;\n\
                 proxy_set_header X-Forwarded-User $keyhatch_user;\n\
                 proxy_set_header X-Real-IP $remote_addr;\n    }}\n  }}\n}}\n",
            socket = socket.display()
        );
        fs::write(nginx_dir.join("nginx.conf"), config).unwrap();
        let nginx = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&nginx_dir)
            .arg("-c")
            .arg(nginx_dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts (the README's test command installs it)");
        wait_for(|| UnixStream::connect(&socket).is_ok(), "keyhatch's socket");
        wait_for(|| TcpStream::connect(("127.0.0.1", port)).is_ok(), "nginx");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Self {
            _dir: dir,
            keyhatch,
            nginx,
            base: format!("http://localhost:{port}"),
            socket,
            passwords,
            agent,
        }
    }

    fn basic(&self, who: &str) -> String {
        let (_, password) = self.passwords.iter().find(|(n, _)| n == who).unwrap();
        format!(
            "Basic {}",
            BASE64_STANDARD.encode(format!("{who}:{password}"))
        )
    }

    /// [`Self::start`] with an audit log of its own, which the returned value reads.
    pub fn start_audited(people: &[&str], extra: &[&str]) -> (Self, AuditLog) {
        Self::start_audited_with_env(people, extra, &[])
    }

    /// Starts both, as [`SiteStack::start_audited`], with extra environment variables for
    /// keyhatch (a stand-in Platform's `KEYHATCH_SEQERA_URL`).
    pub fn start_audited_with_env(
        people: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Self, AuditLog) {
        let log = AuditLog::new();
        let mut args = vec!["--audit-log", log.path.to_str().unwrap()];
        args.extend_from_slice(extra);
        (Self::start_with_env(people, &args, env), log)
    }

    /// Sends `method` `path` with the JSON `body` through nginx as `who` over a new connection,
    /// and returns the connection, to read the answer from or to hang up.
    pub fn send(&self, who: &str, method: &str, path: &str, body: &str) -> TcpStream {
        self.send_with(who, method, path, body, "")
    }

    /// [`Self::send`] with `extra` header lines (each ending in CRLF) of the client's own.
    pub fn send_with(
        &self,
        who: &str,
        method: &str,
        path: &str,
        body: &str,
        extra: &str,
    ) -> TcpStream {
        let port: u16 = self.base.rsplit(':').next().unwrap().parse().unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nAuthorization: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            self.basic(who),
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream
    }

    /// Runs the Python `program` as the proxy's account (www-data), as a proxy would reach
    /// keyhatch's socket: its path is `sys.argv[1]`, then `args`.
    pub fn as_proxy(&self, program: &str, args: &[&str]) -> std::process::Output {
        Command::new("setpriv")
            .args([
                "--reuid=www-data",
                "--regid=www-data",
                "--clear-groups",
                "--",
            ])
            .args(["/usr/bin/python3", "-c", program])
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// The processes keyhatch started that run as `uid`: its helpers for that person.
    pub fn helpers_of(&self, uid: u32) -> Vec<u32> {
        let parent = self.keyhatch.id();
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
                    return false;
                };
                let field = |name: &str| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.split_whitespace().next())
                        .and_then(|v| v.parse::<u32>().ok())
                };
                field("PPid:") == Some(parent) && field("Uid:") == Some(uid)
            })
            .collect()
    }

    /// `/healthz` asked on keyhatch's own socket, as a load balancer on the host would: the
    /// raw answer.
    pub fn healthz(&self) -> String {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: anything\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// GET `path` through nginx as `who`.
    pub fn get(&self, who: &str, path: &str) -> Reply {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", self.basic(who))
            .call()
            .unwrap();
        reply(response)
    }

    /// GET `path` through nginx as `who`, with extra headers of the client's own.
    pub fn get_with(&self, who: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", self.basic(who));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.call().unwrap())
    }

    /// POSTs JSON to `path` through nginx as `who`.
    pub fn post(&self, who: &str, path: &str, body: &str) -> Reply {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.basic(who))
            .content_type("application/json")
            .send(body)
            .unwrap();
        reply(response)
    }

    /// POSTs a form to `path` through nginx as `who`, as a browser on the page sends it.
    pub fn post_form(&self, who: &str, path: &str, body: &str) -> Reply {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.basic(who))
            .header("Sec-Fetch-Site", "same-origin")
            .content_type("application/x-www-form-urlencoded")
            .send(body)
            .unwrap();
        reply(response)
    }
}

impl Drop for SiteStack {
    fn drop(&mut self) {
        for child in [&mut self.nginx, &mut self.keyhatch] {
            // Not one a test has stopped and waited for already: its pid may be another's now.
            if matches!(child.try_wait(), Ok(None)) {
                let _ = Command::new("kill").arg(child.id().to_string()).status();
            }
            let _ = child.wait();
        }
    }
}

/// The `map` of login names and the `if` that refuses one, as deploy/nginx-keyhatch.conf has
/// them, so the site tests run behind the shipped check.
fn shipped_nginx_name_check() -> (String, String) {
    let example = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx-keyhatch.conf"),
    )
    .unwrap();
    let block = |start: &str, end: &str| {
        let at = example
            .find(start)
            .unwrap_or_else(|| panic!("{start} in the example"));
        let len = example[at..].find(end).unwrap() + end.len();
        example[at..at + len].to_owned()
    };
    (
        block("map $keyhatch_user", "\n}\n"),
        block("if ($keyhatch_name_refused)", "\n        }\n"),
    )
}

/// The fingerprint of the private key `page` shows in its "Private key" text area (the answer to
/// a Generate form), or `None` when it shows none. The key itself is never printed.
pub fn shown_key_fingerprint(page: &str) -> Option<String> {
    let area = page.find(r#"aria-label="Private key""#)?;
    let start = area + page[area..].find('>')? + 1;
    let end = start + page[start..].find("</textarea>")?;
    let key = ssh_key::PrivateKey::from_openssh(&page[start..end]).expect("an OpenSSH key");
    Some(
        key.public_key()
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string(),
    )
}

/// The one-time id of the Generate form in `page`, a page rendered with that dialog open.
pub fn form_id(page: &str) -> &str {
    let at = page.find(r#"name="form_id" value=""#).expect("a form id") + 22;
    &page[at..at + 32]
}

/// A key's comment as the API gives it: its `.pub` line after the second space (README, "The
/// API, for scripts").
pub fn comment_of(key: &serde_json::Value) -> &str {
    let line = key["public_key"].as_str().expect("a public_key");
    line.splitn(3, ' ').nth(2).unwrap_or_default()
}

pub fn wait_for(ready: impl Fn() -> bool, what: &str) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An audit log in a directory of its own, removed with it.
pub struct AuditLog {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl AuditLog {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        Self { _dir: dir, path }
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        fs::read_to_string(&self.path).unwrap()
    }
}

/// A throwaway account made with `useradd` for one test, removed (with `userdel`) on drop,
/// even when the test fails.
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Account {
    /// Creates an account with no home and no login shell.
    pub fn create() -> Self {
        Self::create_with(&["--no-create-home", "--shell", "/usr/sbin/nologin"])
    }

    /// Creates a person's account: a home of its own, a shell, and a password field sshd does
    /// not take for locked (`*`: no password login, keys only).
    pub fn create_person() -> Self {
        Self::create_with(&["--create-home", "--shell", "/bin/sh", "--password", "*"])
    }

    /// Creates a person's account as [`Self::create_person`] does, its home in `base` (which
    /// every account must be able to search).
    pub fn create_person_in(base: &Path) -> Self {
        let base = base.to_str().unwrap();
        Self::create_with(&[
            "--create-home",
            "--base-dir",
            base,
            "--shell",
            "/bin/sh",
            "--password",
            "*",
        ])
    }

    /// Creates a person's account with a home of its own on `other`'s uid and gid (`useradd
    /// -o`), as a site may give one person two login names.
    pub fn create_alias_of(other: &Account) -> Self {
        let (uid, gid) = (other.uid.to_string(), other.gid.to_string());
        Self::create_with(&[
            "--non-unique",
            "--uid",
            &uid,
            "--gid",
            &gid,
            "--create-home",
            "--shell",
            "/bin/sh",
            "--password",
            "*",
        ])
    }

    /// Creates a system account (uid below 1000).
    pub fn create_system() -> Self {
        Self::create_with(&[
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
    }

    fn create_with(options: &[&str]) -> Self {
        let name = format!("khtest{:08x}", rand_u32());
        // Tests run in parallel, and useradd gives up when another holds /etc/passwd's lock.
        let added = (0..10).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            Command::new("useradd")
                .args(options)
                .arg(&name)
                .output()
                .expect("useradd runs (the tests run as root)")
                .status
                .success()
        });
        assert!(added, "useradd {name}");
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        Self { name, uid, gid }
    }

    /// The account's home directory, from passwd.
    pub fn home(&self) -> PathBuf {
        let out = Command::new("getent")
            .args(["passwd", &self.name])
            .output()
            .unwrap();
        let entry = String::from_utf8(out.stdout).unwrap();
        PathBuf::from(entry.trim().split(':').nth(5).unwrap())
    }

    /// A command that runs `program` as this account (setpriv: uid, gid, no supplementary
    /// groups).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("setpriv");
        command.args([
            &format!("--reuid={}", self.uid),
            &format!("--regid={}", self.gid),
            "--clear-groups",
            "--",
            program,
        ]);
        command
    }

    /// Runs `program` with `args` as this account; the test token reaches it as `$KH_TOKEN`,
    /// never on a command line.
    pub fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        self.command(program)
            .args(args)
            .env("KH_TOKEN", TOKEN)
            .current_dir("/")
            .output()
            .expect("setpriv runs")
    }

    /// Sends `request` (`$KH_TOKEN` in it is replaced by the token) to 127.0.0.1:`port` from
    /// this account, with bash's /dev/tcp, and returns the raw answer.
    pub fn http(&self, port: u16, request: &str) -> String {
        let script = "exec 3<>/dev/tcp/127.0.0.1/$1; printf '%s' \"${2//\\$KH_TOKEN/$KH_TOKEN}\" >&3; cat <&3";
        let out = self.run("bash", &["-c", script, "bash", &port.to_string(), request]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Locks `file` and its directory as this account, as any program of theirs can
    /// ([`HOLD_LOCK`]); held until the returned holder is dropped.
    pub fn hold_lock(&self, file: &Path) -> LockHolder {
        LockHolder(self.hold(HOLD_LOCK, &[file.to_str().unwrap()]))
    }

    /// Takes a shared lock on `file` as this account, as anyone who can read a file can; held
    /// until the returned holder is dropped.
    pub fn hold_read_lock(&self, file: &Path) -> LockHolder {
        let program = "import fcntl,sys; f=open(sys.argv[1]); fcntl.lockf(f, fcntl.LOCK_SH); \
                       print('held', flush=True); sys.stdin.read()";
        LockHolder(self.hold(program, &[file.to_str().unwrap()]))
    }

    /// Takes a write lease on `file` as this account (its owner), as any program of theirs
    /// can, ignoring the kernel's signal to give it up; held until the holder is dropped.
    pub fn hold_lease(&self, file: &Path) -> LockHolder {
        let program = "import fcntl,os,signal,sys; signal.signal(signal.SIGIO, signal.SIG_IGN); \
                       fd=os.open(sys.argv[1], os.O_RDONLY); fcntl.fcntl(fd, 1024, fcntl.F_WRLCK); \
                       print('held', flush=True); sys.stdin.read()";
        LockHolder(self.hold(program, &[file.to_str().unwrap()]))
    }

    /// Starts a Python `program` as this account with `args`, and returns it once it has
    /// printed `held`; it runs until killed (or its standard input closes).
    pub fn hold(&self, program: &str, args: &[&str]) -> Child {
        let mut child = self
            .command("/usr/bin/python3")
            .args(["-c", program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "held", "{program}");
        child
    }

    /// Runs a Python program as this account and returns what it printed.
    pub fn python(&self, program: &str, args: &[&str]) -> String {
        let mut all = vec!["-c", program];
        all.extend_from_slice(args);
        let out = self.run("/usr/bin/python3", &all);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// A program of a person's holding a lock on a file; it lets go when dropped.
pub struct LockHolder(pub Child);

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        // The runtime directory a keyhatch of this account made in /tmp, unless another account
        // shares the uid: left, it was found by the next account given the uid, and a test
        // that makes that directory as a squatter failed ("File exists").
        let uid = self.uid.to_string();
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let sharing = (passwd.lines())
            .filter(|line| line.split(':').nth(2) == Some(uid.as_str()))
            .count();
        let runtime = PathBuf::from(format!("/tmp/keyhatch-{uid}"));
        let its_own = fs::symlink_metadata(&runtime)
            .is_ok_and(|m| m.is_dir() && std::os::unix::fs::MetadataExt::uid(&m) == self.uid);
        if its_own && sharing <= 1 {
            let _ = fs::remove_dir_all(&runtime);
        }
        // --remove takes the home (and mail spool) with it; retried while another test holds
        // /etc/passwd's lock. (6: no such account, gone already.)
        for _ in 0..10 {
            let removed = Command::new("userdel")
                .args(["--remove", &self.name])
                .output();
            if removed.is_ok_and(|out| out.status.success() || out.status.code() == Some(6)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn rand_u32() -> u32 {
    let mut bytes = [0u8; 4];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .unwrap();
    u32::from_ne_bytes(bytes)
}

/// A response's status, headers we check, and body.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

impl App {
    /// GET `path` with the given extra headers.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.call().unwrap())
    }

    /// POSTs `body` to `path` with exactly the given headers.
    pub fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send(body).unwrap())
    }

    /// POSTs an empty form to `path`, as a browser's form would, with the given headers.
    pub fn post_form(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.post(path, "", &all)
    }

    /// Sends `request` as it is over a new connection and returns the raw answer.
    pub fn raw(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// POSTs JSON to `path` with the bearer token.
    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        self.try_post_json(path, body).unwrap()
    }

    /// POSTs JSON to `path` with the bearer token; an error when no HTTP answer comes.
    pub fn try_post_json(&self, path: &str, body: &str) -> Result<Reply, ureq::Error> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .content_type("application/json")
            .send(body)?;
        Ok(reply(response))
    }

    /// The server's process id.
    #[allow(dead_code)] // for the benchmarks, which read the server's memory use through it
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as Ctrl-C would (SIGTERM) and returns its runtime directory, to look at
    /// what it left.
    pub fn stop(mut self) -> tempfile::TempDir {
        let runtime = std::mem::replace(&mut self.runtime, tempfile::tempdir().unwrap());
        drop(self);
        runtime
    }

    /// Waits for the server to end by itself and returns how it ended.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// A fresh login link from `keyhatch link`, run as this account with the server's runtime
    /// directory; it works once.
    pub fn login_link(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .arg("link")
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "keyhatch link: {printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("keyhatch link printed no link: {printed}"))
            .to_owned()
    }

    /// The path and query of a fresh login link (`/?token=…`), to open on this server.
    pub fn login_path(&self) -> String {
        let link = self.login_link();
        let after_scheme = &link["http://".len()..];
        after_scheme[after_scheme.find('/').unwrap()..].to_owned()
    }

    /// GET with the bearer token.
    pub fn get_authorized(&self, path: &str) -> Reply {
        self.get(path, &[("Authorization", &format!("Bearer {TOKEN}"))])
    }

    /// Generates a key through the API; panics unless it succeeds.
    pub fn generate(&self, passphrase: Option<&str>) -> serde_json::Value {
        let body = match passphrase {
            Some(p) => serde_json::json!({ "passphrase": p }).to_string(),
            None => "{}".to_owned(),
        };
        let reply = self.post_json("/api/keys/generate", &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    pub fn authorized_keys(&self) -> PathBuf {
        self.home.join(".ssh/authorized_keys")
    }
}

/// The status, headers and body of `response`.
pub fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap(),
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // SIGTERM first: keyhatch then removes its login files. SIGKILL if it lingers.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the keyhatch binary at `binary` (a copy of the one built) managing `home`.
pub fn spawn_binary(binary: &Path, home: &Path) -> App {
    start(Command::new(binary), home, &[])
}

/// How `child` ended, if it did within `limit`; else it is killed, and `None`.
pub fn ended_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The exit code and standard error of `command` (keyhatch refusing to start, say); no code
/// when it was still running after 10 seconds (it is then stopped).
pub fn exit_of(command: &mut Command) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = ended_within(&mut child, Duration::from_secs(10)).and_then(|s| s.code());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, err)
}

/// An htpasswd file's text for these (name, password) pairs, each hashed by `openssl passwd`.
pub fn htpasswd<'a>(people: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    people
        .into_iter()
        .map(|(name, password)| {
            let hash = Command::new("openssl")
                .args(["passwd", "-apr1", password])
                .output()
                .unwrap();
            format!("{name}:{}", String::from_utf8(hash.stdout).unwrap())
        })
        .collect()
}
