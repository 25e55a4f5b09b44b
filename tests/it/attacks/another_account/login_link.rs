//! The login link: it works once; another account can neither use one nor have keyhatch make
//! one for it; the scripts' credential never logs a browser in from a URL.

use std::fs;
use std::os::unix::fs::PermissionsExt;

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
