//! Site mode behind a real proxy: Debian's nginx authenticates with auth_basic and passes
//! `$remote_user` as `X-Forwarded-User` over keyhatch's Unix socket. keyhatch runs as root (as
//! the tests do) and works in each person's home through a helper that has become them.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::helpers::{Account, SiteStack, form_id, free_port, shown_key_fingerprint, wait_for};
use crate::sshd_login::{Sshd, test_dir, write_private};

fn mode_and_owner(path: &Path) -> (u32, u32) {
    let meta = fs::symlink_metadata(path).unwrap();
    (meta.permissions().mode() & 0o7777, meta.uid())
}

#[test]
fn a_person_generates_through_the_proxy_into_their_own_home_and_the_key_logs_in() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[&alice.name, &bob.name], &[]);

    let generated = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(generated.status, 200, "{}", generated.body);
    let key = generated.json();
    let ssh = alice.home().join(".ssh");
    let file = ssh.join("authorized_keys");
    assert_eq!(mode_and_owner(&ssh), (0o700, alice.uid));
    assert_eq!(mode_and_owner(&file), (0o600, alice.uid));
    assert_eq!(fs::metadata(&file).unwrap().gid(), alice.gid);
    let line = fs::read_to_string(&file).unwrap();
    assert!(
        line.starts_with("restrict,pty ssh-ed25519 ") && line.ends_with(" fileglancer\n"),
        "{line}"
    );

    let account = stack.get(&alice.name, "/api/account").json();
    assert_eq!(account["user"], alice.name.as_str());

    // sshd is the judge: the key logs in as alice.
    let dir = test_dir();
    let private = dir.path().join("alice_key");
    write_private(&private, key["private_key"].as_str().unwrap(), 0o600);
    let sshd = Sshd::start_for(dir.path(), &alice.name, &format!("{}", file.display()));
    let login = sshd.login(&private, None);
    assert!(
        login.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&login.stderr),
        sshd.log()
    );

    // bob sees only his own keys, and cannot revoke alice's.
    let bobs = stack.get(&bob.name, "/api/keys/list").json();
    assert_eq!(bobs["keys"].as_array().unwrap().len(), 0, "{bobs}");
    let fingerprint = key["info"]["fingerprint"].as_str().unwrap();
    let body = serde_json::json!({ "fingerprint": fingerprint }).to_string();
    assert_eq!(stack.post(&bob.name, "/api/keys/revoke", &body).status, 404);
    assert_eq!(fs::read_to_string(&file).unwrap(), line);
    let bob_key = stack.post(&bob.name, "/api/keys/generate", "{}");
    assert_eq!(bob_key.status, 200, "{}", bob_key.body);
    let alices = stack.get(&alice.name, "/api/keys/list").json();
    assert_eq!(alices["keys"].as_array().unwrap().len(), 1, "{alices}");
    assert_eq!(
        stack.post(&alice.name, "/api/keys/revoke", &body).status,
        200
    );
    assert!(
        !sshd.login(&private, None).status.success(),
        "revoked, it no longer logs in"
    );
}

#[test]
fn root_system_accounts_and_headers_from_anyone_but_the_proxy_are_refused() {
    let alice = Account::create_person();
    let system = Account::create_system();
    let stack = SiteStack::start(&["root", &system.name, &alice.name], &[]);

    let root = stack.get("root", "/ssh-keys");
    assert_eq!(root.status, 403);
    assert!(root.body.contains("Not for root"), "{}", root.body);
    let sys = stack.get(&system.name, "/api/keys/list");
    assert_eq!(sys.status, 403);
    assert!(sys.body.contains("system account"), "{}", sys.body);

    // The header sent straight to the socket by a process that is not the proxy (root here):
    // nobody is logged in.
    let mut stream = UnixStream::connect(&stack.socket).unwrap();
    let request = format!(
        "GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-User: {}\r\nConnection: close\r\n\r\n",
        alice.name
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // Through nginx without a password: nginx's own 401.
    let anonymous = stack
        .agent
        .get(format!("{}/ssh-keys", stack.base))
        .call()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(
        !alice.home().join(".ssh").exists(),
        "nothing was written for alice"
    );
}

#[test]
fn the_header_on_tcp_is_believed_only_from_the_proxys_address_and_account() {
    let alice = Account::create_person();
    let port = free_port();
    let mut keyhatch = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .args([
            "--mode",
            "site",
            "--proxy-user",
            "www-data",
            "--trusted-proxies",
            "127.0.0.1",
            "--public-url",
            "http://127.0.0.1",
        ])
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env("KEYHATCH_CONFIG", "none")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "keyhatch",
    );
    let request = format!(
        "GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-User: {}\r\nConnection: close\r\n\r\n",
        alice.name
    );
    // As the proxy's account (www-data) from `source`, with Python's socket: the answer's
    // status line.
    let as_proxy = |source: &str| {
        let program = "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])), \
                       source_address=(sys.argv[2], 0)); s.sendall(sys.argv[3].encode()); \
                       print(s.makefile().readline().strip())";
        let out = Command::new("setpriv")
            .args([
                "--reuid=www-data",
                "--regid=www-data",
                "--clear-groups",
                "--",
            ])
            .args([
                "/usr/bin/python3",
                "-c",
                program,
                &port.to_string(),
                source,
                &request,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let from_proxy = as_proxy("127.0.0.1");
    let other_address = as_proxy("127.0.0.2");
    // From 127.0.0.1, but as root, not as www-data: loopback alone proves nothing.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let _ = keyhatch.kill();
    let _ = keyhatch.wait();
    assert!(
        from_proxy.starts_with("HTTP/1.1 200"),
        "the proxy itself: {from_proxy}"
    );
    assert!(
        other_address.starts_with("HTTP/1.1 401"),
        "not a proxy address: {other_address}"
    );
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "not the proxy's account: {answer}"
    );
}

#[test]
fn links_a_person_plants_reach_nothing_outside_their_reach() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    let home = alice.home();
    let as_alice = |args: &[&str]| {
        let out = alice.run(args[0], &args[1..]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let entries = |dir: &str| fs::read_dir(dir).map_or(0, Iterator::count);
    let root_ssh = entries("/root/.ssh");
    let shadow_meta = fs::metadata("/etc/shadow").unwrap();

    // ~/.ssh -> /root/.ssh
    as_alice(&[
        "ln",
        "-s",
        "/root/.ssh",
        home.join(".ssh").to_str().unwrap(),
    ]);
    let refused = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_ne!(refused.status, 200, "{}", refused.body);
    assert!(!refused.body.contains("PRIVATE KEY"));
    assert_eq!(entries("/root/.ssh"), root_ssh);
    // The link is the file's state, said with a 409, not a fault.
    assert_eq!(stack.get(&alice.name, "/api/keys/list").status, 409);

    // ~/.ssh/authorized_keys -> /etc/shadow
    as_alice(&["rm", home.join(".ssh").to_str().unwrap()]);
    as_alice(&["mkdir", "-m", "700", home.join(".ssh").to_str().unwrap()]);
    as_alice(&[
        "ln",
        "-s",
        "/etc/shadow",
        home.join(".ssh/authorized_keys").to_str().unwrap(),
    ]);
    let refused = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_ne!(refused.status, 200, "{}", refused.body);
    let listed = stack.get(&alice.name, "/api/keys/list");
    assert_ne!(
        listed.status, 200,
        "alice cannot read /etc/shadow, so neither can her helper"
    );
    assert!(!listed.body.contains("root:"), "{}", listed.body);
    let fix = stack.post(&alice.name, "/api/keys/fix", r#"{"fix":"FileMode"}"#);
    assert_ne!(fix.status, 200, "{}", fix.body);
    // Other tests add and remove accounts meanwhile, so /etc/shadow may change; never by
    // keyhatch: no key line in it, and its owner and mode as they were.
    let after = fs::read_to_string("/etc/shadow").unwrap();
    assert!(!after.contains("ssh-ed25519") && !after.contains("fileglancer"));
    let meta = fs::metadata("/etc/shadow").unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode()),
        (shadow_meta.uid(), shadow_meta.gid(), shadow_meta.mode())
    );
}

#[test]
fn healthz_answers_without_login_and_names_nobody() {
    let stack = SiteStack::start(&[], &[]);
    let answer = stack.healthz();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
}

#[test]
fn per_person_limits_refuse_with_clear_messages() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(
        &[&alice.name, &bob.name],
        &["--max-keys", "2", "--keys-per-hour", "3"],
    );
    let generate = |who: &str| stack.post(who, "/api/keys/generate", "{}");
    let first = generate(&alice.name).json();
    assert_eq!(generate(&alice.name).status, 200);
    let full = generate(&alice.name);
    assert_eq!(full.status, 429, "{}", full.body);
    assert!(full.body.contains("revoke one"), "{}", full.body);
    assert!(!full.body.contains("PRIVATE KEY"));

    let body = serde_json::json!({ "fingerprint": first["info"]["fingerprint"] }).to_string();
    assert_eq!(
        stack.post(&alice.name, "/api/keys/revoke", &body).status,
        200
    );
    assert_eq!(
        generate(&alice.name).status,
        200,
        "the third key of the hour"
    );
    let hourly = generate(&alice.name);
    assert_eq!(hourly.status, 429, "{}", hourly.body);
    assert!(hourly.body.contains("in the last hour"), "{}", hourly.body);
    assert_eq!(generate(&bob.name).status, 200, "bob has limits of his own");
}

#[test]
fn keys_go_where_the_sites_authorized_keys_file_says_and_sshd_reads_them_there() {
    let alice = Account::create_person();
    let stack = SiteStack::start(
        &[&alice.name],
        &["--authorized-keys-file", "%h/.ssh/keys/%u"],
    );
    let generated = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(generated.status, 200, "{}", generated.body);
    let keys = alice.home().join(".ssh/keys");
    let file = keys.join(&alice.name);
    assert_eq!(mode_and_owner(&keys), (0o700, alice.uid));
    assert_eq!(mode_and_owner(&file), (0o600, alice.uid));
    assert!(!alice.home().join(".ssh/authorized_keys").exists());
    let listed = stack.get(&alice.name, "/api/keys/list").json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["path"], file.display().to_string());

    let dir = test_dir();
    let private = dir.path().join("alice_key");
    write_private(
        &private,
        generated.json()["private_key"].as_str().unwrap(),
        0o600,
    );
    let sshd = Sshd::start_for(dir.path(), &alice.name, "%h/.ssh/keys/%u");
    let login = sshd.login(&private, None);
    assert!(
        login.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&login.stderr),
        sshd.log()
    );
}

#[test]
fn every_thread_of_the_server_keeps_only_the_capabilities_starting_helpers_needs() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    // Work that wakes the runtime's threads, the blocking pool and the key-derivation pool.
    assert_eq!(stack.get(&alice.name, "/ssh-keys").status, 200);
    let body = r#"{"passphrase":"correct horse battery staple"}"#;
    assert_eq!(
        stack.post(&alice.name, "/api/keys/generate", body).status,
        200
    );
    assert_eq!(stack.get(&alice.name, "/api/keys/list").status, 200);
    // CAP_SETGID is 6, CAP_SETUID 7: all a helper may start with. The server also keeps
    // CAP_KILL (5), for helpers past their time bound.
    let setid = (1 << 6) | (1 << 7);
    let server = setid | (1 << 5);
    let tasks: Vec<_> = fs::read_dir(format!("/proc/{}/task", stack.keyhatch.id()))
        .unwrap()
        .map(|t| t.unwrap().path())
        .collect();
    assert!(tasks.len() > 2, "{} threads", tasks.len());
    let mut wrong = Vec::new();
    for task in tasks {
        let status = fs::read_to_string(task.join("status")).unwrap();
        let caps = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        let name = status.lines().next().unwrap_or_default().to_owned();
        let expected = [
            ("CapEff:", server),
            ("CapPrm:", server),
            ("CapBnd:", setid),
            ("CapInh:", 0),
            ("CapAmb:", 0),
        ];
        for (set, allowed) in expected {
            if caps(set) != allowed {
                wrong.push(format!("{} ({name}) {set} {:x}", task.display(), caps(set)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A pids cgroup (v1) keyhatch's process is moved into, removed (after moving it back) on drop.
struct PidsCgroup(std::path::PathBuf, u32);

impl PidsCgroup {
    fn around(pid: u32) -> Self {
        let dir = Path::new("/sys/fs/cgroup/pids").join(format!("keyhatch-test-{pid}"));
        fs::create_dir(&dir).expect("a pids cgroup (this test needs cgroup v1's pids controller)");
        fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
        Self(dir, pid)
    }

    fn limit(&self, max: &str) {
        fs::write(self.0.join("pids.max"), max).unwrap();
    }

    fn current(&self) -> String {
        fs::read_to_string(self.0.join("pids.current"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        let _ = fs::write("/sys/fs/cgroup/pids/cgroup.procs", self.1.to_string());
        let _ = fs::remove_dir(&self.0);
    }
}

#[test]
fn healthz_reports_unhealthy_while_helpers_cannot_be_started() {
    let stack = SiteStack::start(&[], &[]);
    let healthz = || stack.healthz();
    assert!(healthz().starts_with("HTTP/1.1 200"), "{}", healthz());
    // No process (and no thread) more for keyhatch: a helper cannot start.
    let cgroup = PidsCgroup::around(stack.keyhatch.id());
    cgroup.limit(&cgroup.current());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let sick = healthz();
    cgroup.limit("max");
    assert!(sick.starts_with("HTTP/1.1 503"), "{sick}");
    assert!(sick.contains("cannot start"), "{sick}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let well = healthz();
    assert!(
        well.starts_with("HTTP/1.1 200") && well.ends_with("ok\n"),
        "{well}"
    );
}

#[test]
fn a_form_posted_without_javascript_makes_one_key_in_the_senders_home() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[&alice.name, &bob.name], &[]);
    let same_origin = [("Sec-Fetch-Site", "same-origin")];
    let page = stack
        .get_with(&alice.name, "/ssh-keys?dialog=generate", &same_origin)
        .body;
    let form = format!(
        "intent=generate&form_id={}&label=form&passphrase=&passphrase_confirm=",
        form_id(&page)
    );

    // The answer shows, once, the private half of the key now in the sender's own file.
    let shows_own_key = |who: &Account, answer: &str| {
        let listed = stack.get(&who.name, "/api/keys/list").json();
        let fingerprint = listed["keys"][0]["fingerprint"].as_str().map(str::to_owned);
        assert_eq!(shown_key_fingerprint(answer), fingerprint);
    };
    let answer = stack.post_form(&alice.name, "/ssh-keys", &form);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let file = alice.home().join(".ssh/authorized_keys");
    assert_eq!(mode_and_owner(&file), (0o600, alice.uid));
    let written = fs::read_to_string(&file).unwrap();
    assert!(written.ends_with(" fileglancer form\n"), "{written}");
    shows_own_key(&alice, &answer.body);

    // Sent again: refused (checked without printing the answer), nothing written.
    let again = stack.post_form(&alice.name, "/ssh-keys", &form);
    let shown = shown_key_fingerprint(&again.body);
    assert_eq!(
        shown, None,
        "a resent form showed a key (status {})",
        again.status
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(fs::read_to_string(&file).unwrap(), written);
    // The same form sent by bob is bob's own first (ids are per person), into his home only.
    let bobs = stack.post_form(&bob.name, "/ssh-keys", &form);
    assert_eq!(bobs.status, 200, "{}", bobs.body);
    let bob_file = bob.home().join(".ssh/authorized_keys");
    assert_eq!(mode_and_owner(&bob_file), (0o600, bob.uid));
    shows_own_key(&bob, &bobs.body);
    assert_eq!(fs::read_to_string(&file).unwrap(), written);
}

#[test]
fn a_refused_login_is_offered_the_proxys_sign_out_to_try_another() {
    let stack = SiteStack::start(&["root"], &["--logout-url", "/oauth2/sign_out?rd=/&x=\"y"]);
    let refused = stack.get("root", "/ssh-keys");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains(
            r#"To sign in with another login, <a href="/oauth2/sign_out?rd=/&amp;x=&quot;y">log out</a> first."#
        ),
        "{}",
        refused.body
    );
    let without = SiteStack::start(&["root"], &[]);
    let refused = without.get("root", "/ssh-keys");
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("log out"), "{}", refused.body);
}

/// A name beyond ASCII, as a provider may issue and the proxy pass on byte for byte: judged as
/// any other name (no such account here), with the way to sign in with another login; not
/// taken for a request without a name (401, no way out, no audit line).
#[test]
fn a_name_beyond_ascii_is_judged_as_any_name_with_a_way_out() {
    let name = "khtest-alıce";
    let stack = SiteStack::start(&[name], &["--logout-url", "/oauth2/sign_out"]);
    let refused = stack.get(name, "/ssh-keys");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains(&format!(
            "There is no account <b>{name}</b> on this cluster."
        )),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains(r#"<a href="/oauth2/sign_out">log out</a>"#),
        "{}",
        refused.body
    );
}

/// The attack: a user database that matches names regardless of case (SSSD with
/// `case_sensitive = false`, LDAP's caseIgnoreMatch), here glibc's own with a `getpwnam_r` in
/// front that lowercases the name, and a provider that issued "ALICE…" to someone other than
/// alice. keyhatch serves an account only by its own spelling.
#[test]
fn a_name_the_user_database_matches_only_regardless_of_case_is_refused() {
    let alice = Account::create_person();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("lower.c");
    fs::write(
        &source,
        "#define _GNU_SOURCE\n#include <ctype.h>\n#include <dlfcn.h>\n#include <pwd.h>\n\
         int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t len,\n\
                        struct passwd **result) {\n\
           int (*real)(const char *, struct passwd *, char *, size_t, struct passwd **) =\n\
             dlsym(RTLD_NEXT, \"getpwnam_r\");\n\
           char lower[256]; size_t i;\n\
           for (i = 0; name[i] && i < 255; i++) lower[i] = tolower((unsigned char)name[i]);\n\
           lower[i] = 0;\n\
           return real(lower, pwd, buf, len, result);\n\
         }\n",
    )
    .unwrap();
    let library = dir.path().join("liblower.so");
    let built = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let shouted = alice.name.to_uppercase();
    let stack = SiteStack::start_with_env(
        &[&shouted, &alice.name],
        &[],
        &[("LD_PRELOAD", library.to_str().unwrap())],
    );
    // The database does give alice's entry for her own spelling.
    assert_eq!(stack.get(&alice.name, "/api/keys/list").status, 200);
    let refused = stack.get(&shouted, "/ssh-keys");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains(&format!(
            "the account this cluster found for it is spelled <b>{}</b>",
            alice.name
        )),
        "{}",
        refused.body
    );
    let generated = stack.post(&shouted, "/api/keys/generate", "{}");
    assert_eq!(generated.status, 403, "{}", generated.body);
    assert!(!alice.home().join(".ssh/authorized_keys").exists());
}

/// Helpers started ahead of need wait as root, where no person can signal, trace or feed them;
/// each does one job (it is gone after it), new ones take the place of those used, and none
/// outlives the server.
#[test]
fn spare_helpers_wait_out_of_every_persons_reach_and_each_does_one_job() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    assert_eq!(stack.get(&alice.name, "/api/keys/list").status, 200);
    let spares = || {
        let mut pids = stack.helpers_of(0);
        pids.sort_unstable();
        pids
    };
    wait_for(|| spares().len() == 2, "two spare helpers");
    let waiting = spares();
    for pid in &waiting {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(cmdline.ends_with(b"__keyhatch_helper\0"), "{cmdline:?}");
        for (program, args) in [
            ("kill", vec!["-STOP", &pid.to_string() as &str]),
            ("cat", vec![&format!("/proc/{pid}/environ") as &str]),
            ("ls", vec![&format!("/proc/{pid}/fd") as &str]),
        ] {
            let tried = alice.run(program, &args);
            assert!(!tried.status.success(), "{program} {args:?}: {tried:?}");
        }
    }

    let generated = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(generated.status, 200, "{}", generated.body);
    let fingerprint = generated.json()["info"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = stack.get(&alice.name, "/api/keys/list").json();
    assert_eq!(listed["keys"][0]["fingerprint"], fingerprint.as_str());
    // Two jobs, two of the spares used and gone; two new ones wait.
    wait_for(
        || {
            let now = spares();
            now.len() == 2 && waiting.iter().all(|pid| !now.contains(pid))
        },
        "two new spares in place of the two used",
    );
    for pid in &waiting {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} still runs"
        );
    }

    let last = spares();
    drop(stack);
    wait_for(
        || {
            last.iter()
                .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        },
        "no spare outlives the server",
    );
}

/// Requests that arrive together start no helper for nothing: every helper keyhatch started
/// did a job or waits for one. (Before, spares were started by each request that took one, all
/// at once, and the extras killed: about one start in ten under a burst.)
#[test]
fn a_burst_of_requests_starts_a_helper_only_for_a_job_or_a_spare() {
    let people: Vec<Account> = (0..3).map(|_| Account::create_person()).collect();
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    let port = free_port();
    let stack = SiteStack::start(&names, &["--metrics-addr", &format!("127.0.0.1:{port}")]);
    std::thread::scope(|s| {
        for name in &names {
            for _ in 0..4 {
                let stack = &stack;
                s.spawn(move || {
                    for _ in 0..10 {
                        let status = stack.get(name, "/api/keys/list").status;
                        assert!(status == 200 || status == 429, "{status}");
                    }
                });
            }
        }
    });
    let counter = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name}: {text}"))
    };
    let balance = || {
        let text = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        let started = counter(&text, "keyhatch_helpers_started_total");
        let jobs = counter(&text, "keyhatch_helper_seconds_count");
        (started, jobs, stack.helpers_of(0).len() as u64)
    };
    let mut last = (0, 0, 0);
    let settled = (0..250).any(|_| {
        last = balance();
        let (started, jobs, waiting) = last;
        std::thread::sleep(std::time::Duration::from_millis(20));
        waiting == 2 && started == jobs + waiting
    });
    assert!(settled, "(started, jobs, waiting) = {last:?}");
    assert!(last.1 >= 30, "the burst ran few jobs: {last:?}");
}

/// Red team: a browser sends no `Sec-Fetch-Site` to a plain-HTTP origin beyond loopback, and a
/// link from another site opened its dialog there. Without that header a dialog opens only from
/// keyhatch's own page, by its `Referer`; with it, from keyhatch's own page or the person.
#[test]
fn a_dialog_opens_only_from_keyhatchs_own_page_or_the_person() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    let made = stack.post(&alice.name, "/api/keys/generate", "{}").json();
    let fingerprint = made["info"]["fingerprint"].as_str().unwrap();
    let path = format!("/ssh-keys?revoke={}", crate::rotate::urlencode(fingerprint));
    let own = format!("{}/ssh-keys", stack.base);
    let opens = |headers: &[(&str, &str)]| {
        let page = stack.get_with(&alice.name, &path, headers);
        assert_eq!(page.status, 200);
        let opened = page.body.contains("Revoke SSH Key");
        assert_eq!(
            !opened,
            page.body.contains("keyhatch opens one only"),
            "{headers:?}"
        );
        opened
    };
    assert!(opens(&[("Sec-Fetch-Site", "same-origin")]));
    assert!(opens(&[("Sec-Fetch-Site", "none")]));
    assert!(!opens(&[("Sec-Fetch-Site", "cross-site")]));
    assert!(!opens(&[
        ("Sec-Fetch-Site", "same-site"),
        ("Referer", &own)
    ]));
    assert!(opens(&[("Referer", &own)]));
    assert!(!opens(&[]));
    assert!(!opens(&[("Referer", "http://evil.example/ssh-keys")]));
    assert!(!opens(&[("Referer", "http://localhost.evil.example/")]));
}
