//! Site mode as a site runs it: Debian's nginx with basic auth in front, keyhatch as root on its
//! Unix socket, and a helper process per operation that becomes the person. Runs as root (it
//! makes 50 throwaway accounts with useradd, removed at the end).
//!
//! `cargo bench --features ssr --bench site`; `make bench` runs it with the rest and prints the
//! table. Figures go to `target/bench/site.json`.

// The integration tests' helpers: site mode behind nginx, throwaway accounts. The benchmark
// uses part of them.
#[allow(dead_code)]
#[path = "../tests/it/helpers.rs"]
mod helpers;
mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helpers::{Account, SiteStack};
use keyhatch::ssh::authorized_keys;

/// Accounts: two for the sequential runs, then 50 in the concurrency run, each generating two
/// keys at once.
const PEOPLE: usize = 52;

fn main() {
    let people: Vec<Account> = (0..PEOPLE).map(|_| Account::create_person()).collect();
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    let stack = SiteStack::start(
        &names,
        &[
            "--keys-per-hour",
            "1000000",
            "--max-keys",
            "1000000",
            "--audit-log",
            "/dev/null",
        ],
    );
    let mut figures = BTreeMap::new();
    let (first, second) = (&people[0].name, &people[1].name);

    // Ten keys in the first person's file, then the list as the page asks for it.
    for _ in 0..10 {
        assert_eq!(stack.post(first, "/api/keys/generate", "{}").status, 200);
    }
    let list = sequential(200, || {
        assert_eq!(stack.get(first, "/api/keys/list").status, 200);
    });
    put_latencies(&mut figures, "site_list", &list);
    let generate = sequential(100, || {
        assert_eq!(stack.post(second, "/api/keys/generate", "{}").status, 200);
    });
    put_latencies(&mut figures, "site_generate", &generate);

    // Everyone at once, twice each: nothing may be lost.
    let started = Instant::now();
    let handed_out: Vec<(String, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = people[2..]
            .iter()
            .flat_map(|p| [p, p])
            .map(|p| {
                let stack = &stack;
                s.spawn(move || {
                    let reply = stack.post(&p.name, "/api/keys/generate", "{}");
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    let fingerprint = reply.json()["info"]["fingerprint"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    (p.name.clone(), fingerprint)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let lost = people[2..]
        .iter()
        .map(|p| {
            let contents = std::fs::read(p.home().join(".ssh/authorized_keys")).unwrap_or_default();
            let in_file: HashSet<String> = authorized_keys::parse(&contents)
                .keys
                .iter()
                .map(authorized_keys::KeyLine::fingerprint)
                .collect();
            handed_out
                .iter()
                .filter(|(who, fp)| *who == p.name && !in_file.contains(fp))
                .count()
        })
        .sum::<usize>();
    figures.insert("site_concurrent_generates".into(), handed_out.len() as f64);
    figures.insert("site_concurrent_wall_ms".into(), ms(wall));
    figures.insert("site_concurrent_lost".into(), lost as f64);
    figures.insert(
        "site_server_rss_peak_mb".into(),
        status_kb(stack.keyhatch.id(), "VmHWM:") as f64 / 1024.0,
    );
    figures.insert(
        "site_helper_rss_peak_10000_mb".into(),
        helper_rss_mb(&people[0]),
    );

    for (name, value) in &figures {
        println!("{name:<40} {value:>12.3}");
    }
    let path = support::results_file("site.json");
    let json = serde_json::to_string_pretty(&figures).expect("figures encode");
    std::fs::write(&path, json).expect("results written");
    println!("written to {}", path.display());
}

/// The peak memory of a helper listing 10,000 lines of the person's file, the largest answer
/// it gives: sampled while it waits for its answer (too large for the pipe) to be read, after
/// all its work.
fn helper_rss_mb(person: &Account) -> f64 {
    let file = person.home().join(".ssh/authorized_keys");
    std::fs::write(&file, support::authorized_keys(10_000)).unwrap();
    std::os::unix::fs::chown(&file, Some(person.uid), Some(person.gid)).unwrap();
    let job = serde_json::json!({
        "helper": {
            "identity": {
                "user": person.name, "uid": person.uid, "gid": person.gid,
                "groups": [person.gid], "home": person.home(),
            },
            "max_file_size": 1 << 20,
            "lock_timeout": { "secs": 10, "nanos": 0 },
            "max_keys": null,
            "keys_file": ".ssh/authorized_keys",
        },
        "request": { "ListKeys": { "tag": "fileglancer" } },
    });
    let mut helper = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg(keyhatch::api::helper::HELPER_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = helper.stdin.take().unwrap();
    stdin.write_all(job.to_string().as_bytes()).unwrap();
    stdin.write_all(b"\n").unwrap();
    drop(stdin);
    // Read the answer's first byte only: the helper is done working once it writes.
    let mut stdout = helper.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    let kb = status_kb(helper.id(), "VmHWM:");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    helper.wait().unwrap();
    kb as f64 / 1024.0
}

fn sequential(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    f();
    (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect()
}

fn put_latencies(figures: &mut BTreeMap<String, f64>, name: &str, latencies: &[Duration]) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: f64| ms(sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]);
    figures.insert(format!("{name}_n"), sorted.len() as f64);
    figures.insert(format!("{name}_p50_ms"), at(0.5));
    figures.insert(format!("{name}_p99_ms"), at(0.99));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}
