//! The table `make bench` ends with: every figure the other benchmarks left, beside the same
//! work done by OpenSSH in the same run, the original tool's published figures, and the targets.
//!
//! Reads `target/criterion/*/*/new/estimates.json` (domain), `target/bench/http.json`, `site.json`,
//! `target/bench/browser.json`, `target/bench/transfer.json` (bytes Chromium received, first and
//! second visit) and the shipped files in `target/site/pkg`. Prints Markdown, so
//! the table can go into the README as it is.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The figures one benchmark left, by name, and the file they came from (for messages).
struct Figures {
    file: String,
    values: BTreeMap<String, f64>,
}

impl Figures {
    /// The figure `name`; the benchmark must have left it.
    fn get(&self, name: &str) -> f64 {
        *self
            .values
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from {}", self.file))
    }

    /// `name_p50_ms` and `name_p99_ms`, as "p50 / p99".
    fn p50_p99(&self, name: &str) -> String {
        format!(
            "{} / {}",
            duration(self.get(&format!("{name}_p50_ms"))),
            duration(self.get(&format!("{name}_p99_ms")))
        )
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target");
    let http = figures(&target.join("bench/http.json"));
    let browser = figures(&target.join("bench/browser.json"));
    let domain = |id: &str| criterion_median_ms(&target.join("criterion").join(id));

    println!("{}\n", machine());
    let mut table = Table::default();

    // The same work timed in-process for keyhatch and as a process for OpenSSH: (what, ours,
    // theirs, how theirs ran, target: its words and how many times faster keyhatch must be).
    let beside_openssh = [
        (
            "Generate an ed25519 key, no passphrase",
            "keygen/keyhatch_no-passphrase",
            "keygen/ssh-keygen_no-passphrase",
            "`ssh-keygen` process",
            None,
        ),
        (
            "… with a passphrase, bcrypt 24 rounds",
            "keygen/keyhatch_passphrase-24-rounds",
            "keygen/ssh-keygen_passphrase-24-rounds",
            "`ssh-keygen -a 24`",
            Some(("≥ 1.7× faster than ssh-keygen", 1.7)),
        ),
        (
            "Parse + fingerprint 10,000 lines",
            "read-10k-lines/keyhatch_parse+fingerprint-all",
            "read-10k-lines/ssh-keygen_-lf",
            "`ssh-keygen -lf`",
            None,
        ),
    ];
    for (what, ours, theirs, how, target) in beside_openssh {
        let (ours, theirs) = (domain(ours), domain(theirs));
        table.row(
            what,
            duration(ours),
            format!("{how}: {} ({})", duration(theirs), ratio(theirs, ours)),
            target.map_or("", |(words, _)| words),
            target.map(|(_, times)| theirs / ours >= times),
        );
    }
    table.row(
        "One locked append + fsync (50-line file)",
        duration(domain("append/keyhatch_locked+fsync")),
        String::new(),
        "",
        None,
    );

    let get = |name: &str| http.get(name);
    table.row(
        "HTTP: list 50 keys, p50 / p99",
        http.p50_p99("list_50"),
        String::new(),
        "",
        None,
    );
    table.row(
        "HTTP: list 50 keys, requests/s (4 clients)",
        format!("{:.0}", get("list_50_rps")),
        String::new(),
        "",
        None,
    );
    let floor = get("new_connection_floor_ok_p50_ms");
    for (keys, name) in [
        (0, "new_connection_list_0"),
        (50, "new_connection_list_50_keys"),
    ] {
        let p50 = get(&format!("{name}_p50_ms"));
        table.row(
            &format!("HTTP: list {keys} keys over a new connection each, p50 / p99"),
            http.p50_p99(name),
            format!(
                "floor, a minimal axum server's \"ok\": {} ({:.2}×)",
                duration(floor),
                p50 / floor
            ),
            "p50 ≤ 1.5× the floor",
            Some(p50 <= 1.5 * floor),
        );
    }
    table.row(
        "HTTP: list 1,000 keys (`ssh-ed25519 … fileglancer` each), p50 / p99",
        http.p50_p99("list_1000_keys"),
        String::new(),
        "p50 ≤ 1.5 ms",
        Some(get("list_1000_keys_p50_ms") <= 1.5),
    );
    let bytes = get("list_1000_keys_response_bytes");
    table.row(
        "HTTP: list 1,000 keys, bytes on the wire (the body, uncompressed)",
        format!(
            "{bytes:.0} (the file: {:.0})",
            get("list_1000_keys_file_bytes")
        ),
        "original tool, same keys: 182,010".into(),
        "≤ the original's",
        Some(bytes <= 182_010.0),
    );
    table.row(
        "HTTP: list 10,000 keys, p50 / p99",
        http.p50_p99("list_10000"),
        "original tool: 420 ms".into(),
        "≤ 15 ms",
        Some(get("list_10000_p50_ms") <= 15.0),
    );
    table.row(
        "HTTP: list 10,000 keys, requests/s (4 clients)",
        format!("{:.0}", get("list_10000_rps")),
        String::new(),
        "",
        None,
    );
    table.row(
        "HTTP: SSH Keys page, server-rendered, 50 keys, p50 / p99",
        http.p50_p99("page_50"),
        String::new(),
        "",
        None,
    );
    table.row(
        "HTTP: generate, no passphrase, p50 / p99",
        http.p50_p99("generate"),
        "original tool: ~90 ms".into(),
        "p50 ≤ 3 ms",
        Some(get("generate_p50_ms") <= 3.0),
    );
    for lines in [50, 10_000] {
        table.row(
            &format!("HTTP: generate, {lines}-line file, a new connection each, p50 / p99"),
            http.p50_p99(&format!("generate_{lines}_new_connection")),
            String::new(),
            "p50 ≤ 2 ms",
            Some(get(&format!("generate_{lines}_new_connection_p50_ms")) <= 2.0),
        );
    }
    table.row(
        "HTTP: generate with a passphrase, p50 / p99",
        http.p50_p99("generate_passphrase"),
        String::new(),
        "",
        None,
    );
    let lost = get("generate_100_concurrent_lost");
    table.row(
        "HTTP: 100 concurrent generates, wall time / lines lost",
        format!(
            "{} / {lost:.0}",
            duration(get("generate_100_concurrent_wall_ms"))
        ),
        "original tool: one at a time (~9 s at 90 ms each)".into(),
        "≤ 0.5 s, 0 lost",
        Some(get("generate_100_concurrent_wall_ms") <= 500.0 && lost == 0.0),
    );
    let runs: Vec<(f64, f64)> = (1..=5)
        .map(|run| {
            (
                get(&format!("list_50_during_4_passphrase_run{run}_p99_ms")),
                get(&format!("list_50_idle_run{run}_p99_ms")),
            )
        })
        .collect();
    table.row(
        "HTTP: list 50 keys, p99 while 4 passphrase generations run / idle, five runs",
        runs.iter()
            .map(|(loaded, idle)| format!("{:.1}×", loaded / idle))
            .collect::<Vec<_>>()
            .join(", "),
        format!(
            "p99 loaded / idle, run 1: {} / {}",
            duration(runs[0].0),
            duration(runs[0].1)
        ),
        "≤ 2× in 5 of 5",
        Some(runs.iter().all(|(loaded, idle)| *loaded <= 2.0 * idle)),
    );
    table.row(
        "HTTP: passphrase key on a busy node (2 CPU-bound processes), p50",
        duration(get("busy_generate_passphrase_p50_ms")),
        format!(
            "`ssh-keygen -a 24`, same load: {}",
            duration(get("busy_ssh_keygen_passphrase_p50_ms"))
        ),
        "≤ ssh-keygen's",
        Some(get("busy_generate_passphrase_p50_ms") <= get("busy_ssh_keygen_passphrase_p50_ms")),
    );
    table.row(
        "Server RSS idle / peak",
        format!(
            "{:.1} MB / {:.1} MB",
            get("rss_idle_mb"),
            get("rss_peak_mb")
        ),
        String::new(),
        "idle ≤ 20 MB",
        Some(get("rss_idle_mb") <= 20.0),
    );

    let pkg = target.join("site/pkg");
    for (label, file) in [
        ("wasm", "keyhatch.wasm"),
        ("JS", "keyhatch.js"),
        ("the dialogs' wasm module", "split_dialogs.wasm"),
    ] {
        let (raw, gzip, brotli) = sizes(&pkg.join(file));
        table.row(
            &format!("Browser: {label}, raw / gzip / brotli"),
            format!("{} / {} / {}", kb(raw), kb(gzip), kb(brotli)),
            String::new(),
            "",
            None,
        );
    }
    let transfer = figures(&target.join("bench/transfer.json"));
    let first_visit = transfer.get("first_visit_bytes");
    table.row(
        "Browser: bytes received, first visit (Chromium's transfer size: page, wasm, JS, icon)",
        kb(first_visit as u64),
        "original tool: 590 KB gzip (1.9 MB raw)".into(),
        "≤ 180 KB (aim 150 KB)",
        Some(first_visit <= 180_000.0),
    );
    let dialogs = transfer.get("dialogs_transfer_bytes");
    table.row(
        "Browser: bytes received for the dialogs' module, when one is about to open",
        format!(
            "{} (first visit and dialogs: {})",
            kb(dialogs as u64),
            kb((first_visit + dialogs) as u64)
        ),
        String::new(),
        "",
        None,
    );
    table.row(
        "Browser: bytes received, second visit",
        format!(
            "{} (the page only; the bundle comes from the cache)",
            kb(transfer.get("second_visit_bytes") as u64)
        ),
        String::new(),
        "no bundle bytes",
        Some(transfer.get("second_visit_bundle_bytes") == 0.0),
    );
    let get = |name: &str| browser.get(name);
    let floor = get("floor_fcp_p50_ms");
    for (what, name, times) in [
        ("first contentful paint", "fcp_p50_ms", 1.5),
        ("hydrated (buttons live)", "hydrated_p50_ms", 2.5),
    ] {
        let ours = get(name);
        table.row(
            &format!("Browser: {what}, p50 (first visit, loopback)"),
            duration(ours),
            format!(
                "this Chromium's floor, a static two-line page's first paint: {} ({:.1}×)",
                duration(floor),
                ours / floor
            ),
            &format!("≤ {times}× the floor"),
            Some(ours <= times * floor),
        );
    }
    table.print();

    // Site mode: a second table, through nginx and a helper per operation.
    let site = figures(&target.join("bench/site.json"));
    let get = |name: &str| site.get(name);
    println!(
        "\nSite mode, through nginx (basic auth, Unix socket) and a helper process per operation \
         (two wait, started, for their job):\n"
    );
    let mut table = Table::default();
    table.row(
        "Site: generate, p50 / p99 (helper included)",
        site.p50_p99("site_generate"),
        String::new(),
        "p50 ≤ 3 ms",
        Some(get("site_generate_p50_ms") <= 3.0),
    );
    table.row(
        "Site: list 10 keys, p50 / p99",
        site.p50_p99("site_list"),
        String::new(),
        "p50 ≤ 2 ms",
        Some(get("site_list_p50_ms") <= 2.0),
    );
    table.row(
        &format!(
            "Site: {} generates at once, 2 per account: wall time, lost",
            get("site_concurrent_generates")
        ),
        format!(
            "{}, {} lost",
            duration(get("site_concurrent_wall_ms")),
            get("site_concurrent_lost")
        ),
        String::new(),
        "0 lost",
        Some(get("site_concurrent_lost") == 0.0),
    );
    table.row(
        "Site: server peak RSS; a helper's peak listing 10,000 lines",
        format!(
            "{:.1} MB; {:.1} MB",
            get("site_server_rss_peak_mb"),
            get("site_helper_rss_peak_10000_mb")
        ),
        String::new(),
        "",
        None,
    );
    table.print();
}

/// Rows, each with whether its target was met (`None`: no target).
#[derive(Default)]
struct Table(Vec<[String; 5]>);

impl Table {
    fn row(
        &mut self,
        what: &str,
        ours: String,
        elsewhere: String,
        target: &str,
        met: Option<bool>,
    ) {
        let met = match met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        };
        self.0
            .push([what.into(), ours, elsewhere, target.into(), met.into()]);
    }

    fn print(&self) {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "| Measure | keyhatch | Same work elsewhere | Target | |"
        )
        .expect("stdout");
        writeln!(out, "|---|---|---|---|---|").expect("stdout");
        for row in &self.0 {
            writeln!(out, "| {} |", row.join(" | ")).expect("stdout");
        }
    }
}

fn figures(path: &Path) -> Figures {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `make bench`, which makes it first)",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text).expect("figures are JSON");
    let values = json
        .as_object()
        .expect("an object of figures")
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
        .collect();
    Figures {
        file: path.display().to_string(),
        values,
    }
}

/// Criterion's median for one benchmark, in milliseconds.
fn criterion_median_ms(dir: &Path) -> f64 {
    let path = dir.join("new/estimates.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `cargo bench --features ssr --bench domain` first)",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text).expect("criterion's JSON");
    json["median"]["point_estimate"].as_f64().expect("a median") / 1e6
}

/// Bytes on disk, gzipped at level 9, and as served with brotli (the `.br` the build made).
fn sizes(path: &Path) -> (u64, u64, u64) {
    let len = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e} (run the release build first)", path.display()))
            .len()
    };
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .expect("gzip runs");
    let brotli = len(&path.with_extension(format!(
        "{}.br",
        path.extension().unwrap_or_default().to_string_lossy()
    )));
    (len(path), out.stdout.len() as u64, brotli)
}

fn duration(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 1_000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

fn ratio(theirs: f64, ours: f64) -> String {
    let r = theirs / ours;
    if r >= 1.0 {
        format!("keyhatch {r:.1}× faster")
    } else {
        format!("keyhatch {:.2}× slower", 1.0 / r)
    }
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

/// What the figures were measured on, in one line.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let first_line = |program: &str, arg: &str| {
        Command::new(program).arg(arg).output().ok().map_or_else(
            || format!("no {program}"),
            |o| {
                let text = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            },
        )
    };
    format!(
        "Measured on: {cpu}, {cores} cores, {memory_gib:.0} GiB; Linux {}; {}; {}; {}.",
        first_line("uname", "-r"),
        first_line("rustc", "--version"),
        first_line("ssh", "-V"),
        first_line("chromium", "--version"),
    )
}
