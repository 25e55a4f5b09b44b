//! Site mode against a signed-in person who wants another person's keys, or wants to stop
//! everyone's service: each test mounts the attack through the real binary.

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::helpers::{Account, AuditLog, SiteStack, wait_for};

/// The status line and body of the answer on `stream`, waiting at most `patience`.
fn answer(mut stream: TcpStream, patience: Duration) -> String {
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut answer = String::new();
    match stream.read_to_string(&mut answer) {
        Ok(_) => answer,
        Err(e) => panic!("no answer within {patience:?} ({e}); so far: {answer}"),
    }
}

/// The fastest of `n` runs of `work`.
fn fastest(n: usize, work: impl Fn()) -> Duration {
    (0..n)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .min()
        .unwrap()
}

/// A person's `~/.ssh/authorized_keys`, made by them, empty.
fn empty_keys_file(person: &Account) -> std::path::PathBuf {
    let ssh = person.home().join(".ssh");
    let file = ssh.join("authorized_keys");
    let script = format!(
        "umask 077 && mkdir -p {} && touch {}",
        ssh.display(),
        file.display()
    );
    assert!(person.run("sh", &["-c", &script]).status.success());
    file
}

#[test]
fn one_persons_flood_of_revokes_while_holding_their_own_files_lock_does_not_slow_another_persons_list()
 {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[&alice.name, &bob.name], &[]);
    assert_eq!(
        stack.post(&bob.name, "/api/keys/generate", "{}").status,
        200
    );
    let list = || assert_eq!(stack.get(&bob.name, "/api/keys/list").status, 200);
    let idle = fastest(5, list);

    let lock = alice.hold_lock(&empty_keys_file(&alice));
    let body = r#"{"fingerprint":"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let flood: Vec<TcpStream> = (0..520)
        .map(|_| stack.send(&alice.name, "POST", "/api/keys/revoke", body))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    list();
    let loaded = started.elapsed();
    drop(lock);
    let answers: Vec<String> = flood
        .into_iter()
        .map(|s| answer(s, Duration::from_secs(30)))
        .collect();
    assert!(
        loaded < idle * 10 + Duration::from_millis(250),
        "bob's list took {loaded:?} during alice's flood, against {idle:?} idle"
    );
    let refused = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 429") && a.contains("under way already"))
        .count();
    assert!(
        refused >= 500,
        "{refused} of 520 refused; first: {}",
        answers[0]
    );
}

#[test]
fn more_operations_under_way_than_the_site_allows_from_one_person_are_refused_with_a_sentence() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start_with_env(
        &[&alice.name, &bob.name],
        &[],
        &[("KEYHATCH_MAX_IN_FLIGHT", "2")],
    );
    let lock = alice.hold_lock(&empty_keys_file(&alice));
    let body = r#"{"fingerprint":"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let waiting: Vec<TcpStream> = (0..2)
        .map(|_| stack.send(&alice.name, "POST", "/api/keys/revoke", body))
        .collect();
    wait_for(
        || stack.helpers_of(alice.uid).len() == 2,
        "alice's two helpers",
    );

    let third = stack.get(&alice.name, "/api/keys/list");
    assert_eq!(third.status, 429, "{}", third.body);
    assert!(
        third
            .body
            .contains("you have 2 operations under way already"),
        "{}",
        third.body
    );
    assert_eq!(stack.get(&bob.name, "/api/keys/list").status, 200);

    drop(lock);
    for stream in waiting {
        let answer = answer(stream, Duration::from_secs(30));
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
    assert_eq!(stack.get(&alice.name, "/api/keys/list").status, 200);
}

#[test]
fn thirty_concurrent_generates_against_ten_keys_an_hour_make_exactly_ten() {
    let alice = Account::create_person();
    let stack = SiteStack::start_with_env(
        &[&alice.name],
        &[],
        &[
            ("KEYHATCH_KEYS_PER_HOUR", "10"),
            ("KEYHATCH_MAX_IN_FLIGHT", "30"),
        ],
    );
    let barrier = Barrier::new(30);
    let replies: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..30)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let reply = stack.post(&alice.name, "/api/keys/generate", "{}");
                    (reply.status, reply.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let made = replies.iter().filter(|(status, _)| *status == 200).count();
    let refused = replies
        .iter()
        .filter(|(status, body)| *status == 429 && body.contains("10 keys in the last hour"))
        .count();
    let file = fs::read_to_string(alice.home().join(".ssh/authorized_keys")).unwrap();
    // The answers without the keys they carry: statuses, and the refusals' sentences.
    let seen: Vec<&str> = replies
        .iter()
        .map(|(status, body)| if *status == 200 { "200" } else { body.as_str() })
        .collect();
    assert_eq!(
        (made, refused, file.lines().count()),
        (10, 20, 10),
        "{seen:?}"
    );
}

#[test]
fn a_generate_whose_client_hangs_up_while_its_helper_works_is_counted_and_audited() {
    let alice = Account::create_person();
    let logs = tempfile::tempdir().unwrap();
    let audit = logs.path().join("audit.log");
    let stack = SiteStack::start_with_env(
        &[&alice.name],
        &[],
        &[
            ("KEYHATCH_KEYS_PER_HOUR", "1"),
            ("KEYHATCH_AUDIT_LOG", audit.to_str().unwrap()),
        ],
    );
    let file = empty_keys_file(&alice);
    // Alice's own lock keeps her helper waiting, so that her client can leave meanwhile.
    let lock = alice.hold_lock(&file);
    let client = stack.send(&alice.name, "POST", "/api/keys/generate", "{}");
    wait_for(|| !stack.helpers_of(alice.uid).is_empty(), "alice's helper");
    std::thread::sleep(Duration::from_millis(200));
    client.shutdown(std::net::Shutdown::Both).unwrap();
    drop(client);
    std::thread::sleep(Duration::from_millis(500));
    drop(lock);

    wait_for(
        || fs::read_to_string(&file).is_ok_and(|f| f.lines().count() == 1),
        "the key in alice's file",
    );
    let line = fs::read_to_string(&file).unwrap();
    let written = ssh_key::PublicKey::from_openssh(line.trim().split_once(' ').unwrap().1)
        .unwrap()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    wait_for(
        || {
            fs::read_to_string(&audit).is_ok_and(|log| {
                log.lines().any(|l| {
                    l.contains(r#""action":"generate""#)
                        && l.contains(&written)
                        && l.contains(r#""outcome":"ok""#)
                })
            })
        },
        "the audit line of the key written",
    );
    let next = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(next.status, 429, "the key written counts: {}", next.body);
    assert!(
        next.body.contains("1 key in the last hour"),
        "{}",
        next.body
    );
}

#[test]
fn sixty_abandoned_passphrase_generations_from_one_person_do_not_hold_up_another_persons() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start_with_env(
        &[&alice.name, &bob.name],
        &[],
        &[("KEYHATCH_KEYS_PER_HOUR", "1000")],
    );
    let body = r#"{"passphrase":"correct horse battery staple"}"#;
    let generate = || {
        let reply = stack.post(&bob.name, "/api/keys/generate", body);
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    let before = fastest(3, generate);

    let abandoned: Vec<TcpStream> = (0..60)
        .map(|_| stack.send(&alice.name, "POST", "/api/keys/generate", body))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    drop(abandoned);
    let started = Instant::now();
    generate();
    let loaded = started.elapsed();
    // Idle measured on both sides of the loaded one, the slower kept: the other tests of this
    // binary share the two cores and come and go, and a quiet moment before is no measure of
    // a busy one after (2.3 s against 154 ms was seen so, with the fix in place).
    let idle = before.max(fastest(2, generate));
    // Alice holds at most max-in-flight (4) derivations, so Bob waits for at most those and his
    // own: about 5x idle. Sixty kept would cost him sixty (32x idle was seen before the fix).
    // The margin is for the other tests of this binary, which share the two cores.
    assert!(
        loaded < idle * 15,
        "bob's passphrase key took {loaded:?} after alice's abandoned ones, against {idle:?} idle"
    );
}

/// CPU time the process `pid` has used, all its threads, in clock ticks (10 ms).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// `pid`'s CPU time once it has stopped growing for a third of a second.
fn settled_cpu_ticks(pid: u32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = cpu_ticks(pid);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = cpu_ticks(pid);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// The attack: a person starts passphrase keys and hangs up as soon as each derivation runs,
/// spending the pool's cores (a tenth of a second of both, each) on keys nobody will take, and
/// at nice 0 on a busy node. Before the fix each ran to its end.
#[test]
fn a_passphrase_derivation_whose_client_hangs_up_stops_and_gives_its_cores_back() {
    let alice = Account::create_person();
    let stack =
        SiteStack::start_with_env(&[&alice.name], &[], &[("KEYHATCH_KEYS_PER_HOUR", "1000")]);
    let server = stack.keyhatch.id();
    let body = r#"{"passphrase":"correct horse battery staple"}"#;
    let before = settled_cpu_ticks(server);
    let reply = stack.post(&alice.name, "/api/keys/generate", body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let whole = settled_cpu_ticks(server) - before;
    for _ in 0..3 {
        let before = settled_cpu_ticks(server);
        let client = stack.send(&alice.name, "POST", "/api/keys/generate", body);
        // 40 ms of CPU: more than the request's own handling, so the derivation is under way.
        wait_for(|| cpu_ticks(server) >= before + 4, "the derivation to run");
        drop(client);
        let abandoned = settled_cpu_ticks(server) - before;
        assert!(
            abandoned * 10 < whole * 7,
            "a derivation whose client hung up used {abandoned} ticks, a whole one {whole}"
        );
    }
}

/// The red team's attack: a person who hung up just before each passphrase derivation ended
/// had their hour given back, so they could spend the pool's cores without end (200 abandoned
/// in 10 s, 6 counted, 8 s of CPU). A derivation that has started counts against the hour,
/// whatever its client does.
#[test]
fn a_passphrase_derivation_that_started_counts_against_the_hour_though_its_client_hung_up() {
    let alice = Account::create_person();
    let stack = SiteStack::start_with_env(&[&alice.name], &[], &[("KEYHATCH_KEYS_PER_HOUR", "2")]);
    let server = stack.keyhatch.id();
    let before = settled_cpu_ticks(server);
    let body = r#"{"passphrase":"correct horse battery staple"}"#;
    let client = stack.send(&alice.name, "POST", "/api/keys/generate", body);
    wait_for(|| cpu_ticks(server) >= before + 4, "the derivation to run");
    drop(client);
    settled_cpu_ticks(server);
    let second = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(second.status, 200, "{}", second.body);
    let third = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(third.status, 429, "{}", third.body);
    assert!(third.body.contains("in the last hour"), "{}", third.body);
}

/// Red team (helper-47): requests refused at the door cost nothing, and each wrote an audit
/// line: a signed-in person's cross-site posts wrote 325,000 lines (44 MB) in 5 seconds, to
/// fill the log's disk. They are written once a minute per person, and another person's
/// refusal is still written.
#[test]
fn a_flood_of_requests_refused_at_the_door_writes_one_audit_line_a_minute_per_person() {
    let (alice, bob) = (Account::create_person(), Account::create_person());
    let (stack, log) = SiteStack::start_audited(&[&alice.name, &bob.name], &[]);
    let cross_site = |who: &str| {
        let body = r#"{"fingerprint":"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
        let extra = "Sec-Fetch-Site: cross-site\r\n";
        let stream = stack.send_with(who, "POST", "/api/keys/revoke", body, extra);
        let answer = answer(stream, Duration::from_secs(10));
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    };
    for _ in 0..300 {
        cross_site(&alice.name);
    }
    cross_site(&bob.name);
    let text = log.text();
    let refused = |who: &str| {
        let needle = format!("\"account\":\"{who}\"");
        text.lines()
            .filter(|l| l.contains(&needle) && l.contains("cross-site"))
            .count()
    };
    assert_eq!(refused(&alice.name), 1, "{text}");
    assert_eq!(refused(&bob.name), 1, "{text}");
}

/// Red team (helper-52): door refusals were counted per name as the proxy sent it, so with
/// `user-map-lowercase` each spelling of one login (a proxy that passes the login as typed)
/// had a line a minute of its own: 32 spellings, 32 lines in a second. They count as the
/// login they map to.
#[test]
fn spellings_of_one_login_count_as_one_in_the_audit_log() {
    let alice = Account::create_person();
    let (stack, log) = SiteStack::start_audited(&[&alice.name], &["--user-map-lowercase"]);
    // Up to 32 spellings: each of the first five letters in either case.
    let letters: Vec<usize> = (alice.name.char_indices())
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .take(5)
        .collect();
    let spellings: Vec<String> = (0..32)
        .map(|n| {
            let upper = |i: usize| {
                letters
                    .iter()
                    .position(|&l| l == i)
                    .is_some_and(|k| (n >> k) & 1 == 1)
            };
            (alice.name.char_indices())
                .map(|(i, c)| if upper(i) { c.to_ascii_uppercase() } else { c })
                .collect()
        })
        .collect();
    let named: Vec<Vec<&str>> = spellings.iter().map(|s| vec![s.as_str()]).collect();
    refused_at_the_door(&stack, &named, true);
    let text = log.text();
    let lines = text.lines().filter(|l| l.contains("cross-site")).count();
    assert_eq!(lines, 1, "{text}");
}

/// Red team (helper-53): refused at the door, a request whose user header came twice (a proxy
/// that adds its own beside the client's passes both) was counted against the first name, the
/// client's: each made-up name had a line a minute, and 4,100 of them filled the table and
/// hid a person's. Such a header names nobody.
#[test]
fn a_user_header_sent_twice_names_nobody_in_the_audit_log() {
    let (stack, log) = SiteStack::start_audited(&[], &[]);
    let made_up: Vec<String> = (0..50).map(|n| format!("made-up-{n}")).collect();
    let named: Vec<Vec<&str>> = made_up
        .iter()
        .map(|m| vec![m.as_str(), "proxy-given"])
        .collect();
    refused_at_the_door(&stack, &named, true);
    // Past the door too (helper-55: the person check named the first).
    refused_at_the_door(&stack, &named, false);
    let text = log.text();
    assert_eq!(
        text.lines().filter(|l| l.contains("cross-site")).count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("more than once"))
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains(r#""account":"made-up-"#), "{text}");
}

/// Sends a post for each of `named` straight to keyhatch's socket as the proxy's account, with
/// one user header for each name in it (as a proxy that passes the login as typed, or adds its
/// own header beside the client's, would), and checks each is refused: as cross-site at the
/// door (403) when `cross_site`, else as naming nobody (401).
fn refused_at_the_door(stack: &SiteStack, named: &[Vec<&str>], cross_site: bool) {
    let port = stack.base.rsplit(':').next().unwrap();
    let program = r#"
import socket, sys
path, port, site = sys.argv[1:4]
for names in sys.argv[4:]:
    users = "".join(f"X-Forwarded-User: {name}\r\n" for name in names.split(","))
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(f"POST /api/keys/revoke HTTP/1.1\r\nHost: localhost:{port}\r\n{users}Sec-Fetch-Site: {site}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}".encode())
    print(s.recv(64).split(b"\r\n")[0].decode(), flush=True)
    s.close()
"#;
    let joined: Vec<String> = named.iter().map(|names| names.join(",")).collect();
    let site = if cross_site {
        "cross-site"
    } else {
        "same-origin"
    };
    let mut args = vec![port, site];
    args.extend(joined.iter().map(String::as_str));
    let out = stack.as_proxy(program, &args);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.lines().count(),
        named.len(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = if cross_site {
        "HTTP/1.1 403"
    } else {
        "HTTP/1.1 401"
    };
    assert!(said.lines().all(|l| l.starts_with(status)), "{said}");
}

/// Red team (helper-46): behind a proxy that does not buffer, a person opened their own page
/// again and again and never read the answers: each stayed in memory, 172 of them took 3 GB
/// in 31 s, and the service was killed. A person has at most 8 answers on their way (429
/// past them, and another person is served), and an answer its client reads nothing of for
/// 30 s is given up with its connection, which gives the place back. helper-48: a list, sent
/// in one piece, gave its place back as hyper took it, unsent (2,000 held).
#[test]
fn answers_a_person_leaves_unread_are_bounded_and_given_up_after_30_s() {
    let (alice, bob) = (Account::create_person(), Account::create_person());
    let file = empty_keys_file(&alice);
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t";
    let lines: String = (0..2_000)
        .map(|i| format!("restrict {key} fileglancer l{i}\n{key} me@laptop o{i}\n"))
        .collect();
    assert!(
        alice
            .run("sh", &["-c", &format!("cat > {}", file.display())])
            .status
            .success()
    );
    fs::write(&file, lines).unwrap();
    let stack = SiteStack::start(&[&alice.name, &bob.name], &[]);
    let port = stack.base.rsplit(':').next().unwrap();
    // As the proxy's account, straight to keyhatch's socket, as a proxy that does not buffer.
    let program = r#"
import socket, sys, time
path, port, alice, bob = sys.argv[1:5]
def ask(who, what="/ssh-keys"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(f"GET {what} HTTP/1.1\r\nHost: localhost:{port}\r\nX-Forwarded-User: {who}\r\n\r\n".encode())
    return s
def status(s):
    s.settimeout(20)
    line = s.recv(64).split(b"\r\n")[0].decode()
    s.close()
    return line
# One at a time, each page's own reads done before the next (max-in-flight is 4). A page is
# streamed; a list is sent in one piece, which hyper takes whole before writing it.
held = []
for what in ["/ssh-keys", "/api/keys/list"] * 4:
    held.append(ask(alice, what))
    time.sleep(1)
print(status(ask(alice)), status(ask(bob)), flush=True)
time.sleep(32)
left = []
for s in held:
    s.settimeout(5)
    got = b""
    while chunk := s.recv(1 << 20):
        got += chunk
    left.append(len(got))
print(status(ask(alice)), max(left), flush=True)
"#;
    let out = stack.as_proxy(program, &[port, &alice.name, &bob.name]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = said.lines();
    assert_eq!(
        lines.next().unwrap(),
        "HTTP/1.1 429 Too Many Requests HTTP/1.1 200 OK",
        "alice's ninth answer is refused, bob's served"
    );
    let (again, longest) = lines.next().unwrap().rsplit_once(' ').unwrap();
    assert_eq!(again, "HTTP/1.1 200 OK", "alice's places came back");
    let longest: usize = longest.parse().unwrap();
    assert!(
        longest < 2 << 20,
        "an unread answer was sent whole ({longest} bytes): it was never stuck"
    );
}

/// Red team (helper-48): a conflict the person makes at will (a key added again) was written
/// each time: 9,184 lines in 10 s. The same conflict is written once a minute, and how many
/// were not is written once the minute is over (helper-51: when the flood stopped, never).
#[test]
fn a_key_added_again_and_again_writes_one_audit_line_a_minute() {
    let alice = Account::create_person();
    let (stack, log) = SiteStack::start_audited(&[&alice.name], &[]);
    let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t me@laptop";
    let body = serde_json::json!({ "public_key": line }).to_string();
    assert_eq!(stack.post(&alice.name, "/api/keys/add", &body).status, 200);
    for _ in 0..200 {
        let again = stack.post(&alice.name, "/api/keys/add", &body);
        assert_eq!(again.status, 409, "{}", again.body);
    }
    let text = log.text();
    let adds = text
        .lines()
        .filter(|l| l.contains(r#""action":"add""#))
        .count();
    assert_eq!(
        adds, 2,
        "the add, and one line for the 200 conflicts: {text}"
    );
    // The 199 left unwritten are counted in a line once their minute is over, or at the latest
    // as keyhatch stops (before, the count waited for a next conflict that never came).
    drop(stack);
    let text = log.text();
    assert!(
        text.contains("(one of 199 failed alike in the last minute, not written one by one)"),
        "{text}"
    );
}

// Accounts and names.

/// Red team (helper-47): `keys-per-hour` was counted per login name, so two names on one uid
/// (`useradd -o`) had an hour each, and made twice the keys. It is counted per uid, as
/// `max-in-flight` is.
#[test]
fn two_login_names_on_one_uid_share_its_hour() {
    let alice = Account::create_person();
    let alias = Account::create_alias_of(&alice);
    let stack = SiteStack::start(&[&alice.name, &alias.name], &["--keys-per-hour", "2"]);
    for who in [&alice.name, &alias.name] {
        let made = stack.post(who, "/api/keys/generate", "{}");
        assert_eq!(made.status, 200, "{}", made.body);
    }
    let refused = stack.post(&alias.name, "/api/keys/generate", "{}");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("in the last hour"),
        "{}",
        refused.body
    );
}

/// The attack: a proxy login named `nobody` (the overflow uid 65534, the owner the kernel shows
/// for every uid it cannot map on NFS) is served like a person, writing keys into a home that
/// stands for everyone the system cannot map.
#[test]
fn the_overflow_account_nobody_is_not_served() {
    let stack = SiteStack::start(&["nobody"], &[]);
    for reply in [
        stack.get("nobody", "/api/keys/list"),
        stack.post("nobody", "/api/keys/generate", "{}"),
    ] {
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(reply.body.contains("overflow account"), "{}", reply.body);
    }
}

/// A site that sets `max-uid` serves nobody above it, with a page that says so.
#[test]
fn an_account_above_max_uid_is_not_served() {
    let alice = Account::create_person();
    let below = (alice.uid - 1).to_string();
    let stack = SiteStack::start(&[&alice.name], &["--min-uid", "1000", "--max-uid", &below]);
    let reply = stack.get(&alice.name, "/api/keys/list");
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("above the highest uid"),
        "{}",
        reply.body
    );
}

/// The attack: labels with characters that break the line in an editor or hide in it (U+2028,
/// U+2029, U+061C, U+00AD, U+3164, U+2060), so a key looks like another or a line looks like
/// two. Each is refused with a 400, and nothing is written.
#[test]
fn labels_with_invisible_or_line_breaking_characters_are_refused_and_write_nothing() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    for c in [
        '\u{2028}', '\u{2029}', '\u{061c}', '\u{00ad}', '\u{3164}', '\u{2060}',
    ] {
        let body = serde_json::json!({ "label": format!("Seqera{c}prod") }).to_string();
        let reply = stack.post(&alice.name, "/api/keys/generate", &body);
        // A failure never prints an answer that holds a private key.
        let shown = if reply.body.contains("PRIVATE KEY") {
            "a new key"
        } else {
            &reply.body
        };
        assert_eq!(reply.status, 400, "U+{:04X}: {shown}", u32::from(c));
        assert!(
            reply.body.contains(&format!("U+{:04X}", u32::from(c))),
            "{shown}"
        );
    }
    assert!(!alice.home().join(".ssh").exists());
}

/// The attack: a signed-in person sends their own `X-Forwarded-User` (twice, naming bob) along
/// with their login, hoping keyhatch reads theirs. The proxy sets the header from the login.
#[test]
fn a_client_header_naming_another_person_is_replaced_by_the_proxys() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[&alice.name, &bob.name], &[]);
    let reply = stack.get_with(
        &alice.name,
        "/api/account",
        &[
            ("X-Forwarded-User", &bob.name),
            ("x-forwarded-user", &bob.name),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["user"], alice.name.as_str());
}

/// The red team's attack: a person at `max-keys` sent passphrase generates without end. Each
/// ran its whole derivation (both cores for a tenth of a second) before the cap refused the
/// write, and the refusal gave the hour's reservation back: 1,458 derivations in 20 seconds.
/// A passphrase key refused after its derivation now counts against the hour.
#[test]
fn passphrase_keys_refused_at_the_cap_still_count_against_the_hour() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &["--max-keys", "1", "--keys-per-hour", "3"]);
    assert_eq!(
        stack.post(&alice.name, "/api/keys/generate", "{}").status,
        200
    );
    let with_passphrase = r#"{"passphrase":"correct horse battery staple"}"#;
    let mut said = Vec::new();
    for _ in 0..3 {
        let refused = stack.post(&alice.name, "/api/keys/generate", with_passphrase);
        assert_eq!(refused.status, 429, "{}", refused.body);
        said.push(refused.body);
    }
    assert!(said[0].contains("revoke one"), "{}", said[0]);
    assert!(said[1].contains("revoke one"), "{}", said[1]);
    assert!(said[2].contains("in the last hour"), "{}", said[2]);
}

/// Red team (helper-66): a person who adds a key and revokes it again, in a loop, had every
/// change written: 2,739 audit lines (480 KB) in 10 s, 2.9 MB a minute, with as many helpers
/// and rewrites. Changes are counted per person and hour (`changes-per-hour`): past the bound
/// they are refused with a sentence and change nothing, their refusals are throttled, and
/// another person is not held back.
#[test]
fn adding_and_revoking_a_key_in_a_loop_stops_at_the_hours_changes() {
    let (alice, bob) = (Account::create_person(), Account::create_person());
    let (stack, log) = SiteStack::start_audited(
        &[&alice.name, &bob.name],
        &["--changes-per-hour", "6", "--keys-per-hour", "100"],
    );
    let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t me@laptop";
    let add = serde_json::json!({ "public_key": line }).to_string();
    let mut statuses = Vec::new();
    let mut refused = String::new();
    for _ in 0..50 {
        let added = stack.post(&alice.name, "/api/keys/add", &add);
        statuses.push(added.status);
        if added.status != 200 {
            refused = added.body;
            continue;
        }
        let key: serde_json::Value = serde_json::from_str(&added.body).unwrap();
        let revoke = serde_json::json!({ "fingerprint": key["fingerprint"] }).to_string();
        statuses.push(stack.post(&alice.name, "/api/keys/revoke", &revoke).status);
    }
    assert_eq!(&statuses[..6], &[200; 6], "{statuses:?}");
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(
        refused.contains("you made 6 changes in the last hour, the most this site allows"),
        "{refused}"
    );
    let file = fs::read_to_string(alice.home().join(".ssh/authorized_keys")).unwrap_or_default();
    assert!(
        !file.contains("AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t"),
        "{file}"
    );
    let text = log.text();
    let alices = text
        .lines()
        .filter(|l| l.contains(&format!("\"account\":\"{}\"", alice.name)))
        .count();
    assert_eq!(alices, 7, "six changes and one refusal line: {text}");
    assert_eq!(stack.post(&bob.name, "/api/keys/add", &add).status, 200);
}

/// Red team (helper-67): adding SSH credentials to Seqera Platform went past
/// `changes-per-hour` (677 audit lines in 10 s), and so did the revoke an update asks for.
/// Each is a change, counted against the hour's.
#[test]
fn platform_credentials_count_against_the_hours_changes() {
    use crate::seqera::fake::FakePlatform;

    let alice = Account::create_person();
    let platform = FakePlatform::start(None);
    let log = AuditLog::new();
    let stack = SiteStack::start_with_env(
        &[&alice.name],
        &[
            "--changes-per-hour",
            "3",
            "--audit-log",
            log.path.to_str().unwrap(),
        ],
        &[("KEYHATCH_SEQERA_URL", &platform.url())],
    );
    let made = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(made.status, 200, "{}", made.body);
    let made: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    let add = serde_json::json!({
        "token": "seqera-token-5f1e9d", "workspace_id": 11, "name": "cluster-key",
        "private_key": made["private_key"],
    })
    .to_string();
    let statuses: Vec<u16> = (0..4)
        .map(|_| {
            stack
                .post(&alice.name, "/api/seqera/credentials", &add)
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 429, 429], "{}", log.text());
    let refused = stack.post(&alice.name, "/api/seqera/credentials", &add);
    assert!(
        refused.body.contains("you made 3 changes in the last hour"),
        "{}",
        refused.body
    );
    let posted = platform
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posted, 2, "only the counted ones reached Platform");
}

/// Red team (helper-67): the revoke an update with `revoke_old` asks for ran on, and was done,
/// when the client hung up while it waited for the file's lock; its audit line, written by the
/// request's handler, never was. It is written by the revoke's own task, as every change's is.
#[test]
fn a_revoke_after_a_platform_update_is_audited_when_the_client_hangs_up() {
    use crate::seqera::fake::FakePlatform;

    let alice = Account::create_person();
    let platform = FakePlatform::start(None);
    let url = platform.url();
    let (stack, log) =
        SiteStack::start_audited_with_env(&[&alice.name], &[], &[("KEYHATCH_SEQERA_URL", &url)]);
    let generate = |who: &str| {
        let made = stack.post(who, "/api/keys/generate", "{}");
        assert_eq!(made.status, 200, "{}", made.body);
        serde_json::from_str::<serde_json::Value>(&made.body).unwrap()
    };
    let (old, new) = (generate(&alice.name), generate(&alice.name));
    let old_fp = old["info"]["fingerprint"].as_str().unwrap().to_owned();
    // The person holds their own ~/.ssh for 4 s: the revoke waits for it.
    let ssh = alice.home().join(".ssh");
    let mut holder = alice
        .command("flock")
        .arg(&ssh)
        .args(["sleep", "4"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // An update putting `key` into the credentials `id`, revoking `old`, whose client hangs up
    // after `patience`.
    let update_and_hang_up = |id: &str, key: &serde_json::Value, old: &str, patience: u64| {
        let update = serde_json::json!({
            "token": "seqera-token-5f1e9d", "workspace_id": 11, "credentials_id": id,
            "name": "cluster", "private_key": key["private_key"], "revoke_old": old,
        })
        .to_string();
        let client = stack.send(
            &alice.name,
            "POST",
            "/api/seqera/credentials/update",
            &update,
        );
        std::thread::sleep(Duration::from_millis(patience));
        drop(client);
    };
    update_and_hang_up("sshCred1", &new, &old_fp, 1500);
    let _ = holder.wait();
    let revoked_and_audited = |fingerprint: &str| {
        wait_for(
            || {
                !stack
                    .get(&alice.name, "/api/keys/list")
                    .body
                    .contains(fingerprint)
            },
            &format!("{fingerprint} revoked"),
        );
        wait_for(
            || {
                log.text()
                    .lines()
                    .any(|l| l.contains(r#""action":"revoke""#) && l.contains(fingerprint))
            },
            &format!("the audit line of {fingerprint}'s revoke"),
        );
    };
    revoked_and_audited(&old_fp);
    // helper-68: a client that hung up while Platform answered (`sshSlow`, 3 s) dropped the
    // revoke it had asked for, with no line saying so. It goes on once Platform has the key.
    let newer = generate(&alice.name);
    let new_fp = new["info"]["fingerprint"].as_str().unwrap().to_owned();
    update_and_hang_up("sshSlow", &newer, &new_fp, 1000);
    revoked_and_audited(&new_fp);
}

/// A site stack for `alice` with `log` and a stand-in Platform, telling systemd at `notify`.
fn stack_for_a_stop(alice: &Account, log: &AuditLog, platform: &str, notify: &Path) -> SiteStack {
    SiteStack::start_with_env(
        &[&alice.name],
        &["--audit-log", log.path.to_str().unwrap()],
        &[
            ("KEYHATCH_SEQERA_URL", platform),
            ("NOTIFY_SOCKET", notify.to_str().unwrap()),
        ],
    )
}

/// Generates a key for `who`, and asks for it to go into the credentials `sshSlow` (Platform
/// answers in 3 s) in place of the key `old`, revoked once Platform holds it; returns the
/// client, still connected, and the new key's fingerprint.
fn update_slowly(stack: &SiteStack, who: &str, old: &str) -> (TcpStream, String) {
    let made = stack.post(who, "/api/keys/generate", "{}");
    assert_eq!(made.status, 200, "{}", made.body);
    let new: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    let update = serde_json::json!({
        "token": "seqera-token-5f1e9d", "workspace_id": 11, "credentials_id": "sshSlow",
        "name": "slow", "private_key": new["private_key"], "revoke_old": old,
    });
    let path = "/api/seqera/credentials/update";
    let client = stack.send(who, "POST", path, &update.to_string());
    let fingerprint = new["info"]["fingerprint"].as_str().unwrap().to_owned();
    (client, fingerprint)
}

/// Sends keyhatch SIGTERM.
fn stop(stack: &SiteStack) {
    let pid = stack.keyhatch.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
}

/// How keyhatch ended, and how long it took from now; fails past `limit`.
fn ended_within(stack: &mut SiteStack, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = stack.keyhatch.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        assert!(
            started.elapsed() < limit,
            "keyhatch still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The audit line of `action` (on the key `fingerprint`, if given); the last one.
fn line_of(log: &AuditLog, action: &str, fingerprint: Option<&str>) -> Option<String> {
    let action = format!(r#""action":"{action}""#);
    (log.text().lines().rev())
        .find(|l| l.contains(&action) && fingerprint.is_none_or(|f| l.contains(f)))
        .map(str::to_owned)
}

/// The fingerprint of a key `who` generates.
fn generated(stack: &SiteStack, who: &str) -> String {
    let made = stack.post(who, "/api/keys/generate", "{}");
    let made: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    made["info"]["fingerprint"].as_str().unwrap().to_owned()
}

/// Stops keyhatch twice while a Platform update of `who`'s, replacing `old` and asked to revoke
/// it, waits for Platform, its client gone (`hang_up`) or not: keyhatch ends at once, and the
/// update and the revoke it asked for (helper-72: that went unwritten) are each written as of
/// unknown outcome.
fn stopped_twice_during_an_update(
    stack: &mut SiteStack,
    who: &Account,
    log: &AuditLog,
    old: &str,
    hang_up: bool,
) {
    let (client, _) = update_slowly(stack, &who.name, old);
    std::thread::sleep(Duration::from_millis(300));
    if hang_up {
        drop(client);
    }
    stop(stack);
    std::thread::sleep(Duration::from_millis(300));
    stop(stack);
    let (_, took) = ended_within(stack, Duration::from_secs(20));
    assert!(
        took < Duration::from_secs(2),
        "did not wait for Platform: {took:?}"
    );
    let says = "unknown: keyhatch stopped before this change ended";
    for action in ["seqera update", "revoke"] {
        let line = line_of(log, action, None).unwrap();
        assert!(line.contains(says), "{line}");
    }
    assert!(
        line_of(log, "revoke", Some(old)).is_none(),
        "no revoke was made"
    );
}

/// Red team (helper-69): a change still under way when the service stopped (a restart, an
/// upgrade) was dropped with it: Platform held the new key, the old one still worked, and no
/// audit line said either. A stop now lets the changes under way end and be written; one it is
/// told not to wait for (stopped again) gets a line saying that its outcome is unknown.
#[test]
fn a_stop_lets_the_changes_under_way_end_and_writes_them() {
    let alice = Account::create_person();
    let platform = crate::seqera::fake::FakePlatform::start(None);
    let log = AuditLog::new();
    // systemd's notify socket: a stop says how long it may take.
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let systemd = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    let start = || stack_for_a_stop(&alice, &log, &platform.url(), &notify);

    let mut stack = start();
    let old = generated(&stack, &alice.name);
    let (client, new) = update_slowly(&stack, &alice.name, &old);
    std::thread::sleep(Duration::from_millis(500));
    drop(client);
    stop(&stack);
    let (status, took) = ended_within(&mut stack, Duration::from_secs(20));
    assert!(status.success(), "{status}");
    let updated = line_of(&log, "seqera update", Some(&new)).expect("the update's line");
    assert!(updated.contains(r#""outcome":"ok""#), "{updated}");
    let revoked = line_of(&log, "revoke", Some(&old)).expect("the revoke's line");
    assert!(revoked.contains(r#""outcome":"ok""#), "{revoked}");
    assert!(
        took >= Duration::from_secs(1),
        "waited for Platform: {took:?}"
    );
    // 20 s for Platform, 30 for a helper, 1 to spare, and 1 to write what was not waited for.
    systemd.set_nonblocking(true).unwrap();
    let mut told = Vec::new();
    let mut message = [0; 128];
    while let Ok(len) = systemd.recv(&mut message) {
        told.push(String::from_utf8_lossy(&message[..len]).into_owned());
    }
    assert_eq!(
        told,
        ["READY=1", "STOPPING=1\nEXTEND_TIMEOUT_USEC=52000000"]
    );
    drop(stack);

    let mut stack = start();
    let listed = stack.get(&alice.name, "/api/keys/list").body;
    assert!(!listed.contains(&old) && listed.contains(&new), "{listed}");
    // Stopped again at once, its client gone: nothing is waited for, and the lines say so.
    stopped_twice_during_an_update(&mut stack, &alice, &log, &new, true);
}

/// Red team (helper-70): a stop waited, without a bound and deaf to a second Ctrl-C, for every
/// connection to end: a client still waiting for its change (or reading a large page slowly)
/// held it, and meanwhile the socket took new connections that nothing would answer. Now the
/// listener closes at once, and a second stop ends the wait for connections as for changes.
#[test]
fn a_stop_closes_the_door_at_once_and_a_second_ends_it_whoever_is_still_connected() {
    let alice = Account::create_person();
    let platform = crate::seqera::fake::FakePlatform::start(None);
    let log = AuditLog::new();
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let _systemd = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    let start = || stack_for_a_stop(&alice, &log, &platform.url(), &notify);

    // One stop: the connected client gets its answer; anyone else is told at once.
    let mut stack = start();
    let old = generated(&stack, &alice.name);
    let (mut client, new) = update_slowly(&stack, &alice.name, &old);
    std::thread::sleep(Duration::from_millis(300));
    stop(&stack);
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let other = stack.get(&alice.name, "/api/keys/list");
    assert_eq!(other.status, 502, "{}", other.body);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(&format!(r#""revoked":"{old}""#)),
        "{answer}"
    );
    let (status, _) = ended_within(&mut stack, Duration::from_secs(20));
    assert!(status.success(), "{status}");
    drop(stack);

    // Stopped again: the client still connected does not hold the stop.
    let mut stack = start();
    stopped_twice_during_an_update(&mut stack, &alice, &log, &new, false);
}

/// Red team (helper-72): systemd's stop sends SIGTERM to every process of the service's
/// control group, and a terminal's Ctrl-C to every one of its group: a helper in the middle of
/// a revoke died of it, and the revoke failed. Helpers leave a stop to the server, which lets
/// the change end.
#[test]
fn a_stop_sent_to_every_process_of_the_service_lets_a_helper_end_its_change() {
    let alice = Account::create_person();
    let log = AuditLog::new();
    let args = ["--audit-log", log.path.to_str().unwrap()];
    let mut stack = SiteStack::start(&[&alice.name], &args);
    let old = generated(&stack, &alice.name);
    let lock = alice.hold_lock(&alice.home().join(".ssh/authorized_keys"));
    let body = serde_json::json!({ "fingerprint": old }).to_string();
    let mut client = stack.send(&alice.name, "POST", "/api/keys/revoke", &body);
    wait_for(
        || !stack.helpers_of(alice.uid).is_empty(),
        "a helper waiting for the lock",
    );
    let mut group = stack.helpers_of(alice.uid);
    group.push(stack.keyhatch.id());
    for pid in group {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(lock);
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (status, _) = ended_within(&mut stack, Duration::from_secs(20));
    assert!(status.success(), "{status}");
    let revoked = line_of(&log, "revoke", Some(&old)).expect("the revoke's line");
    assert!(revoked.contains(r#""outcome":"ok""#), "{revoked}");
}

/// Red team (helper-68): a Platform call that failed was never counted, so one person could
/// have keyhatch ask Platform without end (244 calls in 5 s with a wrong token, one audit line
/// a minute): a token checker that only Platform's logs see, and from keyhatch's one address,
/// which Platform may block for everyone. Every call counts against the hour's. And each HTTP
/// call counts (helper-69): listing workspaces makes two, and was counted as one.
#[test]
fn calls_to_platform_are_counted_whatever_platform_answers() {
    use crate::seqera::fake::FakePlatform;

    let (alice, bob) = (Account::create_person(), Account::create_person());
    let platform = FakePlatform::start(None);
    let stack = SiteStack::start_with_env(
        &[&alice.name, &bob.name],
        &["--platform-calls-per-hour", "3"],
        &[("KEYHATCH_SEQERA_URL", &platform.url())],
    );
    let wrong = serde_json::json!({ "token": "wrong-token-guess", "workspace_id": null });
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            let list = stack.post(
                &alice.name,
                "/api/seqera/credentials/list",
                &wrong.to_string(),
            );
            list.status
        })
        .collect();
    assert_eq!(statuses, [502, 502, 502, 429, 429]);
    let refused = stack.post(&alice.name, "/api/seqera/workspaces", &wrong.to_string());
    assert!(
        refused
            .body
            .contains("you had keyhatch ask Seqera Platform 3 times in the last hour"),
        "{}",
        refused.body
    );
    assert_eq!(
        platform.received().len(),
        3,
        "only the counted ones reached Platform"
    );
    let right = serde_json::json!({ "token": "seqera-token-5f1e9d" }).to_string();
    let workspaces = || {
        stack
            .post(&bob.name, "/api/seqera/workspaces", &right)
            .status
    };
    assert_eq!(workspaces(), 200);
    assert_eq!(
        platform.received().len(),
        5,
        "a list of workspaces is two calls"
    );
    assert_eq!(workspaces(), 429, "two more would make 4 calls in the hour");
    assert_eq!(platform.received().len(), 5);
}
