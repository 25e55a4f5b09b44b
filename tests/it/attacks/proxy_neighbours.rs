//! Site mode against whoever can reach keyhatch's listener beside the proxy: forged identity
//! headers, addresses that pass for the proxy's, and names the proxy lets through.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Account, SiteStack, free_port};

/// The attack: the proxy has a login "alice " (or " alice", "\talice") of its own, with its own
/// password, held by someone who is not alice. HTTP drops the blanks around a header's value,
/// so keyhatch alone would read alice. The shipped nginx check refuses the name first.
#[test]
fn a_proxy_login_with_blanks_around_another_persons_name_is_refused_by_the_shipped_nginx_check() {
    let alice = Account::create_person();
    let trailing = format!("{} ", alice.name);
    let leading = format!(" {}", alice.name);
    let tabbed = format!("\t{}", alice.name);
    let stack = SiteStack::start(&[&alice.name, &trailing, &leading, &tabbed], &[]);
    let own = stack.get(&alice.name, "/api/account");
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json()["user"], alice.name.as_str());
    for other in [&trailing, &leading, &tabbed] {
        let account = stack.get(other, "/api/account");
        assert_eq!(account.status, 403, "{other:?}: {}", account.body);
        assert!(
            account
                .body
                .contains("blanks at either end or control characters"),
            "{other:?}: {}",
            account.body
        );
        let generated = stack.post(other, "/api/keys/generate", "{}");
        assert_eq!(generated.status, 403, "{other:?}: {}", generated.body);
    }
    assert!(
        !alice.home().join(".ssh").exists(),
        "nothing written for alice"
    );
}

/// The attack: a process that is not the proxy (root here, on the socket) claims a 60 KB name,
/// or a new name each time, again and again, to fill the disk under the audit log. The first
/// refusal adds one short line; the others, whatever name they claim, are counted in the
/// next line a minute on (red team: 22,250 lines in 5 seconds from another account over TCP).
#[test]
fn a_peer_that_is_not_the_proxy_cannot_fill_the_audit_log_with_huge_claimed_names() {
    let (stack, log) = SiteStack::start_audited(&[], &[]);
    for i in 0..20 {
        let name = format!("{i}{}", "x".repeat(60_000));
        let mut stream = UnixStream::connect(&stack.socket).unwrap();
        let request = format!(
            "GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-User: {name}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{}", &answer[..80]);
    }
    let text = log.text();
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("not the proxy"))
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "the first refusal is recorded, once: {text}"
    );
    assert!(text.len() < 1024, "20 refusals added {} bytes", text.len());
    assert!(
        refused[0].contains(r#""account":"0xxxxx"#)
            && refused[0].contains("xxxxx… (59801 more bytes)"),
        "{}",
        refused[0]
    );
}

/// This host's first address that is not loopback (`hostname -I`).
fn own_address() -> String {
    let out = Command::new("hostname").arg("-I").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .expect("this host has an IPv4 address beside loopback")
        .to_owned()
}

/// Starts site-mode keyhatch on TCP `addr` trusting `trusted`; its standard error is captured.
fn start_on_tcp(addr: &str, trusted: &str, proxy_user: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhatch"));
    command
        .args(["--mode", "site", "--allow-remote", "--addr", addr])
        .args(["--public-url", "https://keys.example.org"])
        .args(["--trusted-proxies", trusted]);
    if proxy_user {
        command.args(["--proxy-user", "www-data"]);
    }
    command
        .env("KEYHATCH_CONFIG", "none")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `child` ends by itself (its standard error then) or listens on `addr` (`None`).
fn ended_or_listening(child: &mut Child, ip: &str, port: u16) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if child.try_wait().unwrap().is_some() {
            let mut said = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut said)
                .unwrap();
            return Some(said);
        }
        if std::net::TcpStream::connect((ip, port)).is_ok() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("keyhatch neither ended nor listened");
}

/// The attack: the site trusts its proxy by an address that is this host's own. Any account
/// here can connect from that address, name alice and generate a key into her file; the uid
/// of such a connection is never checked. keyhatch must refuse the setting (or the account).
#[test]
fn another_account_bound_to_the_hosts_own_address_cannot_name_anyone() {
    let alice = Account::create_person();
    let mallory = Account::create();
    let ip = own_address();
    let port = free_port();
    let mut keyhatch = start_on_tcp(&format!("{ip}:{port}"), &ip, true);
    let outcome = ended_or_listening(&mut keyhatch, &ip, port);
    let attack = outcome.is_none().then(|| {
        let request = format!(
            "POST /api/keys/generate HTTP/1.1\r\nHost: keys.example.org\r\nX-Forwarded-User: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            alice.name
        );
        let program = "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), \
                       source_address=(sys.argv[1], 0)); s.sendall(sys.argv[3].encode()); \
                       print(s.makefile().readline().strip())";
        mallory.python(program, &[&ip, &port.to_string(), &request])
    });
    let _ = keyhatch.kill();
    let _ = keyhatch.wait();
    assert!(
        !alice.home().join(".ssh/authorized_keys").exists(),
        "mallory generated a key for alice: {attack:?}"
    );
    let said = outcome.expect("keyhatch refuses to start with this setting");
    assert!(said.contains("is an address of this host"), "{said}");
}

/// The same setting in other spellings, and loopback without the proxy's account, stop
/// keyhatch at start with a sentence; a CIDR range is not an address at all.
#[test]
fn trusted_proxies_every_account_here_can_connect_from_stop_keyhatch_at_start() {
    let ip = own_address();
    for (trusted, proxy_user, says) in [
        (format!("::ffff:{ip}"), true, "is an address of this host"),
        ("127.0.0.1".to_owned(), false, "set proxy-user too"),
        ("::ffff:127.0.0.1".to_owned(), false, "set proxy-user too"),
        (
            "0.0.0.0".to_owned(),
            true,
            "not an address a proxy connects from",
        ),
        (format!("{ip}/24"), true, "invalid IP address syntax"),
    ] {
        let port = free_port();
        let mut keyhatch = start_on_tcp(&format!("127.0.0.1:{port}"), &trusted, proxy_user);
        let said = ended_or_listening(&mut keyhatch, "127.0.0.1", port);
        let _ = keyhatch.kill();
        let _ = keyhatch.wait();
        let said = said.unwrap_or_else(|| panic!("{trusted}: keyhatch started"));
        assert!(said.contains(says), "{trusted}: {said}");
    }
}

/// The attack: a client with no login asks the shipped proxies for keyhatch's other paths
/// spelled so that the proxy takes them for `/keys/healthz`, the one place without a login
/// (and for paths outside `/keys/`), and sends its own `X-Forwarded-User` along. Whatever
/// answers 200 is `ok` and names nobody, and nothing is written.
#[test]
fn a_client_without_login_reaches_nothing_but_ok_through_the_healthz_locations() {
    use crate::deploy::proxies::{PATH, Proxied};
    let alice = Account::create_person();
    for proxy in [
        Proxied::nginx(&[&alice.name]),
        Proxied::apache(&[&alice.name]),
    ] {
        let forged = format!("X-Forwarded-User: {}", alice.name);
        for path in [
            "/healthz/../api/keys/list",
            "/healthz/%2e%2e/api/keys/list",
            "/healthz%2F..%2Fapi%2Fkeys%2Flist",
            "/healthz/..%2Fapi/keys/list",
            "//healthz",
            "/./healthz",
            "/%68ealthz",
            "/api/keys/list/../../../healthz",
            "/api/keys/generate/%2e%2e/%2e%2e/%2e%2e/healthz",
            "/ssh-keys/../healthz",
            "/healthz?/../api/keys/list",
            "/healthz/",
            "/healthzz",
        ]
        .map(|path| format!("{PATH}{path}"))
        .into_iter()
        .chain(
            [
                "/healthz",
                "/api/keys/list",
                "/x/../keys/api/keys/list",
                "/keys/../healthz",
            ]
            .map(str::to_owned),
        ) {
            let path = path.as_str();
            for method in ["GET", "POST"] {
                let answer = proxy.curl(
                    None,
                    path,
                    &[
                        "-X",
                        method,
                        "-H",
                        &forged,
                        "-H",
                        "Content-Type: application/json",
                        "--data",
                        "{}",
                    ],
                );
                if answer.status == 200 {
                    assert_eq!(answer.body, "ok\n", "{method} {path}");
                }
                assert!(
                    !answer.body.contains(&alice.name) && !answer.body.contains("PRIVATE KEY"),
                    "{method} {path}: {} {}",
                    answer.status,
                    answer.body
                );
            }
        }
        let audit = proxy.audit();
        assert!(
            !audit.contains(&format!("\"account\":\"{}\"", alice.name)),
            "keyhatch saw alice's name: {audit}"
        );
    }
    assert!(!alice.home().join(".ssh").exists(), "nothing written");
}

/// The attack: a name the identity provider issues (and the proxy passes) built to forge audit
/// fields, with quotes, a line separator and bytes that are not UTF-8, on a request the layers
/// refuse; and the same in the client address the proxy reports. Each stays one field of one
/// JSON line, marked claimed.
#[test]
fn a_claimed_name_cannot_forge_audit_fields_or_lines() {
    let (stack, log) = SiteStack::start_audited(&[], &[]);
    // As the proxy's account on the socket, so the headers are believed.
    let program = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); \
        s.sendall(b'GET /ssh-keys HTTP/1.1\\r\\nHost: evil.example\\r\\n' \
        b'X-Forwarded-User: alice\",\"account\":\"root\",\"claimed\":false,\"x\":\"\\xe2\\x80\\xa8\\xff\\r\\n' \
        b'X-Real-IP: 1.2.3.4\",\"remote\":\"10.0.0.1\\r\\nConnection: close\\r\\n\\r\\n'); \
        print(s.makefile('rb').readline().decode().strip())";
    let out = stack.as_proxy(program, &[]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    let audit = log.text();
    assert_eq!(audit.lines().count(), 1, "{audit}");
    let line: serde_json::Value = serde_json::from_str(audit.trim_end()).unwrap();
    assert_eq!(line["outcome"], "foreign host");
    assert_eq!(line["claimed"], true, "{line}");
    let account = line["account"].as_str().unwrap();
    assert!(
        account.starts_with("alice\",\"account\":\"root\"") && account.contains("\\u{2028}"),
        "{account}"
    );
    assert_eq!(
        line["remote"], "1.2.3.4\"",
        "the first of a list, as X-Forwarded-For"
    );
}

/// Sends `requests` (each a request line and headers, without the blank line) to keyhatch's
/// socket on one connection, as the proxy's account (www-data); returns each answer's status
/// line and body, in order.
fn as_the_proxy_on_one_connection(stack: &SiteStack, requests: &[String]) -> Vec<(String, String)> {
    let program = "import socket,sys\n\
        s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f=s.makefile('rb')\n\
        for r in sys.argv[2:]:\n\
        \x20 s.sendall(r.encode()+b'\\r\\n\\r\\n'); status=f.readline().decode().strip(); l=0; h=b''\n\
        \x20 while h!=b'\\r\\n':\n\
        \x20   h=f.readline()\n\
        \x20   if h.lower().startswith(b'content-length'): l=int(h.split(b':')[1])\n\
        \x20 print(status); print(f.read(l).decode().replace('\\n',' '))\n";
    let requests: Vec<&str> = requests.iter().map(String::as_str).collect();
    let out = stack.as_proxy(program, &requests);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines.len(),
        2 * requests.len(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
        .chunks(2)
        .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
        .collect()
}

/// The attack: the proxy keeps one connection to keyhatch open for many people (nginx's
/// upstream keepalive does). Alice's request is followed on it by bob's, then hers again: each
/// is served as the person its own header names, never as whom the connection served first.
#[test]
fn one_proxy_connection_carrying_one_persons_requests_then_anothers_serves_each_as_themselves() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[], &[]);
    let as_ = |who: &str, path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-User: {who}")
    };
    let answers = as_the_proxy_on_one_connection(
        &stack,
        &[
            as_(&alice.name, "/api/keys/list"),
            as_(&bob.name, "/api/keys/list"),
            as_(&bob.name, "/api/account"),
            as_(&alice.name, "/api/account"),
        ],
    );
    for (status, _) in &answers {
        assert!(status.starts_with("HTTP/1.1 200"), "{answers:?}");
    }
    let home =
        |who: &Account| format!("\"path\":\"{}/.ssh/authorized_keys\"", who.home().display());
    assert!(answers[0].1.contains(&home(&alice)), "{answers:?}");
    assert!(answers[1].1.contains(&home(&bob)), "{answers:?}");
    assert!(
        answers[2].1.contains(&format!("\"user\":\"{}\"", bob.name)),
        "{answers:?}"
    );
    assert!(
        answers[3]
            .1
            .contains(&format!("\"user\":\"{}\"", alice.name)),
        "{answers:?}"
    );
}

/// The attack: a proxy that adds its own user header after the one the client sent (rather
/// than replacing it) passes both on. keyhatch must not take the client's: a request that names
/// the person twice is refused, whichever comes first, and nothing runs for either name.
#[test]
fn a_request_that_names_two_people_is_refused_and_serves_neither() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[], &[]);
    let twice = |first: &str, second: &str| {
        format!(
            "GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-User: {first}\r\n\
             X-Forwarded-User: {second}"
        )
    };
    let answers = as_the_proxy_on_one_connection(
        &stack,
        &[
            twice(&bob.name, &alice.name),
            twice(&alice.name, &alice.name),
        ],
    );
    for (status, body) in &answers {
        assert!(status.starts_with("HTTP/1.1 401"), "{answers:?}");
        assert!(!body.contains("authorized_keys"), "{answers:?}");
    }
    assert!(stack.helpers_of(alice.uid).is_empty() && stack.helpers_of(bob.uid).is_empty());
}

/// The attack: any account here can connect to the metrics port on loopback, and open
/// connections without end that send nothing, to use up the descriptors of the root service
/// that serves everyone. The metrics listener holds only a few at once.
#[test]
fn idle_connections_to_the_metrics_port_hold_none_of_the_services_descriptors() {
    let person = Account::create_person();
    let port = free_port();
    let stack = SiteStack::start(
        &[&person.name],
        &["--metrics-addr", &format!("127.0.0.1:{port}")],
    );
    let pid = stack.keyhatch.id();
    let descriptors = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    let before = descriptors();
    let idle: Vec<_> = (0..400)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Let keyhatch accept them all.
    std::thread::sleep(Duration::from_millis(500));
    let during = descriptors();
    assert!(
        during < before + 32,
        "400 idle connections to the metrics port hold {} of keyhatch's descriptors",
        during - before
    );
    let list = stack.get(&person.name, "/api/keys/list");
    assert_eq!(list.status, 200, "{}", list.body);
    drop(idle);
    // Once they are gone, a scrape is served again.
    let started = Instant::now();
    loop {
        match ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call() {
            Ok(reply) if reply.status() == 200 => break,
            other => assert!(
                started.elapsed() < Duration::from_secs(10),
                "no scrape after the idle connections closed: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scrapes `/metrics` on `port`, trying for `within`.
fn scrape(port: u16, within: Duration) -> Result<String, String> {
    let started = Instant::now();
    loop {
        match ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call() {
            Ok(reply) if reply.status() == 200 => {
                return Ok(reply.into_body().read_to_string().unwrap());
            }
            other if started.elapsed() >= within => return Err(format!("{other:?}")),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The attack: another account keeps every slot of the metrics listener busy, to blind the
/// site's monitoring. Connections from this host are served only when root's or keyhatch's own.
#[test]
fn another_account_holding_the_metrics_port_busy_does_not_blind_the_scraper() {
    let (person, mallory) = (Account::create_person(), Account::create());
    let port = free_port();
    let stack = SiteStack::start(
        &[&person.name],
        &["--metrics-addr", &format!("127.0.0.1:{port}")],
    );
    let program = "import socket,sys; s=[socket.create_connection(('127.0.0.1',int(sys.argv[1]))) \
                   for _ in range(40)]; print('held', flush=True); sys.stdin.read()";
    let mut held = mallory.hold(program, &[&port.to_string()]);
    let scraped = scrape(port, Duration::from_secs(1));
    let _ = held.kill();
    let _ = held.wait();
    let text = scraped.expect("root's scrape is served while another account holds 40 connections");
    assert!(text.ends_with("# EOF\n"), "{text}");
    drop(stack);
}

/// The attack: another account binds the metrics port first (before a start, a restart or an
/// upgrade), so that keyhatch could not listen there. keyhatch serves everyone regardless, and
/// takes the port once it is free.
#[test]
fn another_account_squatting_the_metrics_port_does_not_stop_the_service() {
    let (person, mallory) = (Account::create_person(), Account::create());
    let port = free_port();
    let program = "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',int(sys.argv[1]))); \
                   s.listen(); print('held', flush=True); sys.stdin.read()";
    let mut squatter = mallory.hold(program, &[&port.to_string()]);
    let stack = SiteStack::start(
        &[&person.name],
        &["--metrics-addr", &format!("127.0.0.1:{port}")],
    );
    let list = stack.get(&person.name, "/api/keys/list");
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert_eq!(list.status, 200, "{}", list.body);
    // The port is taken once free (tried every 5 seconds).
    let text = scrape(port, Duration::from_secs(12)).expect("metrics once the port is free");
    assert!(text.contains("keyhatch_helper_seconds_count"), "{text}");
}

/// The attack: names beyond ASCII (and bytes that are not UTF-8) where keyhatch refuses before
/// judging the name: from a process that is not the proxy, and a proxy that passes the client's
/// own header beside its own. Each refusal is recorded with the name as sent, bytes that are not
/// UTF-8 written `\xNN`, so a client cannot stay out of the audit log by its choice of bytes;
/// the header sent twice names nobody as the account, its names in the outcome.
#[test]
fn names_beyond_ascii_or_not_utf8_are_recorded_where_they_are_refused() {
    let (stack, log) = SiteStack::start_audited(&[], &[]);
    // As root, not the proxy.
    let mut stream = UnixStream::connect(&stack.socket).unwrap();
    stream
        .write_all(
            "GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-User: käte\r\nConnection: close\r\n\r\n"
                .as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // As the proxy (www-data), the header twice, the first not UTF-8 at all.
    let request = b"GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-User: kate\x80\r\nX-Forwarded-User: kate\r\nConnection: close\r\n\r\n";
    let sent = Command::new("runuser")
        .args(["-u", "www-data", "--", "python3", "-c"])
        .arg(
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
             s.sendall(sys.stdin.buffer.read())\nprint(s.recv(100).decode('latin-1').split(chr(13))[0])",
        )
        .arg(&stack.socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(request)?;
            child.wait_with_output()
        })
        .unwrap();
    let status = String::from_utf8_lossy(&sent.stdout);
    assert!(
        status.starts_with("HTTP/1.1 401"),
        "{status}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let text = log.text();
    assert!(
        text.lines()
            .any(|l| l.contains("\"account\":\"käte\"") && l.contains("not the proxy")),
        "{text}"
    );
    // Named nobody (the first is most often the client's own), the names sent in the outcome.
    assert!(
        text.lines()
            .any(|l| l.contains(r#""account":"""#)
                && l.contains(r#"more than once (kate\\x80, kate)"#)),
        "{text}"
    );
}
