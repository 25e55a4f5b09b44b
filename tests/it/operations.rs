//! What an operator relies on: `check-config`, the exit status of bad settings, readiness for
//! systemd, a log without terminal codes (and without a second timestamp under journald), and
//! the audit log opened again on SIGHUP for logrotate.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Account, SiteStack, free_port, spawn_app_through, spawn_app_with, wait_for};

fn keyhatch() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhatch"));
    command
        .env_remove("KEYHATCH_CONFIG")
        .env_remove("KEYHATCH_MODE");
    command
}

/// `keyhatch check-config --config FILE` on `text`: its exit code, stdout and stderr.
fn check_config(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyhatch.toml");
    fs::write(&file, text).unwrap();
    let out = keyhatch()
        .args([
            "--home",
            dir.path().to_str().unwrap(),
            "check-config",
            "--config",
        ])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(dir.path().to_str().unwrap(), "DIR"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_passes_good_settings_and_names_the_line_of_a_bad_one() {
    let (code, out, _) = check_config("[keyhatch]\nmode = \"local\"\ntag = \"lab\"\n");
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "keyhatch: the settings are good (DIR/keyhatch.toml; local mode)\n"
    );

    let (code, _, said) = check_config("[keyhatch]\nmode = \"local\"\n\ntag = \"two words\"\n");
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("line 4: tag = \"two words\""), "{said}");

    let (code, _, said) = check_config("[keyhatch]\nmode = \"local\"\nno-such-setting = 1\n");
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("line 3: unknown setting `no-such-setting`"),
        "{said}"
    );

    let (code, _, said) = check_config("[keyhatch]\nmode = \"local\nport = 3\n");
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("line 2"),
        "a TOML error names its line: {said}"
    );

    // A start with the same bad settings stops with the same status, which the unit's
    // RestartPreventExitStatus=2 does not restart.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyhatch.toml");
    fs::write(&file, "[keyhatch]\ntag = \"two words\"\n").unwrap();
    let out = keyhatch().arg("--config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn keyhatch_tells_systemd_it_is_ready_once_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let systemd = UnixDatagram::bind(&path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let app = spawn_app_with(
        &dir.path().join("home"),
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    let mut message = [0; 64];
    let len = systemd.recv(&mut message).expect("READY=1 within 10 s");
    assert_eq!(&message[..len], b"READY=1");
    // Ready means answering.
    assert_eq!(app.get("/healthz", &[]).status, 200);
}

/// Starts keyhatch with standard error on a pipe (`journal` set: named by `JOURNAL_STREAM`,
/// as systemd names journald's stream) and returns the line it logs once listening.
fn listening_line(journal: bool) -> String {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (reader, writer) = std::io::pipe().unwrap();
    let stream = fs::File::from(std::os::fd::OwnedFd::from(writer.try_clone().unwrap()))
        .metadata()
        .unwrap();
    let mut command = keyhatch();
    command
        .args(["--addr", "127.0.0.1:0", "--config", "none", "--home"])
        .arg(dir.path())
        .env("RUST_LOG", "keyhatch=info")
        // Its login files go with the test's own directory, not root's /tmp/keyhatch-0 (they
        // were left there: the server is killed).
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdout(Stdio::null())
        .stderr(writer);
    if journal {
        command.env(
            "JOURNAL_STREAM",
            format!("{}:{}", stream.dev(), stream.ino()),
        );
    } else {
        command.env_remove("JOURNAL_STREAM");
    }
    let mut child = command.spawn().unwrap();
    drop(command);
    let line = BufReader::new(reader)
        .lines()
        .map(Result::unwrap)
        .find(|line| line.contains("listening"))
        .expect("keyhatch logs that it listens");
    let _ = child.kill();
    let _ = child.wait();
    line
}

#[test]
fn the_log_has_no_terminal_codes_on_a_pipe_and_no_timestamp_of_its_own_under_journald() {
    let plain = listening_line(false);
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(
        plain.starts_with("20") && plain.contains(" INFO keyhatch::server: listening"),
        "{plain:?}"
    );
    let journal = listening_line(true);
    assert!(!journal.contains('\x1b'), "{journal:?}");
    assert!(
        journal.starts_with(" INFO keyhatch::server: listening")
            || journal.starts_with("INFO keyhatch::server: listening"),
        "journald stamps the line itself: {journal:?}"
    );
}

#[test]
fn the_service_opens_its_audit_log_again_on_sighup_as_logrotate_asks() {
    let person = Account::create_person();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let stack = SiteStack::start(&[&person.name], &["--audit-log", log.to_str().unwrap()]);
    let generate = || {
        let reply = stack.post(&person.name, "/api/keys/generate", "{}");
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    generate();
    wait_for(
        || fs::read_to_string(&log).is_ok_and(|l| l.contains("\"generate\"")),
        "the first line",
    );

    // logrotate: move the file away, then SIGHUP.
    let rotated = dir.path().join("audit.log.1");
    fs::rename(&log, &rotated).unwrap();
    let before = fs::read_to_string(&rotated).unwrap();
    let pid = stack.keyhatch.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for(|| Path::new(&log).exists(), "a new audit log after SIGHUP");
    generate();
    wait_for(
        || fs::read_to_string(&log).is_ok_and(|l| l.contains("\"generate\"")),
        "the next line, in the new file",
    );
    assert_eq!(
        fs::read_to_string(&rotated).unwrap(),
        before,
        "nothing more goes to the moved file"
    );
    assert_eq!(
        fs::metadata(&log).unwrap().mode() & 0o777,
        0o600,
        "the new file is private"
    );
}

#[test]
fn metrics_count_a_generate_and_a_refusal_and_name_nobody() {
    let person = Account::create_person();
    let port = free_port();
    let stack = SiteStack::start(
        &[&person.name],
        &[
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
            "--keys-per-hour",
            "1",
        ],
    );
    let first = stack.post(&person.name, "/api/keys/generate", "{}");
    assert_eq!(first.status, 200, "{}", first.body);
    let fingerprint = first.json()["info"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = stack.post(&person.name, "/api/keys/generate", "{}");
    assert_eq!(second.status, 429, "{}", second.body);

    let scraped = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap();
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = scraped.into_body().read_to_string().unwrap();
    assert!(
        text.contains("keyhatch_operations_total{action=\"generate\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("keyhatch_operations_total{action=\"generate\",outcome=\"too many\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("keyhatch_refusals_total{reason=\"keys-per-hour\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("keyhatch_helper_seconds_count "), "{text}");
    assert!(
        !text.contains(&person.name) && !text.contains(&fingerprint),
        "no account or key in a label: {text}"
    );
    // Only /metrics is served there, and it is not served on the page's listener.
    let other = ureq::get(&format!("http://127.0.0.1:{port}/api/keys/list")).call();
    assert!(
        matches!(other, Err(ureq::Error::StatusCode(404))),
        "{other:?}"
    );
    assert_eq!(stack.get(&person.name, "/metrics").status, 404);
}

#[test]
fn a_hangup_while_site_mode_starts_does_not_end_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("keyhatch.sock");
    let mut child = keyhatch()
        .args([
            "--mode",
            "site",
            "--proxy-user",
            "www-data",
            "--config",
            "none",
        ])
        .args(["--public-url", "http://localhost:1", "--socket"])
        .arg(&socket)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // From keyhatch's first step (it holds SIGHUP back first thing in main; before that, in the
    // dynamic loader, only the parent can help: the unit's reload waits for the start to
    // finish) until it serves, a SIGHUP every millisecond, as logrotate's may land during a
    // restart. (Before main ignored it, a SIGHUP 1 ms after the start ended site mode with
    // status 129: the red team's finding. This test starts sending once SIGHUP is held back,
    // ignored or caught, so it guards that from the first step on, not the loader's window.)
    let pid = child.id();
    wait_for(|| hangup_is_handled(pid), "keyhatch's first step");
    let started = std::time::Instant::now();
    while !socket.exists() && started.elapsed() < Duration::from_secs(10) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGHUP,
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(socket.exists(), "site mode's socket");
    std::thread::sleep(Duration::from_millis(300));
    let ended = child.try_wait().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ended, None, "a SIGHUP at start ended site mode");
}

/// Red team (helper-65): main ignored SIGHUP until the settings were read, and a hangup in
/// those milliseconds was lost: a terminal closed as keyhatch started left local mode serving,
/// with nobody to stop it (5 starts in 30). It is held back instead, and taken once the mode
/// is known: local mode ends.
#[test]
fn a_hangup_while_local_mode_starts_ends_it() {
    for _ in 0..10 {
        let (home, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut child = keyhatch()
            .args(["--config", "none", "--addr", "127.0.0.1:0", "--home"])
            .arg(home.path())
            .env("XDG_RUNTIME_DIR", runtime.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Looked at without pause: the moment between main's first step and the settings read
        // is a few milliseconds.
        let looking = std::time::Instant::now();
        while !hangup_is_handled(pid) && looking.elapsed() < Duration::from_secs(10) {}
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGHUP,
        );
        let started = std::time::Instant::now();
        let mut ended = None;
        while ended.is_none() && started.elapsed() < Duration::from_secs(5) {
            ended = child.try_wait().unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            ended.is_some(),
            "a SIGHUP as local mode started left it serving"
        );
    }
}

/// Red team (helper-64): main set SIGHUP to stop local mode whatever keyhatch had inherited,
/// so one started with `nohup` stopped on the very hangup of a logout that nohup was there for.
/// It keeps ignoring hangups, and stops on SIGTERM as ever, removing its login files. Nor does
/// a hangup open its audit log again, as site mode's does (helper-67: without the walk of its
/// directories that a start makes, into one another account had made meanwhile).
#[test]
fn local_mode_started_with_nohup_keeps_serving_after_a_hangup() {
    let home = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("audit.log");
    let app = spawn_app_through(
        home.path(),
        &["nohup"],
        &[("KEYHATCH_AUDIT_LOG", log.to_str().unwrap())],
    );
    let moved = logs.path().join("audit.log.1");
    fs::rename(&log, &moved).unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        app.get_authorized("/api/keys/list").status,
        200,
        "it serves after the hangup"
    );
    assert!(
        !log.exists(),
        "the audit log was opened again on the hangup"
    );
    let runtime = app.stop();
    let left = fs::read_dir(runtime.path().join("keyhatch")).map_or(0, Iterator::count);
    assert_eq!(left, 0, "the login files are removed at the stop");
}

/// Whether process `pid` holds SIGHUP back (`SigBlk`), ignores it (`SigIgn`) or catches it
/// (`SigCgt`): signal 1, bit 0 of any of those masks in its status.
fn hangup_is_handled(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("SigIgn:")
                    .or_else(|| l.strip_prefix("SigCgt:"))
                    .or_else(|| l.strip_prefix("SigBlk:"))
            })
            .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .any(|mask| mask & 1 == 1)
    })
}

#[test]
fn local_mode_stops_on_a_hangup_as_a_terminals_program_and_removes_its_login_files() {
    let home = tempfile::tempdir().unwrap();
    let mut app = spawn_app_with(home.path(), &[]);
    let login_files = |dir: &Path| fs::read_dir(dir.join("keyhatch")).map_or(0, Iterator::count);
    wait_for(|| hangup_is_handled(app.pid()), "keyhatch's hangup handler");
    assert!(login_files(app.runtime.path()) > 0);
    assert!(
        Command::new("kill")
            .args(["-HUP", &app.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(app.wait().success(), "stopped as on Ctrl-C");
    assert_eq!(
        login_files(app.runtime.path()),
        0,
        "the login files are removed"
    );
}

#[test]
fn check_config_refuses_a_relative_audit_log_as_a_start_would() {
    let (code, _, said) = check_config("[keyhatch]\naudit-log = \"audit.log\"\n");
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("audit-log audit.log is a relative path"),
        "{said}"
    );
}

#[test]
fn a_taken_metrics_port_below_1024_stops_the_start_as_only_root_can_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let holder = (800..1000)
        .find_map(|port| std::net::TcpListener::bind(("127.0.0.1", port)).ok())
        .expect("a free port below 1024 (the tests run as root)");
    let addr = holder.local_addr().unwrap().to_string();
    let (code, said) = crate::helpers::exit_of(
        keyhatch()
            .args(["--addr", "127.0.0.1:0", "--config", "none", "--home"])
            .arg(dir.path())
            .args(["--metrics-addr", &addr]),
    );
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains(&format!("cannot listen for metrics on {addr}")),
        "{said}"
    );
}

/// Red team (helper-71): keyhatch's memory holds passphrases, Platform tokens and private keys,
/// and started where cores are allowed (`ulimit -c unlimited`, `LimitCORE=infinity`) an abort
/// wrote all three to a core file. Its limit is now 0, for good, and it is not dumpable: no core
/// is written, and the account's other processes cannot read its memory or environment.
#[test]
fn keyhatch_writes_no_core_file_and_its_account_cannot_read_its_memory() {
    let alice = Account::create_person();
    let mut server = Command::new("prlimit")
        .args(["--core=unlimited", "--", "setpriv"])
        .args([
            &format!("--reuid={}", alice.uid),
            &format!("--regid={}", alice.gid),
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_keyhatch"),
            "--addr",
            "127.0.0.1:0",
            "--home",
        ])
        .arg(alice.home())
        .env_remove("XDG_RUNTIME_DIR")
        .env("KEYHATCH_CONFIG", "none")
        .current_dir("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(server.stdout.take().unwrap());
    let serving = out
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("token="));
    let proc = Path::new("/proc").join(server.id().to_string());
    let limits = fs::read_to_string(proc.join("limits")).unwrap();
    let owner = fs::metadata(proc.join("environ")).map(|m| m.uid());
    let read = alice.run("cat", &[proc.join("environ").to_str().unwrap()]);
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    assert!(serving, "keyhatch started");
    let core = limits.lines().find(|l| l.starts_with("Max core file size"));
    let core: Vec<&str> = core.unwrap().split_whitespace().collect();
    assert_eq!(core[4..6], ["0", "0"], "{limits}");
    assert_eq!(
        owner.unwrap(),
        0,
        "not dumpable: its /proc files are root's"
    );
    assert!(!read.status.success(), "alice read its environment");
}

/// Red team (helper-72): a stop closed keyhatch's port at once, but while it waited for a change
/// `keyhatch link` still gave out links to that port, which another account could take by then
/// and serve a page of its own at the link's origin. The login files and the link socket go as
/// the stop begins.
#[test]
fn a_stop_takes_the_login_files_and_link_socket_away_as_it_begins() {
    use std::io::{Read, Write};

    let home = tempfile::tempdir().unwrap();
    let app = crate::helpers::spawn_app(home.path());
    let old = app.generate(None)["info"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    // The person's own program holds their file: the revoke waits for it.
    let keys = home.path().join(".ssh/authorized_keys");
    let mut holder = Command::new("python3")
        .args(["-c", crate::helpers::HOLD_LOCK, keys.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut held = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut held)
        .unwrap();
    let body = serde_json::json!({ "fingerprint": old }).to_string();
    let mut client = std::net::TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    let request = format!(
        "POST /api/keys/revoke HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.port,
        crate::helpers::TOKEN,
        body.len()
    );
    client.write_all(request.as_bytes()).unwrap();
    // A `keyhatch link` of the person's, connected before the stop and asking after it
    // (helper-73: it was answered with a link).
    let link = app
        .runtime
        .path()
        .join(format!("keyhatch/link-{}.sock", app.port));
    let mut asking = std::os::unix::net::UnixStream::connect(&link).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = app.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    let runtime = app.runtime.path().join("keyhatch");
    let left: Vec<_> = fs::read_dir(&runtime)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let still_running = Path::new("/proc").join(&pid).exists();
    asking
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = asking.write_all(b"link\n");
    let mut given = String::new();
    let _ = asking.read_to_string(&mut given);
    drop(holder.stdin.take());
    let _ = holder.wait();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(still_running, "the stop was waiting for the revoke");
    assert!(left.is_empty(), "left while the stop waited: {left:?}");
    assert!(
        !given.contains("token="),
        "a link once the stop began: {given}"
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
