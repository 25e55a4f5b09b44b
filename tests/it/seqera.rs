//! Seqera Platform as keyhatch sees it: through its own API, against a stand-in Platform.

use std::fs;

use crate::helpers::spawn_app_with;

pub(crate) mod fake {
    //! A stand-in for Seqera Platform, started by the tests: the three endpoints keyhatch uses, with
    //! the field names and status codes of Seqera's OpenAPI description (API 1.97.0), under `/api`.
    //! It records every request, so tests can check exactly what keyhatch sent.
    //!
    //! Tokens choose the answer: `seqera-token-5f1e9d` works (user 7, `alice`, two workspaces: 11 and 12,
    //! where 12 refuses with 403); any other token gets 401. A credentials name `taken` gets Platform's
    //! 409, `slow` an answer after three seconds, `moved` a 307 to `redirect_to`, and `hostile` a
    //! 400 whose message carries an escape sequence, a bidirectional override and 5,000 letters.
    //!
    //! SSH credentials to update, in every workspace but 12 (403): `sshCred1` (`cluster`), which
    //! takes a new key (204); `sshGone`, deleted meanwhile (404); `sshSlow`, whose update answers
    //! after three seconds; `sshBroken`, whose update fails (500); `sshHtml`, answered with a
    //! sign-in page's 200; `sshGarbled`, answered with no HTTP at all. The list holds an AWS one
    //! too, one whose id would leave the path, and one whose id (`html`) is another's name.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// One request as the fake received it.
    #[derive(Debug, Clone)]
    pub struct Received {
        pub method: String,
        pub path: String,
        pub authorization: String,
        pub body: String,
    }

    pub struct FakePlatform {
        pub port: u16,
        pub received: Arc<Mutex<Vec<Received>>>,
    }

    impl FakePlatform {
        /// Starts the fake on a free loopback port; `redirect_to` is where `moved` is sent.
        pub fn start(redirect_to: Option<u16>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let received = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&received);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let log = Arc::clone(&log);
                    std::thread::spawn(move || serve(stream, &log, redirect_to));
                }
            });
            Self { port, received }
        }

        /// The `seqera-url` keyhatch is given: the API below `/api`.
        pub fn url(&self) -> String {
            format!("http://127.0.0.1:{}/api", self.port)
        }

        /// Every request so far.
        pub fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }

    fn serve(stream: TcpStream, log: &Mutex<Vec<Received>>, redirect_to: Option<u16>) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.is_empty() {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let (mut length, mut authorization) = (0, String::new());
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "authorization" => authorization = value.trim().to_owned(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        log.lock().unwrap().push(Received {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
        });
        let (status, answer, extra) = answer(&method, &path, &authorization, &body, redirect_to);
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{answer}",
            answer.len()
        );
    }

    fn answer(
        method: &str,
        path: &str,
        authorization: &str,
        body: &str,
        redirect_to: Option<u16>,
    ) -> (&'static str, String, String) {
        if authorization != "Bearer seqera-token-5f1e9d" {
            return ("401 Unauthorized", String::new(), String::new());
        }
        match (method, path) {
            ("GET", "/api/user-info") => (
                "200 OK",
                r#"{"user":{"id":7,"userName":"alice","email":"alice@example.org","avatar":""},"needConsent":false}"#.into(),
                String::new(),
            ),
            ("GET", "/api/user/7/workspaces") => (
                "200 OK",
                r#"{"orgsAndWorkspaces":[{"orgId":1,"orgName":"lab","workspaceId":null,"workspaceName":null},{"orgId":1,"orgName":"lab","workspaceId":11,"workspaceName":"pipelines","workspaceFullName":"Pipelines"},{"orgId":1,"orgName":"lab","workspaceId":12,"workspaceName":"readonly"}]}"#.into(),
                String::new(),
            ),
            ("GET", p) if p.starts_with("/api/credentials") => {
                if p.ends_with("workspaceId=12") {
                    return ("403 Forbidden", String::new(), String::new());
                }
                (
                    "200 OK",
                    r#"{"credentials":[{"id":"sshCred1","name":"cluster","provider":"ssh","deleted":false},{"id":"awsCred","name":"aws","provider":"aws"},{"id":"sshGone","name":"gone","provider":"ssh"},{"id":"sshSlow","name":"slow","provider":"ssh"},{"id":"sshBroken","name":"broken","provider":"ssh"},{"id":"sshHtml","name":"html","provider":"ssh"},{"id":"sshGarbled","name":"garbled","provider":"ssh"},{"id":"html","name":"other","provider":"ssh"},{"id":"../evil","name":"evil","provider":"ssh"}]}"#.into(),
                    String::new(),
                )
            }
            ("PUT", p) if p.starts_with("/api/credentials/") => {
                let id = p["/api/credentials/".len()..].split('?').next().unwrap_or_default();
                match id {
                    _ if p.ends_with("workspaceId=12") => ("403 Forbidden", String::new(), String::new()),
                    "sshCred1" => ("204 No Content", String::new(), String::new()),
                    "sshSlow" => {
                        std::thread::sleep(Duration::from_secs(3));
                        ("204 No Content", String::new(), String::new())
                    }
                    "sshBroken" => ("500 Internal Server Error", r#"{"message":"oops"}"#.into(), String::new()),
                    // A sign-in page or proxy in front of Platform.
                    "sshHtml" => ("200 OK", "<html>Sign in</html>".into(), String::new()),
                    // An answer that is not HTTP, after the key was received.
                    "sshGarbled" => ("2OO OK", String::new(), String::new()),
                    _ => ("404 Not Found", r#"{"message":"Unable to find credentials"}"#.into(), String::new()),
                }
            }
            ("POST", p) if p.starts_with("/api/credentials") => {
                let sent: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                let name = sent["credentials"]["name"].as_str().unwrap_or_default();
                if p.ends_with("workspaceId=12") {
                    ("403 Forbidden", String::new(), String::new())
                } else if name == "taken" {
                    (
                        "409 Conflict",
                        r#"{"message":"Duplicate element"}"#.into(),
                        String::new(),
                    )
                } else if name == "hostile" {
                    let message = format!("Bad \u{1b}[31mthing\u{202e} {}", "A".repeat(5000));
                    let body = serde_json::json!({ "message": message }).to_string();
                    ("400 Bad Request", body, String::new())
                } else if name == "echo" {
                    // A Platform that repeats what it was sent in its refusal, in its own way:
                    // the key's last 160 characters in pieces, the passphrase upper-cased.
                    let keys = &sent["credentials"]["keys"];
                    let key = keys["privateKey"].as_str().unwrap_or_default().replace('\n', "");
                    let tail = key.trim_end_matches("-----END OPENSSH PRIVATE KEY-----");
                    let tail = &tail[tail.len().saturating_sub(160)..];
                    let pieces: Vec<&str> = (0..tail.len()).step_by(11)
                        .map(|at| &tail[at..tail.len().min(at + 11)]).collect();
                    let passphrase = keys["passphrase"].as_str().unwrap_or_default().to_uppercase();
                    let message = format!("cannot read {} with {passphrase}", pieces.join(" "));
                    let body = serde_json::json!({ "message": message }).to_string();
                    ("400 Bad Request", body, String::new())
                } else if name == "slow" {
                    std::thread::sleep(Duration::from_secs(3));
                    ("200 OK", r#"{"credentialsId":"late"}"#.into(), String::new())
                } else if name == "moved" {
                    let to = redirect_to.unwrap_or(1);
                    (
                        "307 Temporary Redirect",
                        String::new(),
                        format!("Location: http://127.0.0.1:{to}/api/credentials\r\n"),
                    )
                } else {
                    ("200 OK", r#"{"credentialsId":"4c9dEwvJW2TvwKQNOxYGqG"}"#.into(), String::new())
                }
            }
            _ => ("404 Not Found", r#"{"message":"not found"}"#.into(), String::new()),
        }
    }
}

use fake::FakePlatform;

const TOKEN: &str = "seqera-token-5f1e9d";

fn app_for(platform: &FakePlatform, home: &std::path::Path) -> crate::helpers::App {
    spawn_app_with(
        home,
        &[
            ("KEYHATCH_SEQERA_URL", &platform.url()),
            ("KEYHATCH_SEQERA_TIMEOUT", "1"),
        ],
    )
}

#[test]
fn the_workspaces_come_from_platform_through_keyhatch_with_the_bearer_token() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let app = app_for(&platform, home.path());
    let reply = app.post_json(
        "/api/seqera/workspaces",
        &serde_json::json!({ "token": TOKEN }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        serde_json::json!({ "user_name": "alice", "workspaces": [
            { "id": 11, "org": "lab", "name": "pipelines" },
            { "id": 12, "org": "lab", "name": "readonly" },
        ]})
    );
    let received = platform.received();
    let calls: Vec<_> = received
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.authorization.as_str()))
        .collect();
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        calls,
        [
            ("GET", "/api/user-info", bearer.as_str()),
            ("GET", "/api/user/7/workspaces", bearer.as_str()),
        ]
    );
}

#[test]
fn the_credentials_carry_exactly_the_key_shown_and_a_passphrase_only_when_chosen() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let app = app_for(&platform, home.path());
    let generated = app.generate(Some("open sesame"));
    let web = platform.url().trim_end_matches("/api").to_owned();
    assert_eq!(generated["seqera"]["web_url"], web.as_str());
    let name = generated["seqera"]["credentials_name"].as_str().unwrap();
    assert!(name.starts_with("keyhatch-20"), "{name}");
    let private_key = generated["private_key"].as_str().unwrap();

    let body = serde_json::json!({
        "token": TOKEN, "workspace_id": 11, "name": name,
        "private_key": private_key, "passphrase": "open sesame",
    });
    let reply = app.post_json("/api/seqera/credentials", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["credentials_id"], "4c9dEwvJW2TvwKQNOxYGqG");
    let sent = platform.received().pop().unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/api/credentials?workspaceId=11");
    assert_eq!(sent.authorization, format!("Bearer {TOKEN}"));
    let sent: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({ "credentials": {
            "name": name, "provider": "ssh",
            "keys": { "discriminator": "ssh", "privateKey": private_key, "passphrase": "open sesame" },
        }})
    );
    // Byte for byte the key the person was shown.
    assert_eq!(
        sent["credentials"]["keys"]["privateKey"]
            .as_str()
            .unwrap()
            .as_bytes(),
        private_key.as_bytes()
    );

    // The personal context, and no passphrase: none is sent.
    let body = serde_json::json!({
        "token": TOKEN, "workspace_id": null, "name": "mine", "private_key": private_key,
    });
    let reply = app.post_json("/api/seqera/credentials", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sent = platform.received().pop().unwrap();
    assert_eq!(sent.path, "/api/credentials");
    let sent: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert!(
        sent["credentials"]["keys"].get("passphrase").is_none(),
        "{sent}"
    );
}

#[test]
fn each_platform_refusal_and_failure_gets_its_own_sentence_and_keyhatch_keeps_its_401() {
    let elsewhere = FakePlatform::start(None);
    let platform = FakePlatform::start(Some(elsewhere.port));
    let home = tempfile::tempdir().unwrap();
    let app = app_for(&platform, home.path());
    let key = app.generate(None)["private_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = |token: &str, workspace: Option<i64>, name: &str| {
        let body = serde_json::json!({
            "token": token, "workspace_id": workspace, "name": name, "private_key": key,
        });
        app.post_json("/api/seqera/credentials", &body.to_string())
    };
    for (reply, says) in [
        (
            add("wrong-token", None, "x"),
            "did not accept the access token",
        ),
        (
            add(TOKEN, Some(12), "x"),
            "may not add or change credentials in that workspace",
        ),
        (
            add(TOKEN, None, "taken"),
            "already has credentials named \\\"taken\\\"",
        ),
        (add(TOKEN, None, "slow"), "did not answer within 1 seconds"),
        (add(TOKEN, None, "moved"), "unexpected answer (HTTP 307)"),
    ] {
        // Platform's answer is Platform's: never keyhatch's own 401 or 403.
        assert_eq!(reply.status, 502, "{says}: {}", reply.body);
        assert!(reply.body.contains(says), "{says}: {}", reply.body);
    }
    assert!(
        elsewhere.received().is_empty(),
        "the key followed a redirect to another server"
    );
    for (name, says) in [
        ("my key", "only letters, digits"),
        ("", "give the credentials a name"),
    ] {
        let reply = add(TOKEN, None, name);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains(says), "{}", reply.body);
    }
    let not_a_key = serde_json::json!({ "token": TOKEN, "name": "x", "private_key": "hello" });
    let reply = app.post_json("/api/seqera/credentials", &not_a_key.to_string());
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("not an OpenSSH private key"),
        "{}",
        reply.body
    );

    // A Platform that is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone = spawn_app_with(
        home.path(),
        &[(
            "KEYHATCH_SEQERA_URL",
            &format!("http://127.0.0.1:{port}/api"),
        )],
    );
    let body = serde_json::json!({ "token": TOKEN });
    let reply = gone.post_json("/api/seqera/workspaces", &body.to_string());
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.body.contains("could not reach Seqera Platform"),
        "{}",
        reply.body
    );
}

/// Platform's words in a refusal would reach the person, the terminal and the audit log, and
/// they may quote what keyhatch sent: withheld where they repeated a secret as sent, they still
/// carried it in pieces, or upper-cased (red team: a private key rebuilt from the audit log
/// alone). They are never passed on.
#[test]
fn platforms_own_words_in_a_refusal_are_never_passed_on_or_audited() {
    use crate::helpers::{Account, SiteStack};

    let alice = Account::create_person();
    let platform = FakePlatform::start(None);
    let url = platform.url();
    let (stack, log) =
        SiteStack::start_audited_with_env(&[&alice.name], &[], &[("KEYHATCH_SEQERA_URL", &url)]);
    let passphrase = "open sesame, a long one";
    let made = stack.post(
        &alice.name,
        "/api/keys/generate",
        &serde_json::json!({ "passphrase": passphrase }).to_string(),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let made: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    let private_key = made["private_key"].as_str().unwrap();
    let body = serde_json::json!({
        "token": TOKEN, "workspace_id": null, "name": "echo",
        "private_key": private_key, "passphrase": passphrase,
    });
    let reply = stack.post(&alice.name, "/api/seqera/credentials", &body.to_string());
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        reply.body.contains("its reason is not repeated here"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("cannot read"), "{}", reply.body);
    let audited = log.text();
    assert!(
        audited.contains(r#""action":"seqera credentials""#),
        "{audited}"
    );
    // The key's body, past its first line (the header and the public part are no secret).
    let secret: String = private_key.lines().skip(2).collect();
    for said in [&reply.body, &audited] {
        assert!(
            !said.to_uppercase().contains(&passphrase.to_uppercase()),
            "{said}"
        );
        for piece in secret.as_bytes().chunks(8).filter(|p| p.len() == 8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!said.contains(piece), "{piece} in {said}");
        }
    }
}

#[test]
fn without_a_seqera_url_nothing_is_offered_and_the_endpoints_say_why() {
    let home = tempfile::tempdir().unwrap();
    let app = crate::helpers::spawn_app(home.path());
    assert!(app.generate(None)["seqera"].is_null());
    let reply = app.post_json(
        "/api/seqera/workspaces",
        &serde_json::json!({ "token": TOKEN }).to_string(),
    );
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("sets seqera-url"), "{}", reply.body);
}

#[test]
fn plain_http_to_another_host_and_a_ca_file_without_certificates_stop_keyhatch_at_start() {
    let home = tempfile::tempdir().unwrap();
    let not_a_ca = home.path().join("ca.pem");
    fs::write(&not_a_ca, "not a certificate\n").unwrap();
    for (env, says) in [
        (
            vec![("KEYHATCH_SEQERA_URL", "http://seqera.example.org/api")],
            "accepted only on loopback",
        ),
        (
            vec![
                ("KEYHATCH_SEQERA_URL", "https://seqera.example.org/api"),
                ("KEYHATCH_SEQERA_CA_FILE", not_a_ca.to_str().unwrap()),
            ],
            "holds no certificate",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .args(["--addr", "127.0.0.1:0", "--home"])
            .arg(home.path())
            .env("KEYHATCH_TOKEN", crate::helpers::TOKEN)
            .env("KEYHATCH_CONFIG", "none")
            .envs(env)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// A TLS server (`openssl s_server -www`) on loopback with a certificate for 127.0.0.1 signed by
/// a CA made for the test; stopped on drop.
struct TlsPlatform {
    dir: tempfile::TempDir,
    server: std::process::Child,
    port: u16,
}

impl TlsPlatform {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let script = format!(
            "set -e; cd {d}
             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
               -subj /CN=keyhatch-test-ca -keyout ca.key -out ca.pem 2>/dev/null
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
               -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
             printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext
             openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
               -extfile san.ext -out server.pem 2>/dev/null
             : > empty.pem"
        );
        let made = std::process::Command::new("sh")
            .args(["-c", &script])
            .status()
            .unwrap();
        assert!(made.success(), "openssl made the test CA");
        let port = crate::helpers::free_port();
        let server = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.path().join("server.pem"))
            .arg("-key")
            .arg(dir.path().join("server.key"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        crate::helpers::wait_for(
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "openssl s_server",
        );
        Self { dir, server, port }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for TlsPlatform {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn platform_is_trusted_through_the_systems_authorities_and_the_ca_file_as_other_clients() {
    let tls = TlsPlatform::start();
    let url = format!("https://127.0.0.1:{}/api", tls.port);
    let home = tempfile::tempdir().unwrap();
    // What keyhatch says when it asks this server for the workspaces: past TLS, the server's
    // status page is no answer of Platform's; short of it, the server cannot be reached.
    let ask = |env: &[(&str, &str)]| {
        let mut all = vec![("KEYHATCH_SEQERA_URL", url.as_str())];
        all.extend_from_slice(env);
        let app = spawn_app_with(home.path(), &all);
        let reply = app.post_json(
            "/api/seqera/workspaces",
            &serde_json::json!({ "token": TOKEN }).to_string(),
        );
        reply.body
    };
    let trusted = "unexpected answer";
    let untrusted = "could not reach Seqera Platform";

    // The system's store (SSL_CERT_FILE, as OpenSSL and curl read it) holds the CA.
    let said = ask(&[("SSL_CERT_FILE", &tls.file("ca.pem"))]);
    assert!(said.contains(trusted), "{said}");
    // A store without it, and no CA file: refused.
    let said = ask(&[("SSL_CERT_FILE", &tls.file("empty.pem"))]);
    assert!(said.contains(untrusted), "{said}");
    // The CA file adds to the store.
    let said = ask(&[
        ("SSL_CERT_FILE", &tls.file("empty.pem")),
        ("KEYHATCH_SEQERA_CA_FILE", &tls.file("ca.pem")),
    ]);
    assert!(said.contains(trusted), "{said}");
}

/// The attack: the site names a CA file another account can write (or a directory above it), or
/// something that is not a file; that account would choose whom keyhatch trusts with Platform
/// tokens and private keys. keyhatch refuses to start, as for its settings file.
#[test]
fn a_ca_file_another_account_could_write_or_a_fifo_stops_keyhatch_at_start() {
    let mallory = crate::helpers::Account::create();
    let tls = TlsPlatform::start();
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("theirs.pem");
    fs::copy(tls.file("ca.pem"), &theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(mallory.uid), Some(mallory.gid)).unwrap();
    let fifo = dir.path().join("fifo.pem");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (ca, says) in [
        (&theirs, "it belongs to uid"),
        (&fifo, "it is not a regular file"),
    ] {
        let (code, said) = crate::helpers::exit_of(
            std::process::Command::new(env!("CARGO_BIN_EXE_keyhatch"))
                .args(["--addr", "127.0.0.1:0", "--config", "none", "--home"])
                .arg(dir.path())
                .env("KEYHATCH_SEQERA_URL", "https://127.0.0.1:1/api")
                .env("KEYHATCH_SEQERA_CA_FILE", ca),
        );
        assert_eq!(code, Some(2), "{said}");
        assert!(
            said.contains(&format!("seqera-ca-file {}: {says}", ca.display())),
            "{said}"
        );
    }
}
