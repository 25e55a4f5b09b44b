//! keyhatch over HTTP on loopback, as people and scripts use it: the release server, real
//! files, a small load client (ureq, one keep-alive connection per client thread).
//!
//! `cargo bench --features ssr --bench http`; `make bench` runs it with the rest and prints the
//! table. Figures go to `target/bench/http.json`. Client and server share the machine's cores,
//! so throughput is what one box does serving itself, not a server-only ceiling.

// The integration tests' helpers: starting the real server, temporary homes. The benchmarks use
// part of them.
#[allow(dead_code)]
#[path = "../tests/it/helpers.rs"]
mod helpers;
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use helpers::{App, TOKEN, home_with, spawn_app_with};
use keyhatch::ssh::authorized_keys;

/// Concurrent clients for the throughput runs (oha's and wrk's figures are per connection count
/// too; 4 keeps both cores busy without measuring only queueing).
const CLIENTS: usize = 4;

/// A passphrase for the benchmark's encrypted keys.
const PASSPHRASE: &str = "correct horse battery staple";

/// Starts the server with its per-request info log and audit lines out of the way: thousands
/// of lines on the terminal would bury the figures (a line costs microseconds, well below what
/// is measured here, and the audit line is still formatted and written, to /dev/null).
fn spawn_app(home: &std::path::Path) -> App {
    spawn_app_with(
        home,
        &[("RUST_LOG", "warn"), ("KEYHATCH_AUDIT_LOG", "/dev/null")],
    )
}

/// Set in the environment of this benchmark's own binary started again as the floor server.
const FLOOR_SERVER: &str = "KEYHATCH_BENCH_FLOOR_SERVER";

fn main() {
    if std::env::var_os(FLOOR_SERVER).is_some() {
        return Floor::serve();
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let mut figures = Figures::default();

    // Listing over a new connection each time, as a script's `curl` does, against the floor:
    // a minimal server of the same HTTP stack answering "ok", asked by the same client in the
    // same rounds (one of each per round, so that noise falls on all three alike).
    {
        let floor = Floor::start();
        let homes = [0, 50].map(|n| home_with(&support::tagged_keys(n)));
        let apps = homes.each_ref().map(|home| spawn_app(home.path()));
        let asks = [
            ("new_connection_floor_ok", floor.base.clone(), "/ok"),
            (
                "new_connection_list_0",
                apps[0].base.clone(),
                "/api/keys/list",
            ),
            (
                "new_connection_list_50_keys",
                apps[1].base.clone(),
                "/api/keys/list",
            ),
        ];
        let mut latencies = [(); 3].map(|()| Vec::new());
        for round in 0..2_050 {
            for (n, (_, base, path)) in asks.iter().enumerate() {
                let took = timed(|| new_connection_get(base, path));
                if round >= 50 {
                    latencies[n].push(took);
                }
            }
        }
        for ((name, ..), latencies) in asks.iter().zip(&latencies) {
            figures.latencies(name, latencies);
        }
    }

    // 1,000 of keyhatch's keys, the file the original tool was measured with side by side.
    {
        let contents = support::tagged_keys(1_000);
        figures.put("list_1000_keys_file_bytes", contents.len() as f64);
        let home = home_with(&contents);
        let app = spawn_app(home.path());
        let client = Client::new(&app);
        let body = client.get("/api/keys/list");
        let listed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(listed["keys"].as_array().map(Vec::len), Some(1_000));
        figures.put("list_1000_keys_response_bytes", body.len() as f64);
        let latencies = sequential(Duration::from_secs(3), || client.list());
        figures.latencies("list_1000_keys", &latencies);
    }

    for lines in [50, 10_000] {
        let home = home_with(&support::authorized_keys(lines));
        let app = spawn_app(home.path());
        let client = Client::new(&app);
        client.list();
        if lines == 50 {
            figures.put("rss_idle_mb", mb(rss_kb(&app, "VmRSS")));
        }
        let latencies = sequential(Duration::from_secs(3), || client.list());
        figures.latencies(&format!("list_{lines}"), &latencies);
        figures.put(
            &format!("list_{lines}_response_kb"),
            client.get("/api/keys/list").len() as f64 / 1000.0,
        );
        let rps = throughput(&app, Duration::from_secs(3), Client::list);
        figures.put(&format!("list_{lines}_rps"), rps);
        if lines == 50 {
            let page = sequential(Duration::from_secs(2), || client.page());
            figures.latencies("page_50", &page);
        }
        // A generate as a script makes it: a new connection for each request.
        let latencies: Vec<_> = (0..200)
            .map(|_| timed(|| Client::new(&app).generate(None)))
            .collect();
        figures.latencies(&format!("generate_{lines}_new_connection"), &latencies);
        figures.peak_rss(&format!("list_{lines}"), &app);
    }

    {
        let home = home_with(&support::authorized_keys(50));
        let app = spawn_app(home.path());
        let client = Client::new(&app);
        client.generate(None);
        let latencies: Vec<_> = (0..300).map(|_| timed(|| client.generate(None))).collect();
        figures.latencies("generate", &latencies);
        let latencies: Vec<_> = (0..10)
            .map(|_| timed(|| client.generate(Some(PASSPHRASE))))
            .collect();
        figures.latencies("generate_passphrase", &latencies);
        figures.peak_rss("generate", &app);
    }

    {
        let before = support::authorized_keys(50);
        let home = home_with(&before);
        let app = spawn_app(home.path());
        let (wall, fingerprints) = concurrent_generates(&app, 100);
        let contents = std::fs::read(app.authorized_keys()).expect("the file");
        assert!(
            contents.starts_with(&before),
            "the lines keyhatch did not write changed"
        );
        let in_file: Vec<String> = authorized_keys::parse(&contents)
            .keys
            .iter()
            .map(authorized_keys::KeyLine::fingerprint)
            .collect();
        let lost = fingerprints
            .iter()
            .filter(|fp| !in_file.contains(fp))
            .count()
            + (100 - fingerprints.len());
        figures.put("generate_100_concurrent_wall_ms", ms(wall));
        figures.put("generate_100_concurrent_lost", lost as f64);
        figures.peak_rss("generate_100", &app);
    }

    // List latency while four passphrase keys are derived, against idle in the same run, five
    // times over: one run said "met" or "missed" by chance. A fresh 50-line file each run (the
    // generations add to it).
    for run in 1..=5 {
        let home = home_with(&support::authorized_keys(50));
        let app = spawn_app(home.path());
        let client = Client::new(&app);
        client.list();
        let idle = sequential(Duration::from_secs(2), || client.list());
        figures.latencies(&format!("list_50_idle_run{run}"), &idle);
        let (latencies, generated) = list_under_passphrase_load(&app, 4, Duration::from_secs(3));
        figures.latencies(&format!("list_50_during_4_passphrase_run{run}"), &latencies);
        figures.put(
            &format!("passphrase_generations_meanwhile_run{run}"),
            generated as f64,
        );
        figures.peak_rss(&format!("passphrase_load_run{run}"), &app);
    }

    // A busy login node: two CPU-bound processes at the default priority (other people's work)
    // keep both cores busy while a person makes a passphrase key, through keyhatch and with
    // `ssh-keygen -a 24`, alternately.
    {
        let home = home_with(&support::authorized_keys(50));
        let app = spawn_app(home.path());
        let client = Client::new(&app);
        client.list();
        let dir = tempfile::tempdir().expect("a directory");
        let hogs = Hogs::start(2);
        let (mut ours, mut keygen) = (Vec::new(), Vec::new());
        for n in 0..5 {
            ours.push(timed(|| client.generate(Some(PASSPHRASE))));
            keygen.push(timed(|| {
                ssh_keygen_passphrase(&dir.path().join(format!("k{n}")));
            }));
        }
        drop(hogs);
        figures.latencies("busy_generate_passphrase", &ours);
        figures.latencies("busy_ssh_keygen_passphrase", &keygen);
    }
    let peak = figures
        .0
        .iter()
        .filter(|(name, _)| name.starts_with("rss_peak_"))
        .map(|(_, mb)| *mb)
        .fold(0.0, f64::max);
    figures.put("rss_peak_mb", peak);

    figures.print();
    let path = support::results_file("http.json");
    let json = serde_json::to_string_pretty(&figures.0).expect("figures encode");
    std::fs::write(&path, json).expect("results written");
    println!("written to {}", path.display());
}

/// Named numbers: latencies in milliseconds, rates per second, sizes in MB.
#[derive(Default)]
struct Figures(BTreeMap<String, f64>);

impl Figures {
    fn put(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_owned(), value);
    }

    /// p50 and p99 of `latencies`, and how many there were.
    fn latencies(&mut self, name: &str, latencies: &[Duration]) {
        let mut sorted = latencies.to_vec();
        sorted.sort();
        let at = |q: f64| ms(sorted[((sorted.len() - 1) as f64 * q).round() as usize]);
        self.put(&format!("{name}_p50_ms"), at(0.50));
        self.put(&format!("{name}_p99_ms"), at(0.99));
        self.put(&format!("{name}_n"), sorted.len() as f64);
    }

    /// The server's peak resident memory so far, as `rss_peak_<scenario>_mb`.
    fn peak_rss(&mut self, scenario: &str, app: &App) {
        self.put(&format!("rss_peak_{scenario}_mb"), mb(rss_kb(app, "VmHWM")));
    }

    fn print(&self) {
        for (name, value) in &self.0 {
            println!("{name:<42} {value:>12.3}");
        }
    }
}

/// A GET of `path` over a connection of its own, closed after the answer; the body's length.
fn new_connection_get(base: &str, path: &str) -> usize {
    ureq::Agent::new_with_defaults()
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .body_mut()
        .read_to_string()
        .expect("a body")
        .len()
}

/// The floor for a request: a server of the same HTTP stack as keyhatch's (axum on hyper, on a
/// multi-threaded tokio runtime) that answers `GET /ok` with "ok" and does nothing else. It is
/// this benchmark's own binary started again, so that it is a process of its own as keyhatch
/// is; stopped on drop.
struct Floor {
    child: std::process::Child,
    base: String,
}

impl Floor {
    fn start() -> Self {
        let mut child = std::process::Command::new(std::env::current_exe().expect("this binary"))
            .env(FLOOR_SERVER, "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the floor server starts");
        let mut port = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("its output")),
            &mut port,
        )
        .expect("the floor server says its port");
        Self {
            child,
            base: format!("http://127.0.0.1:{}", port.trim()),
        }
    }

    /// Runs in the started binary: serves until killed, after printing its port.
    fn serve() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            println!("{}", listener.local_addr().expect("an address").port());
            let app = axum::Router::new().route("/ok", axum::routing::get(|| async { "ok" }));
            axum::serve(listener, app).await.expect("it serves");
        });
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One client: a keep-alive connection to the server, authorised with the bearer token.
struct Client {
    agent: ureq::Agent,
    base: String,
    bearer: String,
}

impl Client {
    fn new(app: &App) -> Self {
        Self {
            agent: ureq::Agent::new_with_defaults(),
            base: app.base.clone(),
            bearer: format!("Bearer {TOKEN}"),
        }
    }

    fn get(&self, path: &str) -> String {
        self.agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", &self.bearer)
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .body_mut()
            .read_to_string()
            .expect("a body")
    }

    fn list(&self) {
        let body = self.get("/api/keys/list");
        assert!(body.starts_with('{'), "not a key list: {body}");
    }

    fn page(&self) {
        let body = self.get("/ssh-keys");
        assert!(body.contains("SSH Keys"), "not the page: {body}");
    }

    /// Generates a key and returns its fingerprint.
    fn generate(&self, passphrase: Option<&str>) -> String {
        let body = match passphrase {
            Some(p) => serde_json::json!({ "passphrase": p }).to_string(),
            None => "{}".to_owned(),
        };
        let reply = self
            .agent
            .post(format!("{}/api/keys/generate", self.base))
            .header("Authorization", &self.bearer)
            .content_type("application/json")
            .send(&body)
            .unwrap_or_else(|e| panic!("generate: {e}"))
            .body_mut()
            .read_to_string()
            .expect("a body");
        let key: serde_json::Value = serde_json::from_str(&reply).expect("JSON");
        key["info"]["fingerprint"]
            .as_str()
            .expect("a fingerprint")
            .to_owned()
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn timed<T>(f: impl FnOnce() -> T) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Runs `f` back to back for `duration` (after a short warm-up) and returns each call's time.
fn sequential(duration: Duration, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..20 {
        f();
    }
    let end = Instant::now() + duration;
    let mut latencies = Vec::new();
    while Instant::now() < end {
        latencies.push(timed(&mut f));
    }
    latencies
}

/// Requests per second that [`CLIENTS`] clients, each waiting for its answer before asking
/// again, get through in `duration`.
fn throughput(app: &App, duration: Duration, f: fn(&Client)) -> f64 {
    let done = AtomicUsize::new(0);
    let start = Instant::now();
    let end = start + duration;
    thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let client = Client::new(app);
                while Instant::now() < end {
                    f(&client);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.into_inner() as f64 / start.elapsed().as_secs_f64()
}

/// `n` clients, connected and waiting at a barrier, each generate one key at once. Returns the
/// time from the barrier to the last answer, and the fingerprints handed out.
fn concurrent_generates(app: &App, n: usize) -> (Duration, Vec<String>) {
    let barrier = Arc::new(Barrier::new(n + 1));
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let client = Client::new(app);
            client.list(); // connected before the clock starts
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                client.generate(None)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let fingerprints = clients.into_iter().filter_map(|c| c.join().ok()).collect();
    (start.elapsed(), fingerprints)
}

/// List latencies while `generators` clients generate passphrase keys back to back, and how
/// many keys they made meanwhile.
fn list_under_passphrase_load(
    app: &App,
    generators: usize,
    duration: Duration,
) -> (Vec<Duration>, usize) {
    let stop = AtomicBool::new(false);
    let generated = AtomicUsize::new(0);
    let latencies = thread::scope(|s| {
        for _ in 0..generators {
            s.spawn(|| {
                let client = Client::new(app);
                while !stop.load(Ordering::Relaxed) {
                    client.generate(Some(PASSPHRASE));
                    generated.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Let every generator have a request in flight before measuring.
        thread::sleep(Duration::from_millis(200));
        let client = Client::new(app);
        let latencies = sequential(duration, || client.list());
        stop.store(true, Ordering::Relaxed);
        latencies
    });
    (latencies, generated.into_inner())
}

/// CPU-bound processes (`sh` spinning) at the default priority, killed on drop.
struct Hogs(Vec<std::process::Child>);

impl Hogs {
    fn start(n: usize) -> Self {
        let hogs = (0..n)
            .map(|_| {
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .expect("sh starts")
            })
            .collect();
        // Let the scheduler see them busy before anything is measured.
        thread::sleep(Duration::from_millis(500));
        Self(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

/// `ssh-keygen -a 24` making an ed25519 key with a passphrase at `path`, as a person would.
fn ssh_keygen_passphrase(path: &std::path::Path) {
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-a",
            "24",
            "-C",
            "fileglancer",
            "-N",
            PASSPHRASE,
            "-f",
        ])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success());
}

/// A line of the server's `/proc/<pid>/status`, in kB (`VmRSS` now, `VmHWM` at peak).
fn rss_kb(app: &App, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", app.pid())).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc status"))
}
