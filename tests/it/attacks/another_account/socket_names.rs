//! The names `keyhatch link NAME` reaches a person's servers by: each server claims one no other
//! live server of the account has, in any of its runtime directories, and keeps its own link
//! socket and login files under it; nothing another account put in a runtime directory it
//! cannot use holds a start up.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::login_link::{KilledOnDrop, RemovedOnDrop, squat};
use super::socket_path::{keyhatch_as, mkdir_as, printed_until, serve_on_socket, stop};
use crate::helpers::Account;

/// Two servers of one account on sockets both answered `keyhatch link` as `socket`: the second
/// took the first's link socket and login files, and the first's link could no longer be had.
#[test]
fn two_servers_on_sockets_each_keep_their_own_login_link() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let (a, b) = (alice.home().join("a"), alice.home().join("b"));
    mkdir_as(&alice, &a);
    mkdir_as(&alice, &b);
    let (mut first, said_first) = serve_on_socket(&alice, "kh.sock", &a);
    let _stop_first = KilledOnDrop(first.id());
    let (mut second, said_second) = serve_on_socket(&alice, "kh.sock", &b);
    let _stop_second = KilledOnDrop(second.id());
    assert!(said_first.contains("run: keyhatch link\n"), "{said_first}");
    assert!(
        said_second.contains("run: keyhatch link socket-2\n"),
        "{said_second}"
    );
    for (name, dir) in [("socket", &a), ("socket-2", &b)] {
        let link = alice
            .command(env!("CARGO_BIN_EXE_keyhatch"))
            .args(["link", name])
            .env_remove("XDG_RUNTIME_DIR")
            .current_dir("/")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&link.stdout);
        let url = printed
            .split_whitespace()
            .find(|w| w.contains("?token="))
            .unwrap_or_else(|| {
                panic!("{name}: {printed}{}", String::from_utf8_lossy(&link.stderr))
            });
        // The link logs in at the server it came from.
        let login = alice
            .command("curl")
            .args(["-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["--unix-socket", dir.join("kh.sock").to_str().unwrap(), url])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&login.stdout), "303", "{name}");
    }
    let files = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    for file in ["login-socket.url", "login-socket-2.url"] {
        assert!(files.join(file).exists(), "{file}");
    }
    stop(&mut second);
    assert!(!files.join("login-socket-2.url").exists());
    assert!(
        files.join("login-socket.url").exists(),
        "the first's files outlive the second"
    );
    stop(&mut first);
}

/// Red team (helper-59): two servers started at the same moment both took `socket` (3 times in
/// 5): one link socket and a mixed pair of login files, and the first to stop removed them.
#[test]
fn two_servers_started_at_once_never_share_a_name() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let (a, b) = (alice.home().join("a"), alice.home().join("b"));
    mkdir_as(&alice, &a);
    mkdir_as(&alice, &b);
    for round in 0..5 {
        let ((mut first, said_first), (mut second, said_second)) = std::thread::scope(|scope| {
            let first = scope.spawn(|| serve_on_socket(&alice, "kh.sock", &a));
            let second = scope.spawn(|| serve_on_socket(&alice, "kh.sock", &b));
            (first.join().unwrap(), second.join().unwrap())
        });
        let _stops = (KilledOnDrop(first.id()), KilledOnDrop(second.id()));
        let named = |said: &str| said.contains("run: keyhatch link socket-2\n");
        assert!(
            named(&said_first) != named(&said_second),
            "round {round}: {said_first}\n{said_second}"
        );
        stop(&mut first);
        stop(&mut second);
    }
}

/// Red team (helper-59): the name was looked for with a blocking connect in the runtime
/// directory before it was checked; another account that had made `/tmp/keyhatch-UID` and the
/// fallback in a home others can write, with a socket whose queue was full, held the start up
/// for good.
#[test]
fn another_account_cannot_hold_up_the_start_through_a_runtime_directory_it_made() {
    use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
    let alice = Account::create_person();
    let stranger = Account::create();
    let home = alice.home();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777)).unwrap();
    let tmp = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let fallback = home.join(format!(".keyhatch-run-{host}"));
    let _made = RemovedOnDrop(vec![tmp.clone()]);
    squat(&stranger, &tmp, "777");
    squat(&stranger, &fallback, "777");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let full = fallback.join(format!("link-{port}.sock"));
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let listener = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None).unwrap();
    let addr = UnixAddr::new(&full).unwrap();
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&listener), &addr).unwrap();
    socket::listen(&listener, Backlog::new(0).unwrap()).unwrap();
    fs::set_permissions(&full, fs::Permissions::from_mode(0o777)).unwrap();
    let queued: Vec<_> = (0..3)
        .map(|_| {
            let c = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None).unwrap();
            let _ = socket::connect(std::os::fd::AsRawFd::as_raw_fd(&c), &addr);
            c
        })
        .collect();
    let port = format!("127.0.0.1:{port}");
    let mut server = keyhatch_as(&alice, &["--addr", &port]).spawn().unwrap();
    let _stop = KilledOnDrop(server.id());
    let (said, read) = std::sync::mpsc::channel();
    let out = server.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::Read::take(out, 4096), &mut text);
        let _ = said.send(text);
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    stop(&mut server);
    let said = read
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("keyhatch ends");
    assert!(said.contains("?token="), "it started serving: {said}");
    assert!(said.contains("keyhatch link will not work"), "{said}");
    drop(queued);
}

/// Red team (helper-59): a server with `XDG_RUNTIME_DIR` and one without, each in its own
/// runtime directory, were both `socket`: `keyhatch link socket` reached only one.
#[test]
fn servers_in_two_runtime_directories_are_named_apart() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let (a, xdg) = (alice.home().join("a"), alice.home().join("xdg"));
    mkdir_as(&alice, &a);
    mkdir_as(&alice, &xdg);
    let (mut first, said_first) = serve_on_socket(&alice, "kh.sock", &a);
    let _stop_first = KilledOnDrop(first.id());
    let mut second = keyhatch_as(&alice, &["--socket", xdg.join("kh.sock").to_str().unwrap()])
        .env("XDG_RUNTIME_DIR", &xdg)
        .spawn()
        .unwrap();
    let _stop_second = KilledOnDrop(second.id());
    let said_second = printed_until(&mut second, &["keyhatch link"]);
    assert!(said_first.contains("run: keyhatch link\n"), "{said_first}");
    assert!(
        said_second.contains("run: keyhatch link socket-2"),
        "{said_second}"
    );
    assert!(Path::new(&xdg).join("keyhatch/link-socket-2.sock").exists());
    stop(&mut second);
    stop(&mut first);
}

/// Red team (helper-61): a server that could not claim a name (its runtime directory held
/// locked) wrote its login files under the name anyway: over another server's, whose header then
/// logged nobody in there, and removed them at its stop.
#[test]
fn a_server_without_a_name_leaves_anothers_login_files_alone() {
    let alice = Account::create_person();
    let runtime = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![runtime.clone()]);
    let (a, b) = (alice.home().join("a"), alice.home().join("b"));
    mkdir_as(&alice, &a);
    mkdir_as(&alice, &b);
    let (mut first, _) = serve_on_socket(&alice, "kh.sock", &a);
    let _stop_first = KilledOnDrop(first.id());
    let header = runtime.join("login-socket.header");
    let before = fs::read_to_string(&header).unwrap();
    // Held by this test (root), not by a process of the person's that userdel would wait for.
    let held = fs::File::open(&runtime).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let (mut second, said) = serve_on_socket(&alice, "kh.sock", &b);
    let _stop_second = KilledOnDrop(second.id());
    assert!(said.contains("keyhatch link will not work"), "{said}");
    assert_eq!(fs::read_to_string(&header).unwrap(), before);
    stop(&mut second);
    assert_eq!(fs::read_to_string(&header).unwrap(), before);
    // Stopped right after it announced itself, it still removed its socket: its handlers for
    // Ctrl-C were in place before it printed anything.
    assert!(!b.join("kh.sock").exists());
    drop(held);
    stop(&mut first);
}

/// Red team (helper-61): the runtime directory's own directories were not checked at start: in
/// a home others can write, another account can rename `~/.keyhatch-run-HOST` away and put its
/// own there. Neither the link socket nor the login files are made in it.
#[test]
fn a_runtime_directory_in_a_home_others_can_write_is_not_used() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let home = alice.home();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777)).unwrap();
    let tmp = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![tmp.clone()]);
    squat(&stranger, &tmp, "777");
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let fallback = home.join(format!(".keyhatch-run-{host}"));
    mkdir_as(&alice, &fallback);
    let sockets = PathBuf::from(format!("/tmp/khrun-{}", alice.uid));
    let _sockets = RemovedOnDrop(vec![sockets.clone()]);
    mkdir_as(&alice, &sockets);
    let (mut server, said) = serve_on_socket(&alice, "kh.sock", &sockets);
    let _stop = KilledOnDrop(server.id());
    let open = format!(
        "group or others can write the directory {} (mode 777)",
        home.display()
    );
    assert!(said.contains("keyhatch link will not work"), "{said}");
    assert!(said.contains(&open), "{said}");
    // Who made the start end up in the home is named (red team, helper-65: nothing said).
    let squatter = format!(
        "another account, uid {}, made {} first",
        stranger.uid,
        tmp.display()
    );
    assert!(said.contains(&squatter), "{said}");
    let inside: Vec<_> = fs::read_dir(&fallback)
        .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(inside.is_empty(), "{inside:?}");
    stop(&mut server);
    let (code, refused) = crate::helpers::exit_of(&mut keyhatch_as(&alice, &["--socket"]));
    assert_eq!(code, Some(1), "{refused}");
    assert!(refused.contains(&squatter), "{refused}");
}

/// Red team (helper-61): `keyhatch link` to a server of the person's that is stopped (Ctrl-Z)
/// and whose queue is full waited without end.
#[test]
fn keyhatch_link_to_a_stopped_server_ends_with_the_reason() {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
    let alice = Account::create_person();
    let runtime = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![runtime.clone()]);
    let run = alice.home().join("run");
    mkdir_as(&alice, &run);
    let (mut server, _) = serve_on_socket(&alice, "kh.sock", &run);
    let _stop = KilledOnDrop(server.id());
    let signal = |name: &str| {
        let sent = std::process::Command::new("kill")
            .args([name, &server.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    signal("-STOP");
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let addr = UnixAddr::new(&runtime.join("link-socket.sock")).unwrap();
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let mut queued = Vec::new();
    loop {
        let c = socket::socket(AddressFamily::Unix, SockType::Stream, flags, None).unwrap();
        if socket::connect(std::os::fd::AsRawFd::as_raw_fd(&c), &addr).is_err() {
            break;
        }
        queued.push(c);
        assert!(queued.len() < 100_000);
    }
    let started = std::time::Instant::now();
    let link = alice
        .command("timeout")
        .args(["20", env!("CARGO_BIN_EXE_keyhatch"), "link"])
        .env_remove("XDG_RUNTIME_DIR")
        .current_dir("/")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&link.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{said}"
    );
    assert!(said.contains("is it stopped"), "{said}");
    drop(queued);
    signal("-CONT");
    stop(&mut server);
}

/// Red team (helper-61, helper-60): with the default socket in `/tmp/keyhatch-UID`, removed (a
/// cleaner, or the person) and made again by another account, which listened at the same name,
/// a forward opened to it sent that account the next request. Once that account had gone, the
/// socket was made again on the same address, where a script it had served for good ran in
/// keyhatch's page and added its key. The socket is never made again there, and keyhatch says
/// what to do.
#[test]
fn a_default_socket_whose_directory_another_account_could_take_is_not_made_again() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let runtime = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let _made = RemovedOnDrop(vec![runtime.clone()]);
    let mut server = keyhatch_as(&alice, &["--socket"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    let forward = printed_until(&mut server, &["ssh -L"]);
    assert!(
        forward.contains(&runtime.display().to_string()),
        "{forward}"
    );
    fs::remove_dir_all(&runtime).unwrap();
    squat(&stranger, &runtime, "777");
    std::thread::sleep(std::time::Duration::from_secs(3));
    // The other account leaves, and the directory is the person's again.
    fs::remove_dir_all(&runtime).unwrap();
    mkdir_as(&alice, &runtime);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(!runtime.join("keyhatch.sock").exists(), "made again");
    stop(&mut server);
    let mut said = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut said).unwrap();
    assert!(said.contains("close that forward"), "{said}");
    assert!(
        said.contains("another account could have served its own there"),
        "{said}"
    );
}
