//! A second keyhatch process (another helper, `keyhatch keys revoke`) beside a rewrite under
//! way: the red teams' races between two keyhatch processes, made certain by the step hook.

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::time::Instant;

use super::races::{sed_i, with_move_at};
use super::*;

/// What a second keyhatch process (another helper, `keyhatch keys revoke`) does as its
/// rewrite starts: lock the directory, then the file `authorized_keys` names, and clear what
/// crashed rewrites left. The process's own gate is skipped, as another process has its own. Whether it got the
/// lock.
fn second_keyhatch_starts_a_rewrite(home: &Path) -> bool {
    let location = Location::parse(Path::new(DEFAULT_LOCATION)).unwrap();
    let dir = SshDir::open(home, &location).unwrap().unwrap();
    // Held, or not taken where the directory has none (as `Locked::acquire` goes on then).
    let _dir_lock = match lock::lock_directory(&dir, Instant::now()).unwrap() {
        lock::DirLock::TimedOut => return false,
        held_or_none => held_or_none,
    };
    let flags = OFlags::RDWR | OFlags::APPEND | OFlags::NONBLOCK;
    let file = dir.open_file(dir.file_name(), flags, 0).unwrap();
    let locked = lock::lock_exclusive(&file, Instant::now()).unwrap();
    if locked {
        temp::remove_stale_temps(&dir);
    }
    locked
}

/// The red team's attack: a second keyhatch process opened the file just as a revoke swapped
/// its new version in. Nothing locked the new file, so the second took its lock and deleted
/// the file just swapped out, still under its temporary name: the revoke failed though made,
/// and a line written late through the old file was lost with it.
#[test]
fn a_second_keyhatch_waits_while_a_rewrite_swaps_and_deletes_nothing_of_it() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    let before = fs::read(store.path()).unwrap();
    let mut writer = fs::OpenOptions::new()
        .append(true)
        .open(store.path())
        .unwrap();
    let (at, took) = (home.path().to_owned(), Rc::new(Cell::new(None)));
    let seen = Rc::clone(&took);
    let second = move || seen.set(Some(second_keyhatch_starts_a_rewrite(&at)));

    let result = with_move_at(Step::Renamed, second, || store.remove_key(&key, &tag()));
    writer.write_all(b"from ssh-copy-id\n").unwrap();

    result.unwrap();
    assert_eq!(took.get(), Some(false), "the second keyhatch got the lock");
    assert_eq!(fs::read(store.path()).unwrap(), b"foreign line\n");
    let old = fs::read(home.path().join(".ssh/authorized_keys.old")).unwrap();
    assert_eq!(old, [&before[..], b"from ssh-copy-id\n"].concat());
}

/// A temporary file whose lock someone holds belongs to a rewrite under way; one nobody locks
/// was left by a crash.
#[test]
fn only_temporary_files_nobody_holds_are_cleared() {
    let home = home_with(b"foreign line\n");
    let ssh = home.path().join(".ssh");
    let name = |n: &str| ssh.join(format!("{}{n}", temp_prefix("authorized_keys")));
    fs::write(name("held"), b"a rewrite under way\n").unwrap();
    fs::write(name("left"), b"a crashed rewrite's\n").unwrap();
    let held = fs::OpenOptions::new()
        .write(true)
        .open(name("held"))
        .unwrap();
    assert!(lock::lock_exclusive(&held, Instant::now()).unwrap());

    assert!(second_keyhatch_starts_a_rewrite(home.path()));

    assert_eq!(fs::read(name("held")).unwrap(), b"a rewrite under way\n");
    assert!(!name("left").exists());
}

/// The red team's attack: while a revoke waited to swap, the person's `sed -i` renamed its edit
/// over the file, and a second keyhatch (another revoke) locked that new file at once, nobody
/// holding it, and rewrote beside the first: the edit was lost from every file, and a revoke
/// said done. The directory's lock keeps the second waiting.
#[test]
fn a_second_keyhatch_waits_for_a_rewrite_even_on_a_file_renamed_in_meanwhile() {
    let home = home_with(b"foreign line\n");
    chmod(&home.path().join(".ssh"), 0o700);
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    store.append_key(&public, &line).unwrap();
    let path = store.path().to_owned();
    let at = home.path().to_owned();
    let took = Rc::new(Cell::new(None));
    let seen = Rc::clone(&took);
    let sed = sed_i(&path, format!("edited by sed\n{line}\n"));
    let sed_then_second = move || {
        sed();
        seen.set(Some(second_keyhatch_starts_a_rewrite(&at)));
    };

    let result = with_move_at(Step::BackedUp, sed_then_second, || {
        store.remove_key(&fingerprint(&public), &tag())
    });

    result.unwrap();
    assert_eq!(took.get(), Some(false), "the second keyhatch got a lock");
    assert_eq!(fs::read_to_string(store.path()).unwrap(), "edited by sed\n");
}

/// The red team's attack on the directory's lock: with `~/.ssh` at 0755 (a plain `mkdir`),
/// another account held its `flock`, and every change of the person's waited, then failed.
/// Such a directory is not locked; one no other account can read is.
#[test]
fn a_directory_other_accounts_can_open_is_not_locked() {
    let home = home_with(b"");
    let ssh = home.path().join(".ssh");
    let location = Location::parse(Path::new(DEFAULT_LOCATION)).unwrap();
    for (mode, locked) in [(0o755, false), (0o750, false), (0o711, true), (0o700, true)] {
        chmod(&ssh, mode);
        let dir = SshDir::open(home.path(), &location).unwrap().unwrap();
        let lock = lock::lock_directory(&dir, Instant::now()).unwrap();
        assert_eq!(matches!(lock, lock::DirLock::Held(_)), locked, "{mode:o}");
    }
}
