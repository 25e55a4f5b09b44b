//! Another program's move in the middle of a rewrite, at each of its steps: the red teams'
//! races, each made certain by the rewrite's step hook rather than left to timing.

use std::io::Write;

use super::*;

/// The red team's attack: `~/.ssh` swapped for a copy of itself while a key is revoked. The
/// revoke works in the directory it opened, which sshd no longer reads: it must not say the key
/// is revoked.
#[test]
fn a_removal_never_says_done_when_ssh_was_swapped_meanwhile() {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let home = home_with(b"");
    let ssh = home.path().join(".ssh");
    let spare = home.path().join(".ssh-spare");
    fs::create_dir(&spare).unwrap();
    let (public, line) = random_key("", "fileglancer");
    let contents = format!("foreign line\n{line}\n");
    fs::write(ssh.join("authorized_keys"), &contents).unwrap();
    fs::write(spare.join("authorized_keys"), &contents).unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    let (from, to) = (ssh.clone(), spare.clone());
    let swap = move || renameat_with(CWD, &from, CWD, &to, RenameFlags::EXCHANGE).unwrap();

    let result = with_move_at(Step::BackedUp, swap, || {
        store.remove_key(&fingerprint(&public), &tag())
    });

    assert!(matches!(result, Err(StoreError::Moved(_))), "{result:?}");
    assert_eq!(
        fs::read_to_string(ssh.join("authorized_keys")).unwrap(),
        contents
    );
    assert_eq!(
        fs::read_to_string(spare.join("authorized_keys")).unwrap(),
        "foreign line\n",
        "revoked in the directory it opened"
    );
}

/// `sed -i` on the file at `path`, as another program's move: `edited` written to a new file,
/// renamed over it.
pub(super) fn sed_i(path: &Path, edited: String) -> impl FnOnce() + 'static {
    let path = path.to_owned();
    move || {
        let temp = path.with_file_name("sedXYZ");
        fs::write(&temp, edited).unwrap();
        fs::rename(&temp, &path).unwrap();
    }
}

/// Runs `work` with `hook` called once, at `step` of the first rewrite on this thread: another
/// program's move at that moment.
pub(super) fn with_move_at<T>(
    step: Step,
    hook: impl FnOnce() + 'static,
    work: impl FnOnce() -> T,
) -> T {
    with_moves_at(vec![(step, Box::new(hook))], work)
}

/// Runs `work` with each of `moves` made once, at its step of the rewrites on this thread.
pub(super) fn with_moves_at<T>(
    moves: Vec<(Step, Box<dyn FnOnce()>)>,
    work: impl FnOnce() -> T,
) -> T {
    let mut moves: Vec<_> = moves.into_iter().map(Some).collect();
    replace::AT_STEP.set(Some(Box::new(move |now| {
        for slot in &mut moves {
            if slot.as_ref().is_some_and(|(step, _)| *step == now)
                && let Some((_, hook)) = slot.take()
            {
                hook();
                return;
            }
        }
    })));
    let result = work();
    replace::AT_STEP.set(None);
    result
}

/// The red team's attack: `cat >> authorized_keys` (`ssh-copy-id`) opened the file before a
/// revoke and writes after it. Its line went into a file without a name.
#[test]
fn a_line_written_through_a_descriptor_opened_before_a_revoke_lands_in_the_old_file() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    let mut writer = fs::OpenOptions::new()
        .append(true)
        .open(store.path())
        .unwrap();

    store.remove_key(&key, &tag()).unwrap();
    writer.write_all(b"from ssh-copy-id\n").unwrap();
    drop(writer);

    let old = fs::read_to_string(home.path().join(".ssh/authorized_keys.old")).unwrap();
    assert!(old.ends_with("from ssh-copy-id\n"), "{old}");
    assert_eq!(fs::read(store.path()).unwrap(), b"foreign line\n");
}

/// The red team's attack: `sed -i` renames its edit over the file between keyhatch's last look
/// and its rename. The edit was lost.
#[test]
fn an_edit_by_rename_in_the_last_moment_is_kept_and_the_revoke_made_on_it() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    store.append_key(&public, &line).unwrap();
    let sed = sed_i(store.path(), format!("edited by sed\n{line}\n"));

    let result = with_move_at(Step::BackedUp, sed, || {
        store.remove_key(&fingerprint(&public), &tag())
    });

    result.unwrap();
    assert_eq!(fs::read_to_string(store.path()).unwrap(), "edited by sed\n");
}

/// The red team's attack: another program rewrites the file in place, longer than it was,
/// between keyhatch's last look and its rename. The edit was undone and its tail added as if
/// appended.
#[test]
fn an_edit_in_place_in_the_last_moment_is_kept_and_the_revoke_made_on_it() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    store.append_key(&public, &line).unwrap();
    let (path, edited) = (
        store.path().to_owned(),
        format!("edited in place, longer than the file was before\n{line}\n"),
    );
    let edit = move || fs::write(&path, edited).unwrap();

    let result = with_move_at(Step::BackedUp, edit, || {
        store.remove_key(&fingerprint(&public), &tag())
    });

    result.unwrap();
    assert_eq!(
        fs::read_to_string(store.path()).unwrap(),
        "edited in place, longer than the file was before\n"
    );
}

/// Where names cannot be swapped (NFS), the same edit in place is not undone unseen: the
/// revoke says so, and the other program's version is `authorized_keys.old`, whole.
#[test]
fn without_swapping_an_edit_in_place_in_the_last_moment_is_kept_as_the_old_file() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    store.append_key(&public, &line).unwrap();
    let edited = format!("edited in place, longer than the file was before\n{line}\n");
    let (path, theirs) = (store.path().to_owned(), edited.clone());
    let edit = move || fs::write(&path, theirs).unwrap();
    replace::NO_EXCHANGE.set(true);

    let result = with_move_at(Step::BackedUp, edit, || {
        store.remove_key(&fingerprint(&public), &tag())
    });

    replace::NO_EXCHANGE.set(false);
    assert!(
        matches!(result, Err(StoreError::EditedMeanwhile(_))),
        "{result:?}"
    );
    let old = fs::read_to_string(home.path().join(".ssh/authorized_keys.old")).unwrap();
    assert_eq!(old, edited);
    assert_eq!(fs::read_to_string(store.path()).unwrap(), "foreign line\n");
}

/// The red team's attack: `sed -i` renamed its edit over the file just before the swap, and
/// `cat >>` appended to the new version just after it. The rewrite swapped the edit back, and
/// the appended line, in the new version, was deleted with it.
#[test]
fn a_line_appended_to_a_new_version_that_is_swapped_back_is_kept() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    store.append_key(&public, &line).unwrap();
    let sed = sed_i(store.path(), format!("edited by sed\n{line}\n"));
    let appended_to = store.path().to_owned();
    let cat = move || {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(appended_to)
            .unwrap();
        file.write_all(b"from cat\n").unwrap();
    };
    let moves: Vec<(Step, Box<dyn FnOnce()>)> = vec![
        (Step::BackedUp, Box::new(sed)),
        (Step::Renamed, Box::new(cat)),
    ];

    let result = with_moves_at(moves, || store.remove_key(&fingerprint(&public), &tag()));

    result.unwrap();
    assert_eq!(
        fs::read_to_string(store.path()).unwrap(),
        "edited by sed\nfrom cat\n"
    );
}

/// The red team's attack: once the rewrite had checked the old version for the last time, a
/// program rewrote it in place with a header as long as its last key and comment. Those bytes
/// were taken for a late append and copied: the key without the options that restrict it.
#[test]
fn an_old_version_rewritten_in_place_after_the_last_check_gives_back_no_piece_of_it() {
    let (restricted, _) = random_key("", "orig2");
    let restricted = format!(
        "from=\"10.0.0.1\",command=\"true\" {}",
        restricted.to_openssh().unwrap()
    );
    let key_and_comment = restricted.split_once(' ').unwrap().1.to_owned();
    let home = home_with(format!("foreign line\n{restricted}\n").as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    let before = fs::read(store.path()).unwrap();
    let old = home.path().join(".ssh/authorized_keys.old");
    let header = format!("#{}\n", "-".repeat(key_and_comment.len()));
    let edited = [header.as_bytes(), &before].concat();
    let theirs = edited.clone();
    let edit = move || fs::write(&old, theirs).unwrap();

    let result = with_move_at(Step::GivingBack, edit, || store.remove_key(&key, &tag()));

    assert!(
        matches!(result, Err(StoreError::EditedMeanwhile(_))),
        "{result:?}"
    );
    assert_eq!(
        fs::read_to_string(store.path()).unwrap(),
        format!("foreign line\n{restricted}\n")
    );
    let old = home.path().join(".ssh/authorized_keys.old");
    assert_eq!(fs::read(old).unwrap(), edited);
}

/// The red team's attack: `authorized_keys.old` made a directory between the swap and the
/// old version's rename to it. The revoke was made but said it failed, and the old version was
/// left under a temporary name, which the next rewrite deleted with any line written late.
#[test]
fn an_old_file_made_a_directory_midway_changes_nothing_and_says_so() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    let before = fs::read(store.path()).unwrap();
    let old = home.path().join(".ssh/authorized_keys.old");
    let made = old.clone();
    let mkdir = move || {
        fs::remove_file(&made).unwrap();
        fs::create_dir(&made).unwrap();
    };

    let result = with_move_at(Step::Renamed, mkdir, || store.remove_key(&key, &tag()));

    assert!(
        matches!(result, Err(StoreError::OldInTheWay(ref path)) if *path == old),
        "{result:?}"
    );
    assert_eq!(fs::read(store.path()).unwrap(), before);
    assert!(old.is_dir());
    assert_no_temporary_file_left(home.path());
}

/// A red team's suspicion, mounted: the person tightened the file's mode (it was group-writable, which
/// sshd refuses, or worse) in the moment before the swap. The new file had the mode read at the
/// lock, and the tightening was undone. Where names cannot be swapped (NFS) too.
#[test]
fn a_mode_changed_in_the_last_moment_is_kept() {
    for no_exchange in [false, true] {
        let home = home_with(b"foreign line\n");
        let store = AuthorizedKeys::in_home(home.path());
        let key = add(&store, "fileglancer").unwrap();
        chmod(store.path(), 0o666);
        let path = store.path().to_owned();
        let tighten = move || chmod(&path, 0o600);
        replace::NO_EXCHANGE.set(no_exchange);

        let result = with_move_at(Step::BackedUp, tighten, || store.remove_key(&key, &tag()));

        replace::NO_EXCHANGE.set(false);
        result.unwrap();
        assert_eq!(fs::read(store.path()).unwrap(), b"foreign line\n");
        assert_eq!(mode(store.path()), 0o600, "without swapping: {no_exchange}");
    }
}

/// The red team's attack: `sed -i` renamed one edit over the file just before the swap, and a
/// second edit (taking out another key) just after it. Swapping back put the first edit under
/// the name and deleted the second: the key it took out was accepted again.
#[test]
fn a_second_edit_renamed_over_the_new_version_keeps_the_name() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    let (public, line) = random_key("", "fileglancer");
    let (_, compromised) = random_key("", "laptop");
    fs::write(store.path(), format!("{compromised}\n{line}\n")).unwrap();
    let first = sed_i(
        store.path(),
        format!("edited once\n{compromised}\n{line}\n"),
    );
    let second = sed_i(store.path(), format!("edited twice\n{line}\n"));
    let moves: Vec<(Step, Box<dyn FnOnce()>)> = vec![
        (Step::BackedUp, Box::new(first)),
        (Step::Renamed, Box::new(second)),
    ];

    let result = with_moves_at(moves, || store.remove_key(&fingerprint(&public), &tag()));

    result.unwrap();
    assert_eq!(fs::read_to_string(store.path()).unwrap(), "edited twice\n");
}

/// The red team's attack on a rewrite that staged its new file as `authorized_keys.old`: a
/// backup copied there in place (`cp authorized_keys authorized_keys.old`) was swapped in, and
/// the revoke said done with the key still live; a notes file renamed there became the keys
/// file. At no step may what another program puts at `.old` reach the file's name.
#[test]
fn what_a_program_puts_at_authorized_keys_old_midway_never_becomes_the_file() {
    for step in [
        Step::TempWritten,
        Step::Checked,
        Step::BackedUp,
        Step::Renamed,
    ] {
        for copy in [true, false] {
            let home = home_with(b"foreign line\n");
            let store = AuthorizedKeys::in_home(home.path());
            let key = add(&store, "fileglancer").unwrap();
            let (path, old) = (store.path().to_owned(), store.path().with_extension("old"));
            let put = move || {
                if copy {
                    fs::copy(&path, &old).unwrap();
                } else {
                    let notes = path.with_file_name("notes");
                    fs::write(&notes, "# notes\n").unwrap();
                    fs::rename(&notes, &old).unwrap();
                }
            };

            let result = with_move_at(step, put, || store.remove_key(&key, &tag()));

            let now = fs::read_to_string(store.path()).unwrap();
            assert_eq!(now, "foreign line\n", "{step:?}, copy {copy}: {result:?}");
            result.unwrap();
        }
    }
}

/// The red team's attack: the person took an account's entry out of the file's ACL, and a
/// `user.` attribute off it, while a revoke waited to swap; the new file had the ACL and the
/// attribute read at the lock, and gave them back.
#[test]
fn an_acl_or_attribute_taken_away_in_the_last_moment_stays_away() {
    use xattr::FileExt as _;
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    chmod(store.path(), 0o600);
    let file = fs::File::open(store.path()).unwrap();
    file.set_xattr("user.backup-policy", b"weekly").unwrap();
    let path = store.path().to_owned();
    let take_away = move || {
        let file = fs::File::open(&path).unwrap();
        file.remove_xattr("user.backup-policy").unwrap();
        file.set_xattr("user.reviewed", b"yes").unwrap();
    };

    let result = with_move_at(Step::BackedUp, take_away, || store.remove_key(&key, &tag()));

    result.unwrap();
    let file = fs::File::open(store.path()).unwrap();
    assert_eq!(file.get_xattr("user.backup-policy").unwrap(), None);
    assert_eq!(
        file.get_xattr("user.reviewed").unwrap().as_deref(),
        Some(&b"yes"[..])
    );
}

/// The red team's attack: the disk filled while what another program appended late was copied
/// into the new file. The revoke was made, but said only "could not write"; the lines were in
/// `.old` alone, and the next revoke replaced that.
#[test]
fn late_lines_a_full_disk_keeps_out_are_said_to_be_in_the_old_file() {
    let disk = crate::ssh::testing::SmallDisk::mount("64k");
    let home = disk.0.path();
    fs::create_dir(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/authorized_keys"), "foreign line\n").unwrap();
    let store = AuthorizedKeys::in_home(home);
    let key = add(&store, "fileglancer").unwrap();
    let (path, filler) = (store.path().to_owned(), home.join("filler"));
    let late = format!("#{}\n", "x".repeat(98)).repeat(100);
    let appended = late.clone();
    let append_then_fill = move || {
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(appended.as_bytes()).unwrap();
        let mut filler = fs::File::create(&filler).unwrap();
        while filler.write_all(&[0; 4096]).is_ok() {}
    };

    let result = with_move_at(Step::BackedUp, append_then_fill, || {
        store.remove_key(&key, &tag())
    });

    let said = result.unwrap_err();
    assert!(
        matches!(said, StoreError::LateLinesNotCopied { .. }),
        "{said:?}"
    );
    assert!(said.to_string().contains("the change to"), "{said}");
    let now = fs::read_to_string(store.path()).unwrap();
    assert!(
        now.starts_with("foreign line\n") && !now.contains("fileglancer"),
        "{now}"
    );
    let old = fs::read_to_string(home.join(".ssh/authorized_keys.old")).unwrap();
    assert!(old.ends_with(&late), "the late lines are not in .old");
}
