//! A person's keyhatch left running when systemd-logind removes `/run/user/UID` (the last
//! session ended): what it kept there comes back at the next login, and nothing another account,
//! or another server of the person's, put in the runtime directory meanwhile is taken for its
//! own, used or removed.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::login_link::{KilledOnDrop, RemovedOnDrop, open_session, squat};
use super::socket_path::{keyhatch_as, mkdir_as, printed_until, stop};
use crate::helpers::Account;

/// systemd-logind removes `/run/user/UID` when the person's last session ends; a keyhatch left
/// running lost its socket, `keyhatch link` and the login files for good. At the next login
/// they are there again.
#[test]
fn a_server_left_running_after_logout_is_reachable_again_at_the_next_login() {
    let alice = Account::create_person();
    let sessions = PathBuf::from(format!("/run/user/{}", alice.uid));
    let _made = RemovedOnDrop(vec![sessions.clone()]);
    open_session(&alice, &sessions);
    let mut server = keyhatch_as(&alice, &["--socket"]).spawn().unwrap();
    let _stop = KilledOnDrop(server.id());
    let announced = printed_until(&mut server, &["keyhatch link"]);
    let dir = sessions.join("keyhatch");
    let socket = dir.join("keyhatch.sock");
    assert!(
        announced.contains(&socket.display().to_string()),
        "{announced}"
    );
    // The last session ends, and a while later the person logs in again.
    fs::remove_dir_all(&sessions).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    open_session(&alice, &sessions);
    assert_eq!(
        log_in_again(&alice, Some(&sessions), &socket),
        "303",
        "the socket serves again"
    );
    let header = fs::read_to_string(dir.join("login-socket.header")).unwrap();
    assert!(header.starts_with("Authorization: Bearer "), "{header}");
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(fs::metadata(&socket).unwrap().mode() & 0o777, 0o600);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
    assert!(!socket.exists() && !dir.join("login-socket.header").exists());
}

/// Red team (helper-64): a cleaner that removes files and keeps directories (`find
/// /tmp/keyhatch-UID -mindepth 1 -delete`, an age-based `/tmp` cleaner) took the link socket,
/// the login files and the socket, and keyhatch made them again only when the directory itself
/// changed: `keyhatch link` said no keyhatch was running. They are made again within seconds,
/// in the same private directory, and the socket serves again.
#[test]
fn what_a_cleaner_removes_from_the_runtime_directory_is_made_again() {
    let alice = Account::create_person();
    let dir = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![dir.clone()]);
    let mut server = keyhatch_as(&alice, &["--socket"]).spawn().unwrap();
    let _stop = KilledOnDrop(server.id());
    let announced = printed_until(&mut server, &["keyhatch link"]);
    let socket = dir.join("keyhatch.sock");
    assert!(
        announced.contains(&socket.display().to_string()),
        "{announced}"
    );
    let cleaned = std::process::Command::new("find")
        .arg(&dir)
        .args(["-mindepth", "1", "-delete"])
        .status()
        .unwrap();
    assert!(cleaned.success());
    assert_eq!(
        log_in_again(&alice, None, &socket),
        "303",
        "the socket serves again"
    );
    assert!(
        dir.join("login-socket.header").exists(),
        "the login files are back"
    );
}

/// Logs `person` in through `socket` with the link `keyhatch link` gives them (with
/// `XDG_RUNTIME_DIR` set to `xdg`, or unset) once it gives one, within 10 s: the HTTP status.
fn log_in_again(person: &Account, xdg: Option<&Path>, socket: &Path) -> String {
    let link = || {
        let mut command = person.command(env!("CARGO_BIN_EXE_keyhatch"));
        command.arg("link").current_dir("/");
        match xdg {
            Some(dir) => command.env("XDG_RUNTIME_DIR", dir),
            None => command.env_remove("XDG_RUNTIME_DIR"),
        };
        let out = command.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut printed = link();
    while !printed.contains("?token=") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        printed = link();
    }
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("?token="))
        .unwrap_or_else(|| panic!("keyhatch link: {printed}"));
    let login = person
        .command("curl")
        .args(["-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--unix-socket", socket.to_str().unwrap(), link])
        .output()
        .unwrap();
    String::from_utf8_lossy(&login.stdout).into_owned()
}

/// Made again, a runtime directory in a directory another account made meanwhile (an
/// `XDG_RUNTIME_DIR` in `/tmp`, removed by a cleaner) would let that account swap it for its
/// own and take the login links sent there: nothing is made in it.
#[test]
fn a_runtime_directory_whose_parent_another_account_made_again_is_not_used() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let runtime = PathBuf::from(format!("/tmp/khxdg-{}", alice.uid));
    let _made = RemovedOnDrop(vec![runtime.clone()]);
    assert!(
        alice
            .run("mkdir", &["-m", "700", runtime.to_str().unwrap()])
            .status
            .success()
    );
    let mut server = keyhatch_as(&alice, &["--addr", "127.0.0.1:0"])
        .env("XDG_RUNTIME_DIR", &runtime)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    printed_until(&mut server, &["keyhatch link"]);
    // The link socket and the two login files.
    assert_eq!(fs::read_dir(runtime.join("keyhatch")).unwrap().count(), 3);
    fs::remove_dir_all(&runtime).unwrap();
    squat(&stranger, &runtime, "777");
    std::thread::sleep(std::time::Duration::from_secs(5));
    let made = runtime.join("keyhatch");
    let inside: Vec<_> = fs::read_dir(&made)
        .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        inside.is_empty(),
        "made in another account's directory: {inside:?}"
    );
    let _ = server.kill();
    let _ = server.wait();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut said).unwrap();
    assert!(
        said.contains(&format!(
            "the directory {} belongs to uid {}",
            runtime.display(),
            stranger.uid
        )),
        "{said}"
    );
}

/// Red team (helper-60): a second server started within two seconds of the next login made the
/// default socket, the link socket and the login files first; the first server took them for
/// its own, and at its stop removed them, leaving the second unreachable.
#[test]
fn a_server_started_at_the_next_login_keeps_what_it_made() {
    let alice = Account::create_person();
    let sessions = PathBuf::from(format!("/run/user/{}", alice.uid));
    let _made = RemovedOnDrop(vec![sessions.clone()]);
    open_session(&alice, &sessions);
    let (mut first, _) = serve_default_socket(&alice);
    let _stop_first = KilledOnDrop(first.id());
    fs::remove_dir_all(&sessions).unwrap();
    open_session(&alice, &sessions);
    let (mut second, said) = serve_default_socket(&alice);
    let _stop_second = KilledOnDrop(second.id());
    assert!(said.contains("run: keyhatch link\n"), "{said}");
    let dir = sessions.join("keyhatch");
    let made: Vec<_> = [
        "keyhatch.sock",
        "link-socket.sock",
        "login-socket.url",
        "login-socket.header",
    ]
    .map(|name| fs::symlink_metadata(dir.join(name)).unwrap().ino())
    .into();
    std::thread::sleep(std::time::Duration::from_secs(3));
    stop(&mut first);
    let now: Vec<_> = [
        "keyhatch.sock",
        "link-socket.sock",
        "login-socket.url",
        "login-socket.header",
    ]
    .map(|name| fs::symlink_metadata(dir.join(name)).map_or(0, |m| m.ino()))
    .into();
    assert_eq!(now, made, "the second server's sockets and files");
    let answer = alice
        .command("curl")
        .args([
            "-s",
            "-m",
            "5",
            "--unix-socket",
            dir.join("keyhatch.sock").to_str().unwrap(),
        ])
        .arg("http://127.0.0.1:3000/healthz")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&answer.stdout), "ok\n");
    stop(&mut second);
}

/// Red team (helper-60): another account put a link to the person's session directory where a
/// removed `/tmp/keyhatch-UID` had been; the server that had used it removed, at its stop, the
/// socket and files of the person's other server through that link.
#[test]
fn a_stop_removes_nothing_through_a_link_another_account_put_in_its_place() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let tmp = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let sessions = PathBuf::from(format!("/run/user/{}", alice.uid));
    let _made = RemovedOnDrop(vec![tmp.clone(), sessions.clone()]);
    let (mut first, _) = serve_default_socket(&alice);
    let _stop_first = KilledOnDrop(first.id());
    open_session(&alice, &sessions);
    let (mut second, _) = serve_default_socket(&alice);
    let _stop_second = KilledOnDrop(second.id());
    let dir = sessions.join("keyhatch");
    let before: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before.len(), 4, "{before:?}");
    fs::remove_dir_all(&tmp).unwrap();
    let linked = stranger.run("ln", &["-s", dir.to_str().unwrap(), tmp.to_str().unwrap()]);
    assert!(linked.status.success());
    stop(&mut first);
    let after: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(after.len(), 4, "{after:?}");
    let _ = fs::remove_file(&tmp);
    stop(&mut second);
}

/// Red team (helper-63): a socket given with `--socket` in a directory of the person's in
/// `/tmp`: once the directory was removed (a cleaner), another account made it again and served
/// the start's address there, and keyhatch said nothing. It says to close the forward.
#[test]
fn a_socket_directory_removed_under_a_running_server_is_reported() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let dir = PathBuf::from(format!("/tmp/khsock-{}", alice.uid));
    let _made = RemovedOnDrop(vec![
        dir.clone(),
        format!("/tmp/keyhatch-{}", alice.uid).into(),
    ]);
    mkdir_as(&alice, &dir);
    let socket = dir.join("kh.sock");
    let mut server = keyhatch_as(&alice, &["--socket", socket.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    printed_until(&mut server, &["keyhatch link"]);
    fs::remove_dir_all(&dir).unwrap();
    squat(&stranger, &dir, "777");
    std::thread::sleep(std::time::Duration::from_secs(3));
    stop(&mut server);
    let mut said = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut said).unwrap();
    assert!(said.contains("was removed or replaced"), "{said}");
    assert!(said.contains("close that forward"), "{said}");
}

/// Red team (helper-63): at its stop, keyhatch removed a stale socket of the person's that it
/// had not made, reached through a link another account put where its removed directory had
/// been.
#[test]
fn a_stop_removes_no_socket_it_did_not_make() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let tmp = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![tmp.clone()]);
    let other = alice.home().join("other");
    mkdir_as(&alice, &other);
    let theirs = other.join("keyhatch.sock");
    drop(std::os::unix::net::UnixListener::bind(&theirs).unwrap());
    std::os::unix::fs::chown(&theirs, Some(alice.uid), Some(alice.gid)).unwrap();
    let (mut server, _) = serve_default_socket(&alice);
    let _stop = KilledOnDrop(server.id());
    fs::remove_dir_all(&tmp).unwrap();
    let linked = stranger.run(
        "ln",
        &["-s", other.to_str().unwrap(), tmp.to_str().unwrap()],
    );
    assert!(linked.status.success());
    stop(&mut server);
    assert!(theirs.exists(), "the person's own stale socket is left");
    let _ = fs::remove_file(&tmp);
}

/// Starts keyhatch as `person` on its default socket, without `XDG_RUNTIME_DIR`, and returns it
/// with what it printed up to its login link and `keyhatch link`.
fn serve_default_socket(person: &Account) -> (std::process::Child, String) {
    let mut server = keyhatch_as(person, &["--socket"]).spawn().unwrap();
    let announced = printed_until(&mut server, &["keyhatch link"]);
    (server, announced)
}
