//! `authorized_keys2`, which sshd reads beside `authorized_keys` by default: a copy of a key
//! there still logs in, so keyhatch's own line is not changed as if it were the only one.

use super::*;

#[test]
fn a_copy_in_authorized_keys2_stops_a_revoke_and_a_link_to_the_file_itself_does_not() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    let fp = add(&store, "fileglancer").unwrap();
    let ours = fs::read_to_string(store.path()).unwrap();
    let beside = home.path().join(".ssh/authorized_keys2");
    // The same key, without keyhatch's options or tag.
    let bare: Vec<&str> = ours.split(' ').take(2).collect();
    fs::write(&beside, format!("# by hand\n{} laptop\n", bare.join(" "))).unwrap();
    let refused = store.remove_key(&fp, &tag());
    assert!(
        matches!(&refused, Err(StoreError::CopyBeside { path, .. }) if *path == beside),
        "{refused:?}"
    );
    assert_eq!(fs::read_to_string(store.path()).unwrap(), ours);

    // A link to keyhatch's own file (a common way to keep the two alike) is no other copy.
    fs::remove_file(&beside).unwrap();
    symlink("authorized_keys", &beside).unwrap();
    store.remove_key(&fp, &tag()).unwrap();
    assert_eq!(fs::read(store.path()).unwrap(), b"");
    // Nor is a file sshd could not read: a FIFO is never waited on.
    let fp = add(&store, "fileglancer").unwrap();
    fs::remove_file(&beside).unwrap();
    nix::unistd::mkfifo(&beside, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    store.remove_key(&fp, &tag()).unwrap();
}

/// Red team: `authorized_keys2` as a link to `authorized_keys.old`, which a change leaves
/// holding the file as it was: every revoke and restrict was undone there. Refused, whether
/// `.old` is there yet or not.
#[test]
fn authorized_keys2_leading_to_the_old_file_stops_every_change() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    let beside = home.path().join(".ssh/authorized_keys2");
    symlink("authorized_keys.old", &beside).unwrap();
    let fp = add(&store, "fileglancer").unwrap();
    let ours = fs::read_to_string(store.path()).unwrap();
    let refused = store.remove_key(&fp, &tag());
    assert!(
        matches!(&refused, Err(StoreError::BesideIsOld(path)) if *path == beside),
        "before .old is made: {refused:?}"
    );
    assert_eq!(fs::read_to_string(store.path()).unwrap(), ours);
    // Through a link to a link, before `.old` is made (red team).
    fs::remove_file(&beside).unwrap();
    symlink("hop", &beside).unwrap();
    symlink("authorized_keys.old", home.path().join(".ssh/hop")).unwrap();
    let refused = store.remove_key(&fp, &tag());
    assert!(
        matches!(refused, Err(StoreError::BesideIsOld(_))),
        "through a hop: {refused:?}"
    );
    fs::remove_file(home.path().join(".ssh/hop")).unwrap();
    // With `.old` there (a change made before the link), and through a link to a link.
    fs::remove_file(&beside).unwrap();
    let other = add(&store, "fileglancer").unwrap();
    store.remove_key(&other, &tag()).unwrap();
    assert!(home.path().join(".ssh/authorized_keys.old").is_file());
    let hop = home.path().join("hop");
    symlink(home.path().join(".ssh/authorized_keys.old"), &hop).unwrap();
    symlink(&hop, &beside).unwrap();
    let refused = store.remove_key(&fp, &tag());
    assert!(
        matches!(refused, Err(StoreError::BesideIsOld(_))),
        "{refused:?}"
    );
    assert!(fs::read_to_string(store.path()).unwrap().contains(&ours));
}
