//! A large file read by a process that may start no thread: an account at its process limit.
//! The listing reads a file over 64 KiB on one thread per core; each run it cannot start a
//! thread for is read on the calling thread instead, with the same result.
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::Path;

use crate::helpers::Account;
use keyhatch::ssh::{AuthorizedKeys, ListedKey, Tag, authorized_keys, list_keys, other_keys};

/// Set in the copy of this test that runs as the account: the home to list.
const CHILD_HOME: &str = "KEYHATCH_TEST_NO_THREADS_HOME";
const NAME: &str =
    "process_limit::a_large_file_is_listed_all_the_same_when_no_thread_can_be_started";

#[test]
fn a_large_file_is_listed_all_the_same_when_no_thread_can_be_started() {
    if let Some(home) = std::env::var_os(CHILD_HOME) {
        return list_without_threads(Path::new(&home));
    }
    // As root: a throwaway account with the file in its home, then this same test run as that
    // account with at most one process or thread (`prlimit --nproc=1`). Root ignores the limit.
    let account = Account::create_person();
    let home = account.home();
    let ssh = home.join(".ssh");
    fs::create_dir(&ssh).unwrap();
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(ssh.join("authorized_keys"), large_file()).unwrap();
    for path in [&ssh, &ssh.join("authorized_keys")] {
        chown(path, Some(account.uid), Some(account.gid)).unwrap();
    }
    let test = std::env::current_exe().unwrap();
    let out = account.run(
        "env",
        &[
            &format!("{CHILD_HOME}={}", home.display()),
            "prlimit",
            "--nproc=1",
            "--",
            test.to_str().unwrap(),
            "--exact",
            NAME,
            "--test-threads=1",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the run as {} under the limit: {}\n{stdout}{}",
        account.name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 300 copies of the `ssh-keygen` fixture: 5,700 lines, 720 KB, read as one run per core.
fn large_file() -> Vec<u8> {
    let fixture = include_bytes!("../fixtures/authorized_keys.mixed");
    [&fixture[..]; 300].join(&b'\n')
}

/// The listing, in a process where starting a thread fails, against one plain parse.
fn list_without_threads(home: &Path) {
    let refused = std::thread::Builder::new().spawn(|| ()).map(drop);
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "the process limit refuses a thread"
    );
    let contents = large_file();
    let parsed = authorized_keys::parse(&contents);
    let tag = Tag::default();
    let (ours, theirs): (Vec<_>, Vec<_>) = parsed.keys.iter().partition(|k| k.is_tagged(&tag));
    let store = AuthorizedKeys::in_home(home);

    let listing = list_keys(&store, &tag).unwrap();
    assert_eq!(
        listing.keys,
        ours.into_iter().map(ListedKey::from).collect::<Vec<_>>()
    );
    assert_eq!(listing.other_keys, theirs.len());
    // The listing's bounds: 100 line numbers, 2,000 keys of each kind.
    assert_eq!(listing.unreadable_lines, parsed.unreadable[..100]);
    assert_eq!(listing.unreadable_lines_not_listed, 3 * 300 - 100);

    let others = other_keys(&store, &tag).unwrap();
    assert_eq!(
        others.keys,
        theirs[..2_000]
            .iter()
            .copied()
            .map(ListedKey::from)
            .collect::<Vec<_>>()
    );
    assert_eq!(others.keys_not_listed, theirs.len() - 2_000);
    assert_eq!(others.unreadable_lines, 3 * 300);
}
