//! The store's operations on real files in temporary homes.

use std::fs;
use std::os::unix::fs::symlink;

use super::temp::temp_prefix;
use super::*;
use crate::ssh::testing::{chmod, home_with, mode, random_key, uid};

fn add(store: &AuthorizedKeys, comment: &str) -> Result<String, StoreError> {
    let (public, line) = random_key("", comment);
    store
        .append_key(&public, &line)
        .map(|()| fingerprint(&public))
}

fn tag() -> Tag {
    Tag::default()
}

/// No temporary file of a rewrite is left in `home`'s `~/.ssh`.
fn assert_no_temporary_file_left(home: &Path) {
    let leftovers: Vec<_> = fs::read_dir(home.join(".ssh"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(&temp_prefix("authorized_keys")))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

mod beside;
mod races;
mod rewrite;
mod two_keyhatches;

#[test]
fn a_missing_file_reads_as_empty() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        AuthorizedKeys::in_home(home.path())
            .read()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_missing_home_is_a_clear_error() {
    let store = AuthorizedKeys::in_home(Path::new("/nonexistent/keyhatch-home"));
    let err = store.read().unwrap_err();
    assert_eq!(
        err.to_string(),
        "home directory /nonexistent/keyhatch-home does not exist"
    );
    assert!(matches!(add(&store, "x"), Err(StoreError::HomeMissing(_))));
}

#[test]
fn append_creates_the_directory_0700_and_the_file_0600() {
    let home = tempfile::tempdir().unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    store.append_key(&public, &line).unwrap();
    assert_eq!(
        fs::read_to_string(store.path()).unwrap(),
        format!("{line}\n")
    );
    assert_eq!(mode(&home.path().join(".ssh")), 0o700);
    assert_eq!(mode(store.path()), 0o600);
}

#[test]
fn append_adds_a_newline_only_when_the_file_lacks_one() {
    let home = home_with(b"foreign key without newline");
    let store = AuthorizedKeys::in_home(home.path());
    let (a, line_a) = random_key("", "a");
    let (b, line_b) = random_key("", "b");
    store.append_key(&a, &line_a).unwrap();
    store.append_key(&b, &line_b).unwrap();
    let expected = format!("foreign key without newline\n{line_a}\n{line_b}\n");
    assert_eq!(fs::read_to_string(store.path()).unwrap(), expected);
}

#[test]
fn a_new_key_is_appended_without_reading_for_duplicates_and_keeps_the_newline_rule() {
    let home = home_with(b"foreign key without newline");
    let store = AuthorizedKeys::in_home(home.path());
    let (_, line_a) = random_key("", "a");
    let (_, line_b) = random_key("", "b");
    store.append_new_key_within(&line_a, None).unwrap();
    store.append_new_key_within(&line_b, None).unwrap();
    let expected = format!("foreign key without newline\n{line_a}\n{line_b}\n");
    assert_eq!(fs::read_to_string(store.path()).unwrap(), expected);

    let empty = tempfile::tempdir().unwrap();
    let store = AuthorizedKeys::in_home(empty.path());
    store.append_new_key_within(&line_a, None).unwrap();
    assert_eq!(
        fs::read_to_string(store.path()).unwrap(),
        format!("{line_a}\n")
    );
    assert_eq!(mode(store.path()), 0o600);
}

#[test]
fn a_new_key_still_counts_against_the_cap() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    let cap = Some((&Tag::default(), 1));
    let (_, line) = random_key("", "fileglancer");
    store.append_new_key_within(&line, cap).unwrap();
    let (_, line) = random_key("", "fileglancer");
    let err = store.append_new_key_within(&line, cap).unwrap_err();
    assert!(matches!(err, StoreError::TooManyKeys(1)), "{err}");
}

#[test]
fn append_keeps_every_existing_byte_and_the_file_mode() {
    let original = b"# mine\r\n\xef\xbb\xbfodd \x00 bytes\n\n  indented\n".to_vec();
    let home = home_with(&original);
    let store = AuthorizedKeys::in_home(home.path());
    chmod(store.path(), 0o640);
    let (public, line) = random_key("", "new");
    store.append_key(&public, &line).unwrap();
    let after = fs::read(store.path()).unwrap();
    assert_eq!(&after[..original.len()], &original[..]);
    assert_eq!(&after[original.len()..], format!("{line}\n").as_bytes());
    assert_eq!(mode(store.path()), 0o640);
}

#[test]
fn the_same_key_is_never_added_twice_even_with_other_options_or_comment() {
    let home = tempfile::tempdir().unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "first");
    store.append_key(&public, &line).unwrap();
    let again = format!("restrict {}", line.replace("first", "second"));
    let err = store.append_key(&public, &again).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyPresent(_)), "{err}");
    assert_eq!(
        fs::read_to_string(store.path()).unwrap(),
        format!("{line}\n")
    );
}

#[test]
fn append_refuses_a_symlinked_file_and_leaves_the_target_alone() {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    let target = home.path().join("elsewhere");
    fs::write(&target, b"keep\n").unwrap();
    symlink(&target, store.path()).unwrap();
    assert!(matches!(add(&store, "x"), Err(StoreError::Symlink(_))));
    assert_eq!(fs::read(&target).unwrap(), b"keep\n");
}

#[test]
fn append_refuses_a_symlinked_ssh_directory() {
    let home = tempfile::tempdir().unwrap();
    let real = home.path().join("real-ssh");
    fs::create_dir(&real).unwrap();
    symlink(&real, home.path().join(".ssh")).unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    assert!(matches!(add(&store, "x"), Err(StoreError::Symlink(_))));
    assert!(!real.join("authorized_keys").exists());
}

#[test]
fn append_refuses_an_ssh_path_that_is_a_file() {
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join(".ssh"), b"").unwrap();
    let err = add(&AuthorizedKeys::in_home(home.path()), "x").unwrap_err();
    assert!(matches!(err, StoreError::NotADirectory(_)), "{err}");
}

#[test]
fn a_fifo_is_refused_for_reading_and_writing_without_blocking() {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    nix::unistd::mkfifo(
        store.path(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    assert!(matches!(add(&store, "x"), Err(StoreError::NotRegular(_))));
    assert!(matches!(store.read(), Err(StoreError::NotRegular(_))));
    assert!(matches!(
        store.remove_key("SHA256:x", &tag()),
        Err(StoreError::NotRegular(_))
    ));
}

#[test]
fn a_file_with_other_names_is_refused_and_untouched() {
    let home = home_with(b"keep\n");
    let store = AuthorizedKeys::in_home(home.path());
    fs::hard_link(store.path(), home.path().join("other-name")).unwrap();
    let err = add(&store, "x").unwrap_err();
    assert!(
        matches!(err, StoreError::HardLinked { links: 2, .. }),
        "{err}"
    );
    assert_eq!(fs::read(store.path()).unwrap(), b"keep\n");
}

#[test]
fn a_file_over_the_size_limit_is_refused_and_untouched() {
    let big = vec![b'#'; 2048];
    let home = home_with(&big);
    let store = AuthorizedKeys::in_home(home.path()).with_max_size(1024);
    let err = add(&store, "x").unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooLarge {
                size: 2048,
                max: 1024,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fs::read(store.path()).unwrap(), big);
}

#[test]
fn an_append_that_would_pass_the_size_limit_is_refused_and_writes_nothing() {
    // 1000 bytes under a 1024-byte limit, with no final newline: the key's line does not fit.
    let near = [b"#".repeat(999), b"x".to_vec()].concat();
    let home = home_with(&near);
    let store = AuthorizedKeys::in_home(home.path()).with_max_size(1024);
    for result in [
        add(&store, "x").map(drop),
        store.append_new_key_within(&random_key("", "x").1, None),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::WouldBeTooLarge {
                    size: 1000,
                    max: 1024,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was written"), "{err}");
    }
    assert_eq!(fs::read(store.path()).unwrap(), near);
    // The limit itself is reachable: a line that ends exactly at it is written.
    let line = random_key("", "x").1;
    let exact = 1024 - line.len() - 1;
    let home = home_with(&vec![b'\n'; exact]);
    let store = AuthorizedKeys::in_home(home.path()).with_max_size(1024);
    store.append_new_key_within(&line, None).unwrap();
    assert_eq!(fs::metadata(store.path()).unwrap().len(), 1024);
    assert!(store.read().is_ok());
}

#[test]
fn reading_refuses_a_device_and_an_oversized_file() {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    symlink("/dev/zero", store.path()).unwrap();
    assert!(matches!(store.read(), Err(StoreError::NotRegular(_))));

    let big = home_with(&[b'#'; 2048]);
    let store = AuthorizedKeys::in_home(big.path()).with_max_size(1024);
    assert!(matches!(
        store.read(),
        Err(StoreError::TooLarge { size: 2048, .. })
    ));
}

#[test]
fn a_home_reached_through_a_symlink_works_as_sshd_reaches_it() {
    let base = tempfile::tempdir().unwrap();
    let real = base.path().join("export-home");
    fs::create_dir(&real).unwrap();
    let link = base.path().join("home");
    symlink(&real, &link).unwrap();
    let store = AuthorizedKeys::in_home(&link);
    let fp = add(&store, "fileglancer").unwrap();
    assert!(real.join(".ssh/authorized_keys").is_file());
    store.remove_key(&fp, &tag()).unwrap();
    assert_eq!(fs::read(real.join(".ssh/authorized_keys")).unwrap(), b"");
}

#[test]
fn make_private_tightens_only_what_it_should_and_says_why_not() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    chmod(store.dir(), 0o777);
    chmod(store.path(), 0o666);
    store.make_private(Part::SshDir, uid()).unwrap();
    store.make_private(Part::File, uid()).unwrap();
    assert_eq!((mode(store.dir()), mode(store.path())), (0o700, 0o600));

    let err = store.make_private(Part::File, uid() + 1).unwrap_err();
    assert!(matches!(err, StoreError::NotYours { .. }), "{err}");

    let not_a_dir = tempfile::tempdir().unwrap();
    fs::write(not_a_dir.path().join(".ssh"), b"").unwrap();
    let err = AuthorizedKeys::in_home(not_a_dir.path())
        .make_private(Part::SshDir, uid())
        .unwrap_err();
    assert!(matches!(err, StoreError::NotADirectory(_)), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = AuthorizedKeys::in_home(empty.path())
        .make_private(Part::SshDir, uid())
        .unwrap_err();
    assert!(matches!(err, StoreError::Missing(_)), "{err}");
}

/// The attack: another process flips `~/.ssh` between the real directory and a symbolic link to
/// a decoy while keys are added, listed and revoked. Each operation must either work inside the
/// real `~/.ssh` or refuse the link; the decoy is never created in, changed or read.
#[test]
fn flipping_ssh_to_a_symlink_mid_operation_never_reaches_outside_it() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{CWD, RenameFlags, renameat_with};

    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    fs::create_dir(&ssh).unwrap();
    let decoy = home.path().join("decoy");
    fs::create_dir(&decoy).unwrap();
    let (bait, bait_line) = random_key("", "fileglancer");
    let bait_bytes = format!("{bait_line}\n").into_bytes();
    fs::write(decoy.join("authorized_keys"), &bait_bytes).unwrap();
    let bait_fp = fingerprint(&bait);
    let swap = home.path().join(".ssh-swap");
    symlink(&decoy, &swap).unwrap();

    /// Stops the flipper however the scope ends, so a failed check cannot hang the test.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    let store = AuthorizedKeys::in_home(home.path());
    let stop = AtomicBool::new(false);
    let mut kept = Vec::new();
    let mut refused = 0;
    std::thread::scope(|s| {
        let stopper = StopOnDrop(&stop);
        let flipper = s.spawn(|| {
            let mut flips = 0u64;
            while !stop.load(Ordering::Relaxed) {
                renameat_with(CWD, &ssh, CWD, &swap, RenameFlags::EXCHANGE).unwrap();
                flips += 1;
            }
            flips
        });
        let is_refusal = |e: &StoreError| matches!(e, StoreError::Symlink(_));
        for _ in 0..150 {
            match add(&store, "fileglancer") {
                Ok(fp) => kept.push(fp),
                Err(e) if is_refusal(&e) => refused += 1,
                Err(e) => panic!("add: {e}"),
            }
            if let Some(fp) = kept.first().cloned() {
                match store.remove_key(&fp, &tag()) {
                    Ok(()) => {
                        kept.remove(0);
                    }
                    // Removed in the real `~/.ssh`, which was away from its name at the end.
                    Err(StoreError::Moved(_)) => {
                        kept.remove(0);
                        refused += 1;
                    }
                    Err(e) if is_refusal(&e) => refused += 1,
                    Err(e) => panic!("remove: {e}"),
                }
            }
            match store.remove_key(&bait_fp, &tag()) {
                Err(StoreError::KeyNotFound(_)) => {}
                Err(e) if is_refusal(&e) => refused += 1,
                other => panic!("the decoy's key was reached: {other:?}"),
            }
            match store.read() {
                Ok(contents) => assert!(
                    !contents.windows(bait_bytes.len()).any(|w| w == bait_bytes),
                    "the decoy was read"
                ),
                Err(e) if is_refusal(&e) => refused += 1,
                Err(e) => panic!("read: {e}"),
            }
        }
        drop(stopper);
        assert!(flipper.join().unwrap() > 0);
    });
    if fs::symlink_metadata(&ssh).unwrap().is_symlink() {
        renameat_with(CWD, &ssh, CWD, &swap, RenameFlags::EXCHANGE).unwrap();
    }

    let mut decoy_entries: Vec<_> = fs::read_dir(&decoy)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    decoy_entries.sort();
    assert_eq!(decoy_entries, ["authorized_keys"], "created in the decoy");
    assert_eq!(fs::read(decoy.join("authorized_keys")).unwrap(), bait_bytes);
    let contents = fs::read(ssh.join("authorized_keys")).unwrap();
    let mut left: Vec<String> = authorized_keys::parse(&contents)
        .keys
        .iter()
        .map(KeyLine::fingerprint)
        .collect();
    left.sort();
    kept.sort();
    assert_eq!(
        left, kept,
        "every key that was added and not revoked, no other"
    );
    assert!(
        refused > 0,
        "the flips never met an operation; the test proved nothing"
    );
}

#[test]
fn a_cap_on_keyhatch_keys_counts_only_tagged_keys_and_refuses_past_it() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    add(&store, "alice@laptop").unwrap();
    let cap = Some((&Tag::default(), 2));
    for _ in 0..2 {
        let (public, line) = random_key("", "fileglancer");
        store.append_key_within(&public, &line, cap).unwrap();
    }
    let before = fs::read(store.path()).unwrap();
    let (public, line) = random_key("", "fileglancer");
    let err = store.append_key_within(&public, &line, cap).unwrap_err();
    assert!(matches!(err, StoreError::TooManyKeys(2)), "{err}");
    assert_eq!(fs::read(store.path()).unwrap(), before);
}
