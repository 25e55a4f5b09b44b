//! What the integration tests share: the real keyhatch binary started on a free port with a
//! temporary home, temporary homes, and the ssh-keygen fixture.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// The fixture full of sshd edge cases, made by tests/fixtures/make-fixtures.sh (19 lines, 12
/// keys of which 5 are tagged `fileglancer`, unreadable lines 8, 16, 17, no final newline).
pub const MIXED: &[u8] = include_bytes!("../fixtures/authorized_keys.mixed");

/// A temporary home whose `~/.ssh/authorized_keys` holds `contents`.
pub fn home_with(contents: &[u8]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/authorized_keys"), contents).unwrap();
    home
}

/// A running keyhatch server; killed on drop.
pub struct App {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub port: u16,
    pub home: PathBuf,
    agent: ureq::Agent,
}

/// Starts keyhatch managing `home` (which need not exist).
pub fn spawn_app(home: &Path) -> App {
    spawn_app_with(home, &[])
}

/// Starts keyhatch managing `home` with extra environment variables.
pub fn spawn_app_with(home: &Path, env: &[(&str, &str)]) -> App {
    start(Command::new(env!("CARGO_BIN_EXE_keyhatch")), home, env)
}

/// Starts keyhatch under a file size limit (`RLIMIT_FSIZE`) of `bytes`, through util-linux prlimit.
pub fn spawn_app_limited(home: &Path, bytes: u64) -> App {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--fsize={bytes}:{bytes}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_keyhatch"));
    start(command, home, &[])
}

fn start(mut command: Command, home: &Path, env: &[(&str, &str)]) -> App {
    let mut child = command
        .args(["--addr", "127.0.0.1:0", "--home"])
        .arg(home)
        .env("KEYHATCH_TOKEN", TOKEN)
        .env_remove("KEYHATCH_TAG")
        .env_remove("KEYHATCH_KEY_OPTIONS")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("keyhatch starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let url = stdout
        .lines()
        .map(Result::unwrap)
        .find_map(|line| line.trim().strip_prefix("http://").map(str::to_owned))
        .expect("keyhatch prints its login URL");
    let base = format!("http://{}", url.split('/').next().unwrap());
    let port = base.rsplit(':').next().unwrap().parse().unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    App {
        child,
        base,
        port,
        home: home.to_owned(),
        agent,
    }
}

/// A response's status, headers we check, and body.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

impl App {
    /// GET `path` with the given extra headers.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.call().unwrap())
    }

    /// POSTs JSON to `path` with the bearer token.
    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        self.try_post_json(path, body).unwrap()
    }

    /// POSTs JSON to `path` with the bearer token; an error when no HTTP answer comes.
    pub fn try_post_json(&self, path: &str, body: &str) -> Result<Reply, ureq::Error> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .content_type("application/json")
            .send(body)?;
        Ok(reply(response))
    }

    /// The server's process id.
    #[allow(dead_code)] // for the benchmarks, which read the server's memory use through it
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to end by itself and returns how it ended.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// GET with the bearer token.
    pub fn get_authorized(&self, path: &str) -> Reply {
        self.get(path, &[("Authorization", &format!("Bearer {TOKEN}"))])
    }

    /// Generates a key through the API; panics unless it succeeds.
    pub fn generate(&self, passphrase: Option<&str>) -> serde_json::Value {
        let body = match passphrase {
            Some(p) => serde_json::json!({ "passphrase": p }).to_string(),
            None => "{}".to_owned(),
        };
        let reply = self.post_json("/api/keys/generate", &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    pub fn authorized_keys(&self) -> PathBuf {
        self.home.join(".ssh/authorized_keys")
    }
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap(),
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
