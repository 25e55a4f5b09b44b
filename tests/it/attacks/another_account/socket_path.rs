//! Local mode's `--socket PATH` against another account: a directory on the way that another
//! account can change is refused, and the path printed for `ssh -L` and `keyhatch link` is the
//! one keyhatch bound, the same from every process.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::login_link::{KilledOnDrop, RemovedOnDrop, open_session, squat};
use crate::helpers::Account;

#[test]
fn a_socket_in_a_directory_another_account_can_change_is_refused() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let squatted = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let sessions = PathBuf::from(format!("/run/user/{}", alice.uid));
    let _made = RemovedOnDrop(vec![squatted.clone(), sessions.clone()]);
    squat(&stranger, &squatted, "777");
    open_session(&alice, &sessions);
    let socket = squatted.join("keyhatch.sock");
    let said = refused_socket(&alice, &socket);
    assert!(
        said.contains(&format!(
            "the directory {} belongs to uid {}",
            squatted.display(),
            stranger.uid
        )),
        "{said}"
    );
    assert!(!socket.exists(), "no socket was made there");
    // A directory missing in the sticky /tmp is refused too: another account could make it
    // between the look and the bind (helper-55).
    let missing = PathBuf::from(format!("/tmp/keyhatch-missing-{}", alice.uid));
    let said = refused_socket(&alice, &missing.join("kh.sock"));
    assert!(said.contains("No such file or directory"), "{said}");
}

/// Red team (helper-55): a link of the person's own into a directory others can write (a
/// group's project directory) passed the check, which looked at the directories as named; a
/// member of the group swapped the directory and took the script credential.
#[test]
fn a_socket_through_a_link_into_a_directory_others_can_write_is_refused() {
    let alice = Account::create_person();
    // Where keyhatch, started without a runtime directory of the session's, makes its own.
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let shared = tempfile::tempdir().unwrap();
    fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let project = shared.path().join("project");
    fs::create_dir(&project).unwrap();
    fs::set_permissions(&project, fs::Permissions::from_mode(0o777)).unwrap();
    let mine = project.join("alice");
    fs::create_dir(&mine).unwrap();
    fs::set_permissions(&mine, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&mine, Some(alice.uid), Some(alice.gid)).unwrap();
    let lab = alice.home().join("lab");
    std::os::unix::fs::symlink(&mine, &lab).unwrap();
    std::os::unix::fs::lchown(&lab, Some(alice.uid), Some(alice.gid)).unwrap();
    let said = refused_socket(&alice, &lab.join("kh.sock"));
    let open_to_others = format!(
        "group or others can write the directory {} (mode 777)",
        project.display()
    );
    assert!(said.contains(&open_to_others), "{said}");
    assert!(!mine.join("kh.sock").exists(), "no socket was made there");
    // helper-56: a link of the person's to a link of theirs in that directory, to their own
    // home: the middle link can be swapped by anyone who can write there.
    let data = alice.home().join("data");
    let middle = project.join("alice-data");
    let hop = alice.home().join("hop");
    for (target, link) in [(&data, &middle), (&middle, &hop)] {
        std::os::unix::fs::symlink(target, link).unwrap();
        std::os::unix::fs::lchown(link, Some(alice.uid), Some(alice.gid)).unwrap();
    }
    assert!(
        alice
            .run("mkdir", &["-m", "700", data.to_str().unwrap()])
            .status
            .success()
    );
    let said = refused_socket(&alice, &hop.join("kh.sock"));
    assert!(said.contains(&open_to_others), "{said}");
    // helper-56: a free name in a sticky /tmp can be taken by anyone while keyhatch is down.
    let said = refused_socket(&alice, Path::new(&format!("/tmp/kh-{}.sock", alice.uid)));
    assert!(
        said.contains("group or others can write the directory /tmp (mode 1777)"),
        "{said}"
    );
}

/// Red team (helper-57): a relative `--socket tmp/kh.sock` was printed as given for `ssh -L`,
/// and sshd reads a relative path from its own working directory, `/`: the person's forward
/// went to `/tmp/kh.sock`, a name any account can take first. The path is made absolute.
#[test]
fn a_relative_socket_path_is_printed_whole_for_the_forward() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let home = alice.home();
    assert!(
        alice
            .run("mkdir", &["-m", "700", home.join("tmp").to_str().unwrap()])
            .status
            .success()
    );
    let mut server = keyhatch_as(&alice, &["--socket", "tmp/kh.sock"])
        .current_dir(&home)
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    let forward = printed_until(&mut server, &["ssh -L"]);
    let whole = home.join("tmp/kh.sock");
    assert!(
        forward.contains(&format!("ssh -L 3000:{} NODE", whole.display())),
        "{forward}"
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// Starts keyhatch as `person` on the Unix socket `socket`, without `XDG_RUNTIME_DIR`, and
/// returns what it said once it has ended; fails if it serves there for 10 seconds.
pub(super) fn refused_socket(person: &Account, socket: &Path) -> String {
    let mut server = keyhatch_as(person, &[])
        .arg("--socket")
        .arg(socket)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ended = loop {
        match server.try_wait().unwrap() {
            Some(status) => break Some(status),
            None if std::time::Instant::now() > deadline => break None,
            None => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    let _ = server.kill();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut said).unwrap();
    assert!(
        ended.is_some_and(|s| !s.success()),
        "it serves there: {said}"
    );
    said
}

/// Red team (helper-58): `--socket /proc/self/cwd/p.sock`, run from a private directory, was
/// bound there but printed as typed; every other process reads that path from its own working
/// directory, and a person's `curl` or forward from `/tmp` reached another account's
/// `/tmp/p.sock`. The directory the path resolves to is bound and printed.
#[test]
fn a_socket_path_that_names_another_directory_in_each_process_is_printed_as_resolved() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let private = alice.home().join("private");
    mkdir_as(&alice, &private);
    let name = format!("p-{}.sock", alice.uid);
    let squatted = Path::new("/tmp").join(&name);
    let _squatter = listen_as(&stranger, &squatted);
    for typed in ["/proc/self/cwd", "/dev/fd/../cwd"] {
        let typed = format!("{typed}/{name}");
        let (mut server, announced) = serve_on_socket(&alice, &typed, &private);
        let _stop = KilledOnDrop(server.id());
        let bound = private.join(&name);
        assert!(
            announced.contains(&format!("ssh -L 3000:{} NODE", bound.display())),
            "{typed}: {announced}"
        );
        // What the person runs next, from wherever they are.
        let answer = alice
            .command("curl")
            .args(["-s", "-m", "5", "--unix-socket", bound.to_str().unwrap()])
            .arg("http://127.0.0.1:3000/healthz")
            .current_dir("/tmp")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&answer.stdout), "ok\n", "{typed}");
        stop(&mut server);
        assert!(
            !bound.exists(),
            "{typed}: the socket is removed at the stop"
        );
    }
}

/// A path that names no socket file, a file that is not a socket, and a relative path from a
/// working directory that is gone: each refused with what is wrong, and nothing replaced.
#[test]
fn a_socket_path_keyhatch_cannot_use_is_refused_with_the_reason() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let said = refused_socket(&alice, Path::new("/"));
    assert!(
        said.contains("cannot listen on /: that names a directory"),
        "{said}"
    );
    let notes = alice.home().join("notes.txt");
    let wrote = alice.run("sh", &["-c", &format!("echo mine > {}", notes.display())]);
    assert!(wrote.status.success());
    let said = refused_socket(&alice, &notes);
    assert!(
        said.contains("a file that is not a socket is there"),
        "{said}"
    );
    assert_eq!(fs::read_to_string(&notes).unwrap(), "mine\n");
    let said = refused_socket(&alice, &alice.home());
    assert!(said.contains("a directory is there"), "{said}");
    let said = refused_socket(&alice, Path::new("/etc/passwd/kh.sock"));
    assert!(said.contains("/etc/passwd is not a directory"), "{said}");
    let said = refused_socket(&alice, &alice.home().join("k".repeat(120)));
    assert!(said.contains("a socket's can be at most 107"), "{said}");
    let gone = alice
        .command("sh")
        .args([
            "-c",
            "mkdir gone && cd gone && rmdir ../gone && exec \"$0\" --socket kh.sock",
        ])
        .arg(env!("CARGO_BIN_EXE_keyhatch"))
        .env_remove("XDG_RUNTIME_DIR")
        .env("KEYHATCH_CONFIG", "none")
        .current_dir(alice.home())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(!gone.status.success());
    assert!(
        said.contains("cannot listen on kh.sock: the working directory it is relative to"),
        "{said}"
    );
}

/// Red team (helper-59): a path whose bytes are not UTF-8 was printed with `�` in their place;
/// another account made the directory the printed path named, in `/tmp`, and the person's
/// `curl -H @login-socket.header` sent it the script credential. Such a path is refused, and so
/// is one `ssh -L` would split (a colon); one with a space is printed quoted.
#[test]
fn a_socket_path_that_cannot_be_printed_as_it_is_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let latin1 = alice.home().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    mkdir_as(&alice, &latin1);
    let said = refused_socket(&alice, &latin1.join("kh.sock"));
    assert!(said.contains("it is not UTF-8"), "{said}");
    assert!(!latin1.join("kh.sock").exists());
    // helper-61: ssh drops a `\` and expands `%` and `${…}` in a forward's socket path (a
    // login link went to `/tmp/khrun/kh.sock` for `/tmp/kh\run/kh.sock`), splits at a colon;
    // a right-to-left override shows another path than the one there.
    for (name, shown) in [
        ("a:b", "':'"),
        ("kh\\run", "'\\\\'"),
        ("kh%%run", "'%'"),
        ("kh${USER}run", "'$'"),
        ("kh\u{202e}nur", "'\\u{202e}'"),
    ] {
        let dir = alice.home().join(name);
        mkdir_as(&alice, &dir);
        let said = refused_socket(&alice, &dir.join("kh.sock"));
        assert!(
            said.contains(&format!("it holds {shown}")),
            "{name}: {said}"
        );
    }
    let spaced = alice.home().join("my dir");
    mkdir_as(&alice, &spaced);
    let (mut server, announced) = serve_on_socket(&alice, "kh.sock", &spaced);
    let _stop = KilledOnDrop(server.id());
    let quoted = format!("ssh -L '3000:{}' NODE", spaced.join("kh.sock").display());
    assert!(announced.contains(&quoted), "{announced}");
    stop(&mut server);
}

/// Red team (helper-59): a live datagram socket, and a live socket its owner had made
/// unreachable (`chmod 000`), given as `--socket`, were removed and replaced; a regular file
/// put in place of keyhatch's socket while it served was removed at its stop.
#[test]
fn a_file_keyhatch_did_not_make_is_neither_replaced_nor_removed() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let run = alice.home().join("run");
    mkdir_as(&alice, &run);
    let datagram = run.join("dg.sock");
    let _datagram = std::os::unix::net::UnixDatagram::bind(&datagram).unwrap();
    let closed = run.join("closed.sock");
    let _closed = std::os::unix::net::UnixListener::bind(&closed).unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o000)).unwrap();
    for socket in [&datagram, &closed] {
        let said = refused_socket(&alice, socket);
        assert!(
            said.contains("a socket keyhatch cannot tell is unused"),
            "{said}"
        );
        assert!(
            std::os::unix::fs::FileTypeExt::is_socket(
                &fs::symlink_metadata(socket).unwrap().file_type()
            ),
            "{} is left",
            socket.display()
        );
    }
    assert!(
        std::os::unix::net::UnixDatagram::unbound()
            .unwrap()
            .send_to(b"x", &datagram)
            .is_ok()
    );
    let (mut server, _) = serve_on_socket(&alice, "s.sock", &run);
    let _stop = KilledOnDrop(server.id());
    let socket = run.join("s.sock");
    let replaced = alice.run(
        "sh",
        &[
            "-c",
            &format!("rm {0} && echo precious > {0}", socket.display()),
        ],
    );
    assert!(replaced.status.success(), "{replaced:?}");
    stop(&mut server);
    assert_eq!(fs::read_to_string(&socket).unwrap(), "precious\n");
}

/// Red team: a socket the person's own program has bound and does not listen on (as `socat`
/// may, before it listens) refuses connections as a stale one does, and was replaced. The
/// kernel's socket table tells them apart: that one is left, and once its program has ended
/// keyhatch takes the name.
#[test]
fn a_socket_another_program_holds_without_listening_is_left_alone() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let run = alice.home().join("run");
    mkdir_as(&alice, &run);
    let held = run.join("held.sock");
    let program = hold_socket(&alice, &held);
    let before = fs::symlink_metadata(&held).unwrap();
    let said = refused_socket(&alice, &held);
    assert!(
        said.contains("a socket another program holds and does not listen on is there"),
        "{said}"
    );
    let after = fs::symlink_metadata(&held).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&after),
        std::os::unix::fs::MetadataExt::ino(&before),
        "the program's socket is left"
    );
    drop(program);
    let (mut server, announced) = serve_on_socket(&alice, "held.sock", &run);
    let _stop = KilledOnDrop(server.id());
    assert!(
        announced.contains(&held.display().to_string()),
        "{announced}"
    );
    stop(&mut server);
    assert!(!held.exists(), "keyhatch removed the socket it made");
}

/// Red team (helper-64, helper-65): on Btrfs `stat` gives each subvolume a device of its own,
/// not the filesystem's, which the kernel's socket table names: a held socket there was never
/// found in the table, and was replaced as stale.
#[test]
fn a_socket_held_on_btrfs_is_left_alone() {
    let alice = Account::create_person();
    let _made = RemovedOnDrop(vec![format!("/tmp/keyhatch-{}", alice.uid).into()]);
    let mount_point = alice.home().join("bt");
    mkdir_as(&alice, &mount_point);
    let btrfs = Btrfs::mount(&mount_point);
    let sub = mount_point.join("sub");
    btrfs.run(&["btrfs", "-q", "subvolume", "create", sub.to_str().unwrap()]);
    std::os::unix::fs::chown(&sub, Some(alice.uid), Some(alice.gid)).unwrap();
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
    let held = sub.join("kh.sock");
    let program = hold_socket(&alice, &held);
    let said = refused_socket(&alice, &held);
    assert!(
        said.contains("a socket another program holds and does not listen on is there"),
        "{said}"
    );
    drop(program);
    let (mut server, _) = serve_on_socket(&alice, "kh.sock", &sub);
    let _stop = KilledOnDrop(server.id());
    stop(&mut server);
    assert!(
        !held.exists(),
        "once its program ended, keyhatch took the name"
    );
}

/// A stream socket bound at `path` and never listened on, as a program of `person`'s holds it
/// (the file theirs, 0600); released when the returned descriptor is dropped.
fn hold_socket(person: &Account, path: &Path) -> std::os::fd::OwnedFd {
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, bind, socket};

    // Close-on-exec: a program another test starts meanwhile must not keep it bound (one did,
    // and keyhatch rightly refused the name after this test had let it go).
    let held = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(held.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    std::os::unix::fs::lchown(path, Some(person.uid), Some(person.gid)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    held
}

/// A Btrfs filesystem in a 256 MB image, loop-mounted on a directory for one test; unmounted
/// (and the image removed) on drop, even when the test fails.
struct Btrfs {
    image: tempfile::NamedTempFile,
    mount_point: PathBuf,
}

impl Btrfs {
    fn mount(on: &Path) -> Self {
        let image = tempfile::NamedTempFile::new().unwrap();
        image.as_file().set_len(256 << 20).unwrap();
        let btrfs = Self {
            image,
            mount_point: on.to_owned(),
        };
        btrfs.run(&["mkfs.btrfs", "-q", btrfs.image.path().to_str().unwrap()]);
        btrfs.run(&[
            "mount",
            "-o",
            "loop",
            btrfs.image.path().to_str().unwrap(),
            on.to_str().unwrap(),
        ]);
        btrfs
    }

    fn run(&self, command: &[&str]) {
        let out = Command::new(command[0])
            .args(&command[1..])
            .output()
            .unwrap();
        assert!(out.status.success(), "{command:?}: {out:?}");
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = &self.image;
    }
}

/// Starts keyhatch as `person` on `--socket socket`, from `cwd` and without
/// `XDG_RUNTIME_DIR`, and returns it with what it printed up to its login link.
pub(super) fn serve_on_socket(person: &Account, socket: &str, cwd: &Path) -> (Child, String) {
    let mut server = keyhatch_as(person, &["--socket", socket])
        .current_dir(cwd)
        .spawn()
        .unwrap();
    let announced = printed_until(&mut server, &["keyhatch link"]);
    (server, announced)
}

/// keyhatch as `person` with `args`, managing their home, with no settings file and without
/// `XDG_RUNTIME_DIR`, from `/`, its output piped and its errors dropped: each test changes
/// what it needs.
pub(super) fn keyhatch_as(person: &Account, args: &[&str]) -> Command {
    let mut command = person.command(env!("CARGO_BIN_EXE_keyhatch"));
    command
        .args(args)
        .arg("--home")
        .arg(person.home())
        .env_remove("XDG_RUNTIME_DIR")
        .env("KEYHATCH_CONFIG", "none")
        .current_dir("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// What `server` printed, whole lines, up to and including the first that holds one of `until`
/// (or all it printed, if none does).
pub(super) fn printed_until(server: &mut Child, until: &[&str]) -> String {
    let out = server.stdout.take().expect("the output is piped");
    let mut printed = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
        printed.push_str(&line);
        printed.push('\n');
        if until.iter().any(|wanted| line.contains(wanted)) {
            break;
        }
    }
    printed
}

/// Stops `server` as Ctrl-C would (it cleans up), and waits for it.
pub(super) fn stop(server: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
}

/// `dir`, made by `person` with mode 0700.
pub(super) fn mkdir_as(person: &Account, dir: &Path) {
    let made = person
        .command("mkdir")
        .args(["-m", "700"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
}

/// A socket at `path` that `owner` listens on (made by root, then given away), removed when
/// dropped.
fn listen_as(owner: &Account, path: &Path) -> (std::os::unix::net::UnixListener, RemovedOnDrop) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o777)).unwrap();
    (listener, RemovedOnDrop(vec![path.to_owned()]))
}
