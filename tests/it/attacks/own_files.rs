//! A person's own files and processes: what they plant in their home, the locks they hold, the
//! quota they fill, the helper they can signal. None of it may reach another person or stop
//! the service.

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::helpers::{Account, SiteStack, wait_for};

/// Kills (SIGKILL) the processes it names when dropped, so a failing test leaves none behind
/// (an account with a process left cannot be removed).
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Alice's revoke, sent while she holds her file's lock, and the helper it started (waiting
/// for the lock): the moment a person can reach their own helper.
fn a_waiting_helper(stack: &SiteStack, alice: &Account) -> (TcpStream, u32) {
    let body =
        serde_json::json!({ "fingerprint": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    let request = stack.send(&alice.name, "POST", "/api/keys/revoke", &body.to_string());
    wait_for(|| !stack.helpers_of(alice.uid).is_empty(), "alice's helper");
    (request, stack.helpers_of(alice.uid)[0])
}

/// A person's `~/.ssh/authorized_keys`, made by them, holding one line of their own.
fn own_keys_file(person: &Account) -> std::path::PathBuf {
    let ssh = person.home().join(".ssh");
    let file = ssh.join("authorized_keys");
    let script = format!(
        "umask 077 && mkdir -p {} && echo '# mine' > {}",
        ssh.display(),
        file.display()
    );
    assert!(person.run("sh", &["-c", &script]).status.success());
    file
}

#[test]
fn a_person_who_stops_their_own_helper_gets_a_clear_error_in_time_and_others_are_served() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start_with_env(
        &[&alice.name, &bob.name],
        &[],
        &[
            ("KEYHATCH_HELPER_TIMEOUT", "3"),
            ("KEYHATCH_LOCK_TIMEOUT", "2"),
        ],
    );
    let file = own_keys_file(&alice);
    let lock = alice.hold_lock(&file);
    let started = Instant::now();
    let (mut request, helper) = a_waiting_helper(&stack, &alice);
    let _cleanup = KillOnDrop(vec![helper]);
    // The helper runs as alice: she may stop it, and does.
    let stop = alice.run("kill", &["-STOP", &helper.to_string()]);
    assert!(stop.status.success(), "{stop:?}");
    drop(lock);

    let listed = Instant::now();
    assert_eq!(stack.get(&bob.name, "/api/keys/list").status, 200);
    assert!(
        listed.elapsed() < Duration::from_secs(1),
        "{:?}",
        listed.elapsed()
    );

    request
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = String::new();
    let read = request.read_to_string(&mut answer);
    let took = started.elapsed();
    assert!(read.is_ok(), "no answer after {took:?}: {read:?}");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("did not finish within 3 seconds"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(6), "answered after {took:?}");
    let gone = || !Path::new(&format!("/proc/{helper}")).exists();
    let waited = Instant::now();
    while !gone() && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        gone(),
        "the stopped helper is still there: {}",
        fs::read_to_string(format!("/proc/{helper}/status")).unwrap_or_default()
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "# mine\n");
    assert_eq!(stack.get(&alice.name, "/api/keys/list").status, 200);
}

/// Sets `fs.suid_dumpable` for as long as it lives, and puts the old value back.
struct SuidDumpable(String);

impl SuidDumpable {
    fn set(value: &str) -> Self {
        let path = "/proc/sys/fs/suid_dumpable";
        let old = fs::read_to_string(path).unwrap();
        fs::write(path, value).unwrap();
        Self(old)
    }
}

impl Drop for SuidDumpable {
    fn drop(&mut self) {
        let _ = fs::write("/proc/sys/fs/suid_dumpable", self.0.trim());
    }
}

#[test]
fn a_person_cannot_trace_their_own_helper_nor_read_its_memory_nor_reach_its_descriptors() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    let file = own_keys_file(&alice);
    // Where a site lets processes that changed ids stay dumpable, the kernel alone would let
    // alice in; keyhatch's helper must shut her out itself.
    let _dumpable = SuidDumpable::set("1");
    let lock = alice.hold_lock(&file);
    let (request, helper) = a_waiting_helper(&stack, &alice);
    let _cleanup = KillOnDrop(vec![helper]);
    let program = r#"
import ctypes, os, sys
pid = int(sys.argv[1])
def attempt(name, f):
    try:
        f()
        print(name, "allowed")
    except OSError as e:
        print(name, "refused", e.errno)
attempt("mem", lambda: open(f"/proc/{pid}/mem", "rb").close())
attempt("environ", lambda: open(f"/proc/{pid}/environ", "rb").read())
attempt("fd", lambda: os.close(os.open(f"/proc/{pid}/fd/1", os.O_WRONLY)))
libc = ctypes.CDLL(None, use_errno=True)
def trace():
    if libc.ptrace(16, pid, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "ptrace")
    libc.ptrace(17, pid, 0, 0)
attempt("ptrace", trace)
"#;
    let out = alice.python(program, &[&helper.to_string()]);
    drop(lock);
    drop(request);
    for what in ["mem", "environ", "fd", "ptrace"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{what} refused"))),
            "{what}: {out}"
        );
    }
}

#[test]
fn a_person_who_limits_or_kills_their_own_helper_mid_write_loses_nothing_and_is_told_why() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    let file = own_keys_file(&alice);
    // A file size limit below the file (the write fails outright, with SIGXFSZ), one within a
    // line of it (a short write), and the helper killed.
    let attacks: [(&[&str], &str); 3] = [
        (&["prlimit", "--fsize=3:3", "--pid"], "File too large"),
        (
            &["prlimit", "--fsize=10:10", "--pid"],
            "a file size limit was reached",
        ),
        (&["kill", "-KILL"], "without an answer"),
    ];
    for (attack, told) in attacks {
        let lock = alice.hold_lock(&file);
        let mut request = stack.send(&alice.name, "POST", "/api/keys/generate", "{}");
        wait_for(|| !stack.helpers_of(alice.uid).is_empty(), "alice's helper");
        let helper = stack.helpers_of(alice.uid)[0].to_string();
        let _cleanup = KillOnDrop(vec![helper.parse().unwrap()]);
        // Once it has become alice (it is hers to limit or kill), while it waits for the lock.
        wait_for(
            || {
                fs::read_to_string(format!("/proc/{helper}/status"))
                    .is_ok_and(|s| s.contains(&format!("Uid:\t{}\t", alice.uid)))
            },
            "the helper as alice",
        );
        std::thread::sleep(Duration::from_millis(100));
        let done = alice.run(attack[0], &[&attack[1..], &[helper.as_str()]].concat());
        assert!(done.status.success(), "{attack:?}: {done:?}");
        drop(lock);
        request
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut answer = String::new();
        request.read_to_string(&mut answer).unwrap();
        assert!(
            !answer.contains("PRIVATE KEY"),
            "{attack:?}: a key was shown"
        );
        assert!(answer.starts_with("HTTP/1.1 500"), "{attack:?}: {answer}");
        assert!(answer.contains(told), "{attack:?}: {answer}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "# mine\n", "{attack:?}");
    }
}

/// A freezer cgroup (v1) holding one process: frozen, it cannot die even of SIGKILL, as a
/// process stuck on a hung NFS server; thawed and removed on drop.
struct Frozen(std::path::PathBuf);

impl Frozen {
    fn freeze(pid: u32) -> Self {
        let dir = Path::new("/sys/fs/cgroup/freezer").join(format!("keyhatch-test-{pid}"));
        fs::create_dir(&dir).expect("a freezer cgroup (this test needs cgroup v1's freezer)");
        fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
        fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
        Self(dir)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("freezer.state"), "THAWED");
        for _ in 0..100 {
            if fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_helper_that_cannot_be_killed_costs_its_person_a_slot_and_no_thread_of_the_server() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start_with_env(
        &[&alice.name, &bob.name],
        &[],
        &[
            ("KEYHATCH_HELPER_TIMEOUT", "3"),
            ("KEYHATCH_LOCK_TIMEOUT", "2"),
            ("KEYHATCH_MAX_IN_FLIGHT", "1"),
        ],
    );
    let threads = || {
        fs::read_dir(format!("/proc/{}/task", stack.keyhatch.id()))
            .unwrap()
            .count()
    };
    let file = own_keys_file(&alice);
    assert_eq!(stack.get(&bob.name, "/api/keys/list").status, 200);
    let before = threads();
    let lock = alice.hold_lock(&file);
    let (mut request, helper) = a_waiting_helper(&stack, &alice);
    let _cleanup = KillOnDrop(vec![helper]);
    let frozen = Frozen::freeze(helper);
    drop(lock);

    request
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = String::new();
    request.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        Path::new(&format!("/proc/{helper}")).exists(),
        "killed, but frozen: still there"
    );
    let more = stack.get(&alice.name, "/api/keys/list");
    assert_eq!(
        more.status, 429,
        "the stuck helper still counts: {}",
        more.body
    );
    let listed = Instant::now();
    assert_eq!(stack.get(&bob.name, "/api/keys/list").status, 200);
    assert!(listed.elapsed() < Duration::from_secs(1));
    assert!(
        threads() <= before,
        "{} threads, {before} before",
        threads()
    );

    drop(frozen);
    wait_for(
        || !Path::new(&format!("/proc/{helper}")).exists(),
        "the thawed helper dead and reaped",
    );
    wait_for(
        || stack.get(&alice.name, "/api/keys/list").status == 200,
        "alice served again",
    );
}

/// The attack (red team, round 2): a person's `authorized_keys` is a link to a file elsewhere.
/// keyhatch writes nothing through it, and says why with a 409, the file's state, not a fault.
#[test]
fn a_linked_authorized_keys_gets_a_409_that_says_why_and_nothing_is_written_through_it() {
    let home = crate::helpers::home_with(b"");
    let decoy = home.path().join("decoy");
    fs::write(&decoy, b"# decoy\n").unwrap();
    let file = home.path().join(".ssh/authorized_keys");
    fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&decoy, &file).unwrap();
    let app = crate::helpers::spawn_app(home.path());
    let reply = app.post_json("/api/keys/generate", "{}");
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(reply.body.contains("link"), "{}", reply.body);
    assert!(!reply.body.contains("PRIVATE KEY"));
    assert_eq!(fs::read(&decoy).unwrap(), b"# decoy\n");
}

/// Runs keyhatch's helper by hand with `job` on its standard input, as the account `as_uid`
/// (`None`: as root, as the server starts it), and returns its answer.
fn helper_by_hand(as_uid: Option<(u32, u32)>, job: &serde_json::Value) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut command = Command::new("setpriv");
    match as_uid {
        Some((uid, gid)) => command.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
        ]),
        None => command.arg("--"),
    };
    if as_uid.is_some() {
        command.arg("--");
    }
    let mut helper = command
        .args([env!("CARGO_BIN_EXE_keyhatch"), "__keyhatch_helper"])
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = helper.stdin.take().unwrap();
    stdin.write_all(format!("{job}\n").as_bytes()).unwrap();
    drop(stdin);
    let out = helper.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A job that appends a key to `who`'s file (`uid`, `gid`, `home` as given).
fn append_job(user: &str, uid: u32, gid: u32, home: &Path) -> serde_json::Value {
    serde_json::json!({
        "helper": {
            "identity": { "user": user, "uid": uid, "gid": gid, "groups": [gid], "home": home },
            "max_file_size": 1 << 20,
            "lock_timeout": { "secs": 1, "nanos": 0 },
            "keys_file": ".ssh/authorized_keys",
        },
        "request": { "AppendKey": {
            "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl planted",
            "options": "", "cap": null, "new": true,
        } },
    })
}

/// The attack: alice runs keyhatch's helper herself (the binary is there for anyone to run),
/// with a job that names bob, or root, or names her but with bob's home. Without root's
/// powers the helper cannot become bob, and it never becomes root; with her own uid it can
/// reach only what she can: bob's file stays as it was.
#[test]
fn a_person_who_runs_the_helper_by_hand_with_another_persons_identity_reaches_nothing_of_theirs() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let bobs = own_keys_file(&bob);
    let before = fs::read(&bobs).unwrap();
    let as_alice = Some((alice.uid, alice.gid));
    let answer = helper_by_hand(
        as_alice,
        &append_job(&bob.name, bob.uid, bob.gid, &bob.home()),
    );
    assert!(answer.contains("cannot become"), "{answer}");
    let answer = helper_by_hand(as_alice, &append_job("root", 0, 0, Path::new("/root")));
    assert!(answer.contains("never works as root"), "{answer}");
    let answer = helper_by_hand(
        as_alice,
        &append_job(&alice.name, alice.uid, alice.gid, &bob.home()),
    );
    assert!(answer.starts_with("{\"Err\""), "{answer}");
    // Even started as root, as the server starts it, a job for root is refused.
    let answer = helper_by_hand(None, &append_job("root", 0, 0, Path::new("/root")));
    assert!(answer.contains("never works as root"), "{answer}");
    assert_eq!(fs::read(&bobs).unwrap(), before);
    assert!(
        !fs::read_to_string("/root/.ssh/authorized_keys")
            .unwrap_or_default()
            .contains("planted")
    );
}

/// The attack: a descriptor the server inherited without close-on-exec (a shell's
/// `exec 7</etc/shadow` before starting it) passed on to every helper, which becomes a person
/// and runs the job they sent. A helper must hold nothing but its job's pipes.
#[test]
fn a_descriptor_the_server_inherited_reaches_no_helper() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("keyhatch");
    let script = format!(
        "#!/bin/sh\nexec 7</etc/shadow\nexec {} \"$@\"\n",
        env!("CARGO_BIN_EXE_keyhatch")
    );
    fs::write(&wrapper, script).unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let alice = Account::create_person();
    let stack = SiteStack::start_binary(&wrapper, &[&alice.name], &[], &[]);
    // The server holds it: the attack is mounted.
    let server = stack.keyhatch.id();
    // ("(deleted)" after it: another test's useradd replaced /etc/shadow meanwhile.)
    let held = fs::read_link(format!("/proc/{server}/fd/7")).unwrap();
    assert!(
        held.to_string_lossy().starts_with("/etc/shadow"),
        "{held:?}"
    );
    // A spare helper waits as root for its next job, and becomes the person who sends it.
    wait_for(|| !stack.helpers_of(0).is_empty(), "a spare helper");
    for helper in stack.helpers_of(0) {
        let mut fds: Vec<String> = fs::read_dir(format!("/proc/{helper}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        fds.sort();
        assert_eq!(fds, ["0", "1", "2"], "helper {helper}");
    }
    let listed = stack.get(&alice.name, "/api/keys/list");
    assert_eq!(listed.status, 200, "{}", listed.body);
}

/// Red team (helper-47): a lease a person takes on their own file makes each of their revokes
/// fail at once (the helper cannot open it), and each failure wrote an audit line: 5,900 in 5
/// seconds, to fill the log's disk. The same failure is written once a minute, with a count of
/// the rest; the key stays, and the file is whole.
#[test]
fn a_person_whose_own_lease_fails_every_change_cannot_fill_the_audit_log() {
    let alice = Account::create_person();
    let (stack, log) = SiteStack::start_audited(&[&alice.name], &[]);
    let made = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(made.status, 200, "{}", made.body);
    let fingerprint = made.json()["info"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = alice.home().join(".ssh/authorized_keys");
    let before = fs::read(&file).unwrap();
    let lease = alice.hold_lease(&file);
    let body = serde_json::json!({ "fingerprint": fingerprint }).to_string();
    let mut failed = 0;
    for _ in 0..100 {
        let reply = stack.post(&alice.name, "/api/keys/revoke", &body);
        assert_ne!(reply.status, 200, "a revoke passed the lease");
        failed += usize::from(reply.status >= 500);
    }
    // An add that fails names its key (helper-50: a helper its person killed after the
    // write failed a key that was in the file, and the line named none).
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t me";
    let add = serde_json::json!({ "public_key": key }).to_string();
    assert!(stack.post(&alice.name, "/api/keys/add", &add).status >= 500);
    drop(lease);
    assert_eq!(failed, 100);
    let text = log.text();
    let revokes = text
        .lines()
        .filter(|l| l.contains(r#""action":"revoke""#))
        .count();
    assert_eq!(revokes, 1, "{text}");
    let added = text.lines().find(|l| l.contains(r#""action":"add""#));
    assert!(
        added.is_some_and(|l| l.contains(r#""fingerprint":"SHA256:"#)),
        "{text}"
    );
    assert_eq!(fs::read(&file).unwrap(), before);
}
