//! The login link: it works once; another account can neither use one nor have keyhatch make
//! one for it; the scripts' credential never logs a browser in from a URL.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::helpers::{Account, TOKEN, spawn_app};

#[test]
fn a_login_link_works_once_and_a_used_one_says_how_to_get_a_new_one() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    // The link keyhatch printed at start, also in its private file.
    let printed = fs::read_to_string(
        app.runtime
            .path()
            .join(format!("keyhatch/login-{}.url", app.port)),
    )
    .unwrap();
    let path = &printed.trim()[printed.find("/?token=").unwrap_or_default()..];
    assert!(path.starts_with("/?token="), "{printed}");
    assert!(
        !printed.contains(TOKEN),
        "the link is not the scripts' credential"
    );

    let first = app.get(path, &[]);
    assert_eq!(first.status, 303, "{}", first.body);
    assert!(first.header("set-cookie").contains("keyhatch_session_"));
    let again = app.get(path, &[]);
    assert_eq!(again.status, 401, "a used link logged in again");
    assert!(again.header("set-cookie").is_empty());
    assert!(again.body.contains("keyhatch link"), "{}", again.body);

    // `keyhatch link` makes a new one, which works once too.
    let fresh = app.login_path();
    assert_ne!(fresh, path);
    assert_eq!(app.get(&fresh, &[]).status, 303);
    assert_eq!(app.get(&fresh, &[]).status, 401);
}

#[test]
fn the_scripts_credential_in_a_url_logs_nobody_in() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let as_link = app.get(&format!("/?token={TOKEN}"), &[]);
    assert_eq!(as_link.status, 401, "{}", as_link.body);
    assert!(as_link.header("set-cookie").is_empty());
    assert_eq!(app.get_authorized("/api/keys/list").status, 200);
}

#[test]
fn another_account_cannot_have_keyhatch_make_it_a_login_link() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let dir = app.runtime.path().join("keyhatch");
    let socket = dir.join(format!("link-{}.sock", app.port));
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&dir), mode(&socket)), (0o700, 0o600));

    // Even with the directory and the socket opened up, the peer's credentials tell it apart.
    for path in [app.runtime.path(), &dir] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
    let stranger = Account::create();
    let answer = stranger.python(
        "import socket,sys\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.connect(sys.argv[1])\n\
         answer = b''\n\
         try:\n\
         \x20   s.sendall(b'link\\n')\n\
         \x20   while chunk := s.recv(4096): answer += chunk\n\
         except ConnectionError:\n\
         \x20   pass\n\
         print('answer:', answer.decode(errors='replace'))",
        &[socket.to_str().unwrap()],
    );
    assert!(answer.starts_with("answer:"), "{answer}");
    assert!(!answer.contains("token="), "{answer}");
    // Nor does `keyhatch link` run as that account find one.
    let exe = env!("CARGO_BIN_EXE_keyhatch");
    let out = stranger.run(
        "/usr/bin/env",
        &[
            &format!("XDG_RUNTIME_DIR={}", app.runtime.path().display()),
            exe,
            "link",
        ],
    );
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("token="));
    // A link it read (a batch job's output) is refused before it is looked at, so it is not
    // used up either.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let link = app.login_path();
    let answer = stranger.http(
        app.port,
        &format!("GET {link} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(
        app.get(&link, &[]).status,
        303,
        "the owner's link still works"
    );
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();

    // The owner's `keyhatch link` trusts only a private directory; closed again, it works.
    let refused = std::process::Command::new(exe)
        .arg("link")
        .env("XDG_RUNTIME_DIR", app.runtime.path())
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a directory open to others");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(app.get(&app.login_path(), &[]).status, 303);
}

/// Red team (helper-49): without `XDG_RUNTIME_DIR` (`su`, `sudo`, cron), the runtime directory
/// was `/tmp/keyhatch-UID`, which another account can make first: keyhatch then started
/// without `keyhatch link` or its login files. Where systemd-logind keeps a directory for the
/// person's sessions, `/run/user/UID`, which only root can make, keyhatch uses that instead.
#[test]
fn a_runtime_directory_another_account_made_in_tmp_is_passed_by_for_the_sessions_own() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let squatted = std::path::PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let sessions = std::path::PathBuf::from(format!("/run/user/{}", alice.uid));
    // Removed however the test ends, before the accounts are.
    let _made = RemovedOnDrop(vec![squatted.clone(), sessions.clone()]);
    squat(&stranger, &squatted, "700");
    open_session(&alice, &sessions);

    let printed = link_without_xdg_runtime_dir(&alice, || {});
    assert!(printed.contains("token="), "{printed}");
    let dir = fs::symlink_metadata(sessions.join("keyhatch")).unwrap();
    assert_eq!((dir.uid(), dir.mode() & 0o777), (alice.uid, 0o700));
}

/// The same without a session directory (a batch job on a node where the person has no
/// session): keyhatch keeps its runtime files in the person's home, under a name for this
/// host, rather than in another account's directory.
#[test]
fn a_runtime_directory_another_account_made_in_tmp_is_passed_by_for_one_in_the_home() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let squatted = std::path::PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![squatted.clone()]);
    squat(&stranger, &squatted, "700");

    let printed = link_without_xdg_runtime_dir(&alice, || {});
    assert!(printed.contains("token="), "{printed}");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let dir = alice.home().join(format!(".keyhatch-run-{}", host.trim()));
    let meta = fs::symlink_metadata(&dir).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (alice.uid, 0o700));
    assert!(
        fs::read_dir(&squatted).unwrap().next().is_none(),
        "nothing went into the stranger's"
    );
}

/// Red team (helper-53): a server started before the person's session directory existed keeps
/// its files in `/tmp/keyhatch-UID`; once `/run/user/UID` is made, `keyhatch link` looked only
/// there, and said no keyhatch of theirs was running.
#[test]
fn keyhatch_link_finds_a_server_that_started_before_the_session_directory() {
    let alice = Account::create_person();
    let tmp = std::path::PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let sessions = std::path::PathBuf::from(format!("/run/user/{}", alice.uid));
    let _made = RemovedOnDrop(vec![tmp.clone(), sessions.clone()]);
    let printed = link_without_xdg_runtime_dir(&alice, || {
        open_session(&alice, &sessions);
    });
    assert!(printed.contains("token="), "{printed}");
    assert!(tmp.is_dir(), "the server's files were in /tmp");
}

/// Red team (helper-53): with `/run/user/UID` there, a socket given in another account's
/// `/tmp/keyhatch-UID` (an old script's path) went unchecked: that account put its own socket
/// in its place and took the person's login link. A socket path whose directories another
/// account can change is refused.
/// Starts keyhatch as `person` without `XDG_RUNTIME_DIR`, runs `between` once it has announced
/// its link, then `keyhatch link` as them, stops it, and returns what `link` printed (with its
/// errors).
fn link_without_xdg_runtime_dir(person: &Account, between: impl FnOnce()) -> String {
    let exe = env!("CARGO_BIN_EXE_keyhatch");
    let home = person.home();
    let as_person = |args: &[&str]| {
        let mut command = person.command(exe);
        command
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .env("KEYHATCH_CONFIG", "none")
            .current_dir("/");
        command
    };
    let mut server = as_person(&["--addr", "127.0.0.1:0", "--home", home.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(server.stdout.take().unwrap()));
    let mut announced = String::new();
    while !announced.contains("token=") {
        announced = lines.next().expect("keyhatch announces its link").unwrap();
    }
    between();
    let link = as_person(&["link"]).output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    format!(
        "{}{}",
        String::from_utf8_lossy(&link.stdout),
        String::from_utf8_lossy(&link.stderr)
    )
}

/// `dir` (`/tmp/keyhatch-UID` of another) made first by `stranger`, with `mode`.
pub(super) fn squat(stranger: &Account, dir: &std::path::Path, mode: &str) {
    let made = stranger.run("mkdir", &["-m", mode, dir.to_str().unwrap()]);
    assert!(made.status.success(), "{made:?}");
}

/// `dir`, `/run/user/UID` of `person`, as systemd-logind makes it at their first login.
pub(super) fn open_session(person: &Account, dir: &std::path::Path) {
    fs::create_dir(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(dir, Some(person.uid), Some(person.gid)).unwrap();
}

/// Paths removed, as root, when dropped.
pub(super) struct RemovedOnDrop(pub(super) Vec<std::path::PathBuf>);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_dir_all(path).or_else(|_| fs::remove_file(path));
        }
    }
}

/// A process killed by its PID when dropped.
pub(super) struct KilledOnDrop(pub(super) u32);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}
