//! A site administrator's mistakes, each made on the real binary: keyhatch refuses to start
//! with a sentence, or says at start (or once in its log) what will go wrong.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::{Account, SiteStack, home_with, spawn_socket_app, wait_for};

/// [`run_site`] for keys.example.org behind www-data, its socket in `dir`, the health check's
/// helper becoming `account`.
fn run_site_checked_as(account: &str, dir: &Path) -> Output {
    let args = [
        "--proxy-user",
        "www-data",
        "--public-url",
        "https://keys.example.org",
        "--health-account",
        account,
    ];
    run_site(&args, &dir.join("k.sock"))
}

/// Runs site-mode keyhatch with `args` until it has printed its start report (then stops it)
/// or ends by itself; what it printed and how it ended. The socket is bound before the report
/// is written, so a connectable socket alone does not mean the report is out.
fn run_site(args: &[&str], socket: &Path) -> Output {
    let _ = fs::remove_file(socket);
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .args(["--mode", "site", "--socket"])
        .arg(socket)
        .args(args)
        .env("KEYHATCH_CONFIG", "none")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let printed = printed.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                printed.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let warned = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        all
    });
    let child = std::cell::RefCell::new(child);
    wait_for(
        || {
            printed.lock().unwrap().ends_with(b"\n")
                || child.borrow_mut().try_wait().unwrap().is_some()
        },
        "keyhatch's start report or its end",
    );
    let mut child = child.into_inner();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stdout = std::mem::take(&mut *printed.lock().unwrap());
    Output {
        status,
        stdout,
        stderr: warned.join().unwrap(),
    }
}

#[test]
fn site_mode_without_public_url_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_site(&["--proxy-user", "www-data"], &dir.path().join("k.sock"));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("public-url is not set"), "{said}");
    assert!(!said.contains("allowed-host"), "{said}");
}

/// Where the health check's helper becomes `nobody` (no package account), start says what any
/// process running as `nobody` can then do.
#[test]
fn a_health_check_as_nobody_is_warned_of_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_site_checked_as("nobody", dir.path());
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("warning: the health check's helper becomes nobody")
            && warned.contains("any process running as nobody can stop it"),
        "{warned}"
    );
}

/// The red team's attack: a health account in group root (RHEL's `sync`, `halt`, …) passed,
/// and every check then failed, as the helper never takes gid 0: a load balancer took a
/// working node out for good.
#[test]
fn a_health_account_in_group_root_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let health = Account::create_system();
    /// Gives the account its own group back before it is removed, so userdel takes that too.
    struct OwnGroupBack<'a>(&'a str);
    impl Drop for OwnGroupBack<'_> {
        fn drop(&mut self) {
            let _ = Command::new("usermod")
                .args(["-g", self.0, self.0])
                .status();
        }
    }
    let moved = Command::new("usermod")
        .args(["-g", "0", &health.name])
        .status()
        .unwrap();
    let _back = OwnGroupBack(&health.name);
    assert!(moved.success());
    let out = run_site_checked_as(&health.name, dir.path());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("is in group root"), "{said}");
}

/// A health account that some process runs as (a daemon's, say) is no better than `nobody`:
/// start names one such process.
#[test]
fn a_health_account_that_a_process_runs_as_is_warned_of_at_start() {
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let health = Account::create_system();
    let sleeping = Running(
        Command::new("setpriv")
            .args([
                &format!("--reuid={}", health.uid),
                &format!("--regid={}", health.gid),
                "--clear-groups",
                "sleep",
                "60",
            ])
            .spawn()
            .unwrap(),
    );
    wait_for(
        || {
            fs::read_to_string(format!("/proc/{}/comm", sleeping.0.id()))
                .is_ok_and(|c| c == "sleep\n")
        },
        "sleep as the health account",
    );
    let out = run_site_checked_as(&health.name, dir.path());
    let warned = String::from_utf8_lossy(&out.stderr);
    let named = format!(
        "processes run as {}, the health check's account (health-account), such as PID {}",
        health.name,
        sleeping.0.id()
    );
    assert!(warned.contains(&named), "{warned}");
}

#[test]
fn at_start_site_mode_names_its_host_the_proxy_account_and_the_sockets_owner_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // The audit log's directory does not exist yet, as outside systemd.
    let log = dir.path().join("log/keyhatch/audit.log");
    let health = Account::create_system();
    let out = run_site(
        &[
            "--proxy-user",
            "www-data",
            "--public-url",
            "https://keys.example.org",
            "--audit-log",
            log.to_str().unwrap(),
            "--health-account",
            &health.name,
        ],
        &dir.path().join("k.sock"),
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        printed.contains("public host: keys.example.org"),
        "{printed}"
    );
    assert!(
        printed.contains("proxy account: www-data (uid 33)"),
        "{printed}"
    );
    assert!(
        printed.contains("owner www-data (uid 33), mode 0600"),
        "{printed}"
    );
    let checked_as = format!(
        "health check: its helper becomes {} (uid {})",
        health.name, health.uid
    );
    assert!(printed.contains(&checked_as), "{printed}");
    assert!(!warned.contains("warning"), "{warned}");
    let meta = fs::metadata(log.parent().unwrap()).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o700, 0));
    assert!(log.exists());
}

/// The socket in a directory the proxy cannot search (as under /root), and a proxy-user that
/// exists but is the overflow account: keyhatch starts, and says why the proxy will fail.
#[test]
fn a_socket_the_proxy_cannot_reach_and_nobody_as_proxy_user_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let socket = dir.path().join("k.sock");
    let url = ["--public-url", "https://keys.example.org"];
    let out = run_site(&[&["--proxy-user", "www-data"][..], &url].concat(), &socket);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("proxy-user www-data cannot reach the socket")
            && warned.contains(&format!("it cannot search {}", dir.path().display()))
            && warned.contains("mode 0700"),
        "{warned}"
    );

    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // Its own health account: the default, nobody, would be the proxy's, which is refused.
    let health = Account::create_system();
    let checked_as = ["--health-account", health.name.as_str()];
    let out = run_site(
        &[&["--proxy-user", "nobody"][..], &url, &checked_as].concat(),
        &socket,
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        printed.contains("proxy account: nobody (uid 65534)"),
        "{printed}"
    );
    assert!(
        warned.contains("proxy-user nobody is the system's overflow account"),
        "{warned}"
    );
}

/// A proxy that forgets the user header: everyone gets 401, and the audit log says so once a
/// minute (not once per request, nor per connection), naming the header keyhatch expected.
#[test]
fn a_proxy_that_sends_no_user_header_is_logged_once_a_minute() {
    let (stack, log) = SiteStack::start_audited(&[], &[]);
    // As the proxy's account (www-data), two requests on one connection, then one on another.
    let program = "import socket,sys\n\
        for n in (2, 1):\n\
        \x20 s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f=s.makefile('rb')\n\
        \x20 for i in range(n):\n\
        \x20   s.sendall(b'GET /api/keys/list HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n')\n\
        \x20   print(f.readline().decode().strip()); h=b''\n\
        \x20   while h not in (b'\\r\\n',):\n\
        \x20     h=f.readline()\n\
        \x20     if h.lower().startswith(b'content-length'): l=int(h.split(b':')[1])\n\
        \x20   f.read(l)\n\
        \x20 s.close()\n";
    let out = stack.as_proxy(program, &[]);
    let statuses = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        statuses
            .lines()
            .filter(|l| l.starts_with("HTTP/1.1 401"))
            .count(),
        3,
        "{statuses}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit = log.text();
    let noted: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("without the x-forwarded-user header"))
        .collect();
    assert_eq!(noted.len(), 1, "once a minute: {audit}");
}

/// A request the layers refuse before the login, through the proxy: its audit line names the
/// person and the client address the proxy reported, marked as claimed.
#[test]
fn a_refusal_through_the_proxy_records_the_claimed_person_and_address() {
    let alice = Account::create_person();
    let (stack, log) = SiteStack::start_audited(&[&alice.name], &[]);
    let cross = stack
        .agent
        .post(format!("{}/api/keys/generate", stack.base))
        .header("Authorization", basic(&alice.name))
        .header("Sec-Fetch-Site", "cross-site")
        .content_type("application/json")
        .send("{}")
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    let audit = log.text();
    let line: serde_json::Value = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["outcome"] == "cross-site request")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(line["account"], alice.name.as_str(), "{line}");
    assert_eq!(line["remote"], "127.0.0.1", "{line}");
    assert_eq!(line["claimed"], true, "{line}");
    assert!(!alice.home().join(".ssh").exists());
}

fn basic(who: &str) -> String {
    use base64::Engine;
    let encoded = base64::prelude::BASE64_STANDARD.encode(format!("{who}:pw-{who}"));
    format!("Basic {encoded}")
}

/// Site mode answers its public host only: a loopback name is refused with a page that names
/// the public host.
#[test]
fn site_mode_refuses_loopback_host_names_naming_its_public_url() {
    let stack = SiteStack::start(&[], &[]);
    for host in ["127.0.0.1", "[::1]"] {
        let mut stream = UnixStream::connect(&stack.socket).unwrap();
        let request =
            format!("GET /ssh-keys HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 403"), "{host}: {answer}");
        assert!(answer.contains("public-url"), "{answer}");
    }
}

/// A second keyhatch on a socket already served: the advice is about the socket, not a port.
#[test]
fn a_socket_in_use_advises_another_socket_path() {
    let home = home_with(b"");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("k.sock");
    let _first = spawn_socket_app(home.path(), &socket);
    let out = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--socket")
        .arg(&socket)
        .arg("--home")
        .arg(home.path())
        .env("KEYHATCH_CONFIG", "none")
        // Its runtime directory is the test's own, not root's /tmp/keyhatch-0 (left behind).
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("--socket PATH"), "{said}");
    assert!(!said.contains("--addr"), "{said}");
}

#[test]
fn public_url_may_carry_a_path_which_start_names_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("k.sock");
    let proxy = ["--proxy-user", "www-data", "--public-url"];
    let out = run_site(
        &[&proxy[..], &["https://portal.example.org/keys/"]].concat(),
        &socket,
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("public host: portal.example.org")
            && printed.contains("path: /keys/ (public-url); nothing outside it is answered")
            && printed.contains("/keys/healthz")
            && printed.contains("shares keyhatch's origin"),
        "{printed}"
    );
    for (url, why) in [
        ("https://portal.example.org/keys/../x/", "segment"),
        ("https://portal.example.org/a b/", "may hold only"),
        ("https://portal.example.org/keys/?x=1", "no query"),
        ("https://portal.example.org/keys//", "more than one slash"),
        ("https://portal.example.org/k%65ys/", "may hold only"),
        ("https://[::1/keys/", "must be"),
        ("https://[::g]/keys/", "not an IPv6 address"),
        ("https://portal.example.org:99999999/keys/", "is not a port"),
        ("https://portal.example.org:/keys/", "is not a port"),
        ("https://p\\ortal/keys/", "host name or address"),
        (
            "https://alice@portal.example.org/keys/",
            "host name or address",
        ),
        ("https://portal.example.org./keys/", "host name or address"),
        ("https://-/keys/", "host name or address"),
        ("https://a..b/keys/", "host name or address"),
        ("https://999.999.999.999/keys/", "host name or address"),
    ] {
        let out = run_site(&[&proxy[..], &[url]].concat(), &socket);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {said}");
        assert!(
            said.contains(&format!("public-url {url} must be")) && said.contains(why),
            "{url}: {said}"
        );
    }
    let url = "https://portal.example.org/keys/";
    for logout in [
        "javascript:alert(document.domain)",
        "//elsewhere.example/x",
        "data:,x",
        "/a b",
        "https://",
        "https:///x",
    ] {
        let out = run_site(
            &[&proxy[..], &[url, "--logout-url", logout]].concat(),
            &socket,
        );
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{logout}: {said}");
        assert!(
            said.contains(&format!("logout-url {logout} must be")),
            "{logout}: {said}"
        );
    }
    let out = run_site(
        &[
            &proxy[..],
            &[
                "https://[2001:db8::1]:8443/keys/",
                "--logout-url",
                "/keys/oidc/redirect_uri?logout=x",
            ],
        ]
        .concat(),
        &socket,
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("public host: 2001:db8::1"), "{printed}");
}
