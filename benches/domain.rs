//! The domain, timed beside OpenSSH doing the same work: key generation with and without a
//! passphrase, reading a 10,000-line `authorized_keys`, and one durable append.
//!
//! `cargo bench --features ssr --bench domain`; `make bench` runs it with the rest and prints the
//! table. ssh-keygen runs as a process, as a tool that shells out to it pays for one.

// The integration tests' helpers: starting the real server, temporary homes. The benchmarks use
// part of them.
#[allow(dead_code)]
#[path = "../tests/it/helpers.rs"]
mod helpers;
mod support;

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use keyhatch::ssh::keygen::{self, BCRYPT_ROUNDS};
use keyhatch::ssh::{self, AuthorizedKeys, KeyOptions, Passphrase, Tag, authorized_keys};

/// A passphrase for the benchmark only: ssh-keygen takes it as an argument here.
const PASSPHRASE: &str = "correct horse battery staple";

fn ssh_keygen(dir: &Path, passphrase: &str, rounds: u32) {
    let file = dir.join("id_ed25519");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(file.with_extension("pub"));
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-C", "fileglancer", "-N", passphrase])
        .arg("-a")
        .arg(rounds.to_string())
        .arg("-f")
        .arg(&file)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed");
}

fn keygen(c: &mut Criterion) {
    let tag = Tag::default();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("keygen");
    group.bench_function("keyhatch/no-passphrase", |b| {
        b.iter(|| keygen::generate(black_box(&tag), None, None).expect("a key"));
    });
    group.bench_function("ssh-keygen/no-passphrase", |b| {
        b.iter(|| ssh_keygen(dir.path(), "", BCRYPT_ROUNDS));
    });
    // bcrypt at 24 rounds takes a good fraction of a second: ten samples of a few keys each.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("keyhatch/passphrase-24-rounds", |b| {
        let passphrase = Passphrase::new(PASSPHRASE.to_owned());
        b.iter(|| keygen::generate(&tag, None, passphrase.as_ref()).expect("a key"));
    });
    group.bench_function("ssh-keygen/passphrase-24-rounds", |b| {
        b.iter(|| ssh_keygen(dir.path(), PASSPHRASE, BCRYPT_ROUNDS));
    });
    group.finish();
}

fn read_10k(c: &mut Criterion) {
    let home = helpers::home_with(&support::authorized_keys(10_000));
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();
    let fingerprint_all = || {
        let contents = store.read().expect("readable");
        let parsed = authorized_keys::parse(&contents);
        parsed
            .keys
            .iter()
            .map(authorized_keys::KeyLine::fingerprint)
            .collect::<Vec<_>>()
    };
    let ssh_keygen_lf = || {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(store.path())
            .stderr(Stdio::null())
            .output()
            .expect("ssh-keygen runs");
        assert!(out.status.success(), "ssh-keygen -lf failed");
        out.stdout
    };
    // Both sides do the same work: every key in the file, fingerprinted.
    let theirs = ssh_keygen_lf();
    assert_eq!(
        fingerprint_all().len(),
        theirs
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    let mut group = c.benchmark_group("read-10k-lines");
    group.bench_function("keyhatch/parse+fingerprint-all", |b| {
        b.iter(fingerprint_all);
    });
    group.bench_function("keyhatch/list-tagged", |b| {
        b.iter(|| ssh::list_keys(&store, &tag).expect("listed"));
    });
    group.bench_function("ssh-keygen/-lf", |b| {
        b.iter(ssh_keygen_lf);
    });
    group.finish();
}

fn append(c: &mut Criterion) {
    let tag = Tag::default();
    let options = KeyOptions::default();
    let fifty = support::authorized_keys(50);
    let mut group = c.benchmark_group("append");
    group.bench_function("keyhatch/locked+fsync", |b| {
        // A fresh 50-line file and a new key each time: neither is timed, only the append.
        b.iter_batched(
            || {
                let home = helpers::home_with(&fifty);
                let key = keygen::generate(&tag, None, None).expect("a key");
                let line = key.authorized_line(&options).expect("a line");
                (home, key, line)
            },
            |(home, key, line)| {
                AuthorizedKeys::in_home(home.path())
                    .append_key(&key.public, &line)
                    .expect("appended");
                home
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, keygen, read_10k, append);
criterion_main!(benches);
