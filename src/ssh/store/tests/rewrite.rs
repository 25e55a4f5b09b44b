//! Rewrites of the file (removals), against outside writers, a moved `~/.ssh`, a file grown
//! past the limit, and the file's extended attributes.

use std::io::Seek;

use xattr::FileExt as _;

use super::*;

#[test]
fn remove_takes_out_exactly_the_keyhatch_line_and_keeps_the_old_file() {
    let original = b"# header\r\nforeign line\n".to_vec();
    let home = home_with(&original);
    let store = AuthorizedKeys::in_home(home.path());
    chmod(store.path(), 0o640);
    let first = add(&store, "fileglancer").unwrap();
    let second = add(&store, "fileglancer").unwrap();
    let before_removal = fs::read(store.path()).unwrap();

    store.remove_key(&first, &tag()).unwrap();

    let after = fs::read_to_string(store.path()).unwrap();
    assert!(after.starts_with("# header\r\nforeign line\n"));
    assert_eq!(after.lines().count(), 3, "{after}");
    let listed = authorized_keys::parse(after.as_bytes());
    assert_eq!(listed.keys.len(), 1);
    assert_eq!(listed.keys[0].fingerprint(), second);
    assert_eq!(mode(store.path()), 0o640);
    assert_eq!(
        fs::read(home.path().join(".ssh/authorized_keys.old")).unwrap(),
        before_removal
    );
    assert_no_temporary_file_left(home.path());
}

#[test]
fn add_then_remove_gives_back_the_original_bytes() {
    for original in [
        &b""[..],
        b"a\n",
        b"unterminated",
        b"\xef\xbb\xbf\r\n\x00\xff\n",
    ] {
        let home = home_with(original);
        let store = AuthorizedKeys::in_home(home.path());
        let fp = add(&store, "fileglancer").unwrap();
        store.remove_key(&fp, &tag()).unwrap();
        let mut expected = original.to_vec();
        if expected.last().is_some_and(|&b| b != b'\n') {
            expected.push(b'\n');
        }
        assert_eq!(fs::read(store.path()).unwrap(), expected, "{original:?}");
    }
}

#[test]
fn only_keyhatch_keys_can_be_removed() {
    let home = home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    let mine = add(&store, "alice@laptop").unwrap();
    let before = fs::read(store.path()).unwrap();
    let err = store.remove_key(&mine, &tag()).unwrap_err();
    assert!(matches!(err, StoreError::NotOurs(_)), "{err}");
    let err = store.remove_key("SHA256:nothere", &tag()).unwrap_err();
    assert!(matches!(err, StoreError::KeyNotFound(_)), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = AuthorizedKeys::in_home(empty.path())
        .remove_key(&mine, &tag())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::KeyNotFound(_)),
        "no ~/.ssh: {err}"
    );
    assert_eq!(fs::read(store.path()).unwrap(), before);
}

#[test]
fn concurrent_appends_from_threads_all_land_whole() {
    let home = tempfile::tempdir().unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    std::thread::scope(|s| {
        for _ in 0..8 {
            let store = store.clone();
            s.spawn(move || {
                for _ in 0..25 {
                    add(&store, "fileglancer").unwrap();
                }
            });
        }
    });
    let contents = fs::read(store.path()).unwrap();
    let parsed = authorized_keys::parse(&contents);
    assert_eq!(parsed.keys.len(), 200);
    assert!(
        parsed.unreadable.is_empty(),
        "a line was torn: {:?}",
        parsed.unreadable
    );
}

#[test]
fn removals_and_appends_racing_lose_nothing() {
    let home = tempfile::tempdir().unwrap();
    let store = AuthorizedKeys::in_home(home.path());
    let doomed: Vec<String> = (0..20)
        .map(|_| add(&store, "fileglancer").unwrap())
        .collect();
    let added = std::thread::scope(|s| {
        let remover = s.spawn(|| {
            for fp in &doomed {
                store.remove_key(fp, &tag()).unwrap();
            }
        });
        let adders: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..20)
                        .map(|_| add(&store, "fileglancer").unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        remover.join().unwrap();
        adders
            .into_iter()
            .flat_map(|a| a.join().unwrap())
            .collect::<Vec<_>>()
    });
    let contents = fs::read(store.path()).unwrap();
    let left: Vec<String> = authorized_keys::parse(&contents)
        .keys
        .iter()
        .map(KeyLine::fingerprint)
        .collect();
    let mut expected = added;
    expected.sort();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(left_sorted, expected);
}

/// The file's POSIX ACL as the kernel stores it (`system.posix_acl_access`): the owner and
/// uid 65534 may read and write, the owning group nothing, the mask read and write, others
/// nothing. `ls -l` shows `-rw-rw----+`: the group bits are the mask.
fn acl_giving_uid_65534_write() -> Vec<u8> {
    const USER_OBJ: u16 = 0x01;
    const USER: u16 = 0x02;
    const GROUP_OBJ: u16 = 0x04;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    const ANY: u32 = u32::MAX;
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (USER_OBJ, 6u16, ANY),
        (USER, 6, 65534),
        (GROUP_OBJ, 0, ANY),
        (MASK, 6, ANY),
        (OTHER, 0, ANY),
    ] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    acl
}

/// The red team's attack: with an ACL, the mode's group bits are its mask. A rewrite that kept
/// the mode and dropped the ACL made them plain group permissions: the owning group, which
/// could not write the file, then could.
#[test]
fn a_removal_keeps_the_files_acl_and_user_attributes() {
    const ACL: &str = "system.posix_acl_access";
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    let file = fs::File::open(store.path()).unwrap();
    file.set_xattr(ACL, &acl_giving_uid_65534_write()).unwrap();
    file.set_xattr("user.note", b"managed by hand").unwrap();
    let acl = file.get_xattr(ACL).unwrap().unwrap();
    let mode_before = mode(store.path());
    assert_eq!(mode_before, 0o660, "the group bits are the mask");

    store.remove_key(&key, &tag()).unwrap();

    let old = home.path().join(".ssh/authorized_keys.old");
    for path in [store.path(), old.as_path()] {
        let file = fs::File::open(path).unwrap();
        assert_eq!(file.get_xattr(ACL).unwrap(), Some(acl.clone()), "{path:?}");
        assert_eq!(
            file.get_xattr("user.note").unwrap().as_deref(),
            Some(&b"managed by hand"[..]),
            "{path:?}"
        );
        assert_eq!(mode(path), mode_before, "{path:?}");
    }
    assert_eq!(fs::read(store.path()).unwrap(), b"foreign line\n");
}

/// The red team's attack: `~/.ssh` has a default ACL giving uid 65534 read and write; the file
/// has no ACL, and 65534 cannot read it. The new file inherited the default ACL, and 65534
/// could read the keys file after one revoke.
#[test]
fn a_removal_adds_no_acl_the_file_did_not_have() {
    const ACL: &str = "system.posix_acl_access";
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let key = add(&store, "fileglancer").unwrap();
    chmod(store.path(), 0o640);
    let ssh = fs::File::open(home.path().join(".ssh")).unwrap();
    ssh.set_xattr("system.posix_acl_default", &acl_giving_uid_65534_write())
        .unwrap();

    store.remove_key(&key, &tag()).unwrap();

    let old = home.path().join(".ssh/authorized_keys.old");
    for path in [store.path(), old.as_path()] {
        let file = fs::File::open(path).unwrap();
        assert_eq!(file.get_xattr(ACL).unwrap(), None, "{path:?}");
        assert_eq!(mode(path), 0o640, "{path:?}");
    }
}

/// The red team's attack: the file grows to a gigabyte between the lock (which checked its size)
/// and the read, by a writer that takes no lock. The read stops one byte past the limit.
#[test]
fn a_file_grown_past_the_limit_after_the_lock_is_refused_unread() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path()).with_max_size(1 << 20);
    let dir = SshDir::open(home.path(), &store.location).unwrap().unwrap();
    let locked = Locked::acquire(&dir, false, 1 << 20, Duration::from_secs(1))
        .unwrap()
        .unwrap();
    // Sparse: 1 GiB that costs no disk, and would cost 1 GiB of memory to read whole.
    fs::OpenOptions::new()
        .write(true)
        .open(store.path())
        .unwrap()
        .set_len(1 << 30)
        .unwrap();

    let refused = locked.read_all(store.path(), 1 << 20);

    let read = (&locked.file).stream_position().unwrap();
    assert_eq!(read, (1 << 20) + 1, "read one byte past the limit, no more");
    assert!(
        matches!(refused, Err(StoreError::TooLarge { size, max, .. }) if size == 1 << 30 && max == 1 << 20),
        "{refused:?}"
    );
}

#[test]
fn an_old_file_that_is_a_directory_gets_a_sentence_and_nothing_changes() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let fp = add(&store, "fileglancer").unwrap();
    let before = fs::read(store.path()).unwrap();
    let old = home.path().join(".ssh/authorized_keys.old");
    fs::create_dir(&old).unwrap();
    fs::write(old.join("notes"), b"theirs").unwrap();

    let refused = store.remove_key(&fp, &tag()).unwrap_err();

    assert!(
        matches!(refused, StoreError::OldInTheWay(ref path) if *path == old),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("Move it away"), "{refused}");
    assert_eq!(fs::read(store.path()).unwrap(), before);
    assert_eq!(fs::read(old.join("notes")).unwrap(), b"theirs");
    assert_no_temporary_file_left(home.path());
}

#[test]
fn a_link_or_fifo_named_authorized_keys_old_is_replaced_never_followed() {
    let home = home_with(b"foreign line\n");
    let store = AuthorizedKeys::in_home(home.path());
    let victim = home.path().join("victim");
    fs::write(&victim, b"the person's other file\n").unwrap();
    let old = home.path().join(".ssh/authorized_keys.old");
    let plant: [&dyn Fn(); 3] = [
        &|| symlink(&victim, &old).unwrap(),
        &|| fs::hard_link(&victim, &old).unwrap(),
        &|| rustix::fs::mkfifoat(rustix::fs::CWD, &old, 0o600.into()).unwrap(),
    ];
    for plant in plant {
        let fp = add(&store, "fileglancer").unwrap();
        let before = fs::read(store.path()).unwrap();
        let _ = fs::remove_file(&old);
        plant();
        store.remove_key(&fp, &tag()).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"the person's other file\n");
        assert_eq!(fs::read(&old).unwrap(), before);
        assert_eq!(fs::read(store.path()).unwrap(), b"foreign line\n");
    }
}
