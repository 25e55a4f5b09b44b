//! Copying late appends against a program that rewrites them in place while they are copied.

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};

use super::*;
use crate::ssh::testing::SmallDisk;

/// `count` comment lines of 100 bytes each.
fn comments(count: usize) -> String {
    format!("#{}\n", "x".repeat(98)).repeat(count)
}

/// The red team's attack: lines appended late are copied in pieces of 64 KiB. Once the first
/// piece was copied, a program rewrote the appended part in place, keeping its start, with a
/// restricted key whose options end just before the next piece: the key was copied without
/// them. Every line copied must be a whole line of one version or the other.
#[test]
fn a_late_append_rewritten_in_place_while_copied_yields_no_piece_of_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (old, first) = ("old\n", comments(1000));
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA8cdqcmIwBWFMjNnJ8lbaZMjpmtHQrE6SyyMqAWaJuT victim";
    let restricted = format!("restrict,command=\"/usr/bin/rrsync -ro /data\" {key}\n");
    // Its options cover both the 64 KiB mark and the last line end before it in `first`.
    let before = comments(654) + &"#".repeat(99 - 1) + "\n";
    let second = format!("{before}{restricted}{}", comments(400));
    let source = dir.path().join("old");
    fs::write(&source, format!("{old}{first}")).unwrap();
    let from = File::open(&source).unwrap();
    let copied = dir.path().join("new");
    let to = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&copied)
        .unwrap();
    let rewritten = Cell::new(false);
    let still = || {
        if !rewritten.replace(true) {
            let edited = format!("{old}{second}");
            fs::write(
                &source,
                &edited[..edited.len().min(old.len() + first.len())],
            )
            .unwrap();
        }
        Ok(true)
    };
    let end = (old.len() + first.len()) as u64;

    copy_tail(&from, old.len() as u64, end, &to, still).unwrap();

    let copied = fs::read_to_string(&copied).unwrap();
    let whole: Vec<&str> = first.lines().chain(second.lines()).collect();
    for line in copied.lines() {
        assert!(
            whole.contains(&line),
            "a piece of a line was copied: {line:?}"
        );
    }
    assert!(!copied.contains(key), "{key} was copied");
}

/// The red team's attack: the disk filled while late appends were copied. The copy stopped
/// mid-line, and the next line appended to the file was glued to that piece, unreadable.
#[test]
fn a_late_append_cut_short_by_a_full_disk_leaves_no_piece_of_a_line() {
    let disk = SmallDisk::mount("16k");
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("old");
    fs::write(&source, format!("old\n{}", comments(1000))).unwrap();
    let from = File::open(&source).unwrap();
    let copied = disk.0.path().join("new");
    fs::write(&copied, "new\n").unwrap();
    let to = OpenOptions::new().append(true).open(&copied).unwrap();

    let result = copy_tail(&from, 4, 4 + 100_000, &to, || Ok(true));

    let error = result.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(nix::libc::ENOSPC), "{error}");
    let left = fs::read_to_string(&copied).unwrap();
    assert!(
        left.ends_with('\n'),
        "a piece of a line is left: {:?}",
        &left[left.len() - 20..]
    );
    assert!(
        left.lines()
            .all(|l| l == "new" || l == comments(1).trim_end())
    );
}
