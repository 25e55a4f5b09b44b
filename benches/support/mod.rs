//! What the benchmarks share: a realistic `authorized_keys`, and where results go.
#![allow(dead_code)] // each benchmark uses part of this

use std::path::PathBuf;

use keyhatch::ssh::{Tag, keygen};

/// `n` lines of `authorized_keys` as a site that has used keyhatch for a while has them:
/// distinct ed25519 keys, half tagged `fileglancer`, and every tenth line one of the
/// hand-written lines of the sshd edge-case fixture (RSA, ECDSA, options, comments, bad lines).
pub fn authorized_keys(n: usize) -> Vec<u8> {
    let fixture: &[u8] = include_bytes!("../../tests/fixtures/authorized_keys.mixed");
    let mut foreign = fixture
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .cycle();
    let tagged = Tag::default();
    let personal = Tag::parse("alice@laptop").expect("a valid comment");
    let mut out = Vec::with_capacity(n * 100);
    for i in 0..n {
        if i % 10 == 9 {
            out.extend_from_slice(foreign.next().expect("the fixture has lines"));
        } else {
            let tag = if i % 2 == 0 { &tagged } else { &personal };
            let key = keygen::generate(tag, None, None).expect("a key");
            out.extend_from_slice(key.public.to_openssh().expect("encodes").as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// `n` lines of `ssh-ed25519 <key> fileglancer`: keyhatch's keys alone, as the original tool's
/// own figures were measured (1,000 of them side by side with it).
pub fn tagged_keys(n: usize) -> Vec<u8> {
    let tag = Tag::default();
    let mut out = Vec::with_capacity(n * 94);
    for _ in 0..n {
        let key = keygen::generate(&tag, None, None).expect("a key");
        out.extend_from_slice(key.public.to_openssh().expect("encodes").as_bytes());
        out.push(b'\n');
    }
    out
}

/// `target/bench/<name>`, where each benchmark leaves its figures for `make bench`'s table.
pub fn results_file(name: &str) -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench"));
    std::fs::create_dir_all(&dir).expect("target/bench");
    dir.join(name)
}
