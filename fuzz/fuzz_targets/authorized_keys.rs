//! The line parser and the settings parsers on arbitrary bytes: no panic, and the parse is
//! self-consistent (every line is either a key, unreadable, or ignored, once).
#![no_main]

use keyhatch::ssh::authorized_keys::{self, Line};
use keyhatch::ssh::{KeyOptions, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = authorized_keys::parse(data);
    let lines = data.split_inclusive(|&b| b == b'\n').count();
    let mut seen = vec![false; lines + 1];
    for number in parsed.keys.iter().map(|k| k.number).chain(parsed.unreadable.iter().copied()) {
        assert!(number >= 1 && number <= lines, "line {number} of {lines}");
        assert!(!seen[number], "line {number} classified twice");
        seen[number] = true;
    }
    for key in &parsed.keys {
        assert!(key.fingerprint().starts_with("SHA256:"));
        let _ = key.comment_lossy();
        // The parse of one line alone agrees with the parse in the file.
        let line = data.split_inclusive(|&b| b == b'\n').nth(key.number - 1).unwrap();
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        assert!(matches!(authorized_keys::parse_line(key.number, line), Line::Key(_)));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(tag) = Tag::parse(text) {
            assert!(!tag.as_str().chars().any(char::is_whitespace));
            for key in &parsed.keys {
                let _ = key.is_tagged(&tag);
            }
        }
        if let Ok(options) = KeyOptions::parse(text) {
            // Accepted options must never break the line they are written into.
            let line = format!("{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhR89a1vpaGfsAxg2eABmXevfB18j0iT9AiVMKDaCN9 t", options.as_str());
            let line = line.trim_start();
            assert!(matches!(authorized_keys::parse_line(1, line.as_bytes()), Line::Key(_)), "{line:?}");
        }
    }
});
