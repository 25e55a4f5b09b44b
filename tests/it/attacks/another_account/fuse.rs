//! A FUSE filesystem another account serves says whatever owner and mode it likes: none of its
//! directories is taken for the person's own.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::login_link::{KilledOnDrop, RemovedOnDrop, squat};
use super::socket_path::{keyhatch_as, printed_until, refused_socket, stop};
use crate::helpers::Account;

/// Red team (helper-62): another account mounted a FUSE filesystem (as `fusermount` lets any
/// account with `allow_other`) at `/tmp/keyhatch-UID`, whose every directory said it was the
/// person's and 0700. keyhatch took it for its runtime directory and wrote the login link and
/// the script credential into it, and the printed socket path led wherever that account
/// wanted. Neither the runtime directory nor a `--socket` path is taken on FUSE.
#[test]
fn a_fuse_directory_that_says_it_is_the_persons_is_not_taken_for_private() {
    let alice = Account::create_person();
    let stranger = Account::create();
    let runtime = PathBuf::from(format!("/tmp/keyhatch-{}", alice.uid));
    let log = tempfile::NamedTempFile::new().unwrap();
    let _made = RemovedOnDrop(vec![runtime.clone()]);
    squat(&stranger, &runtime, "755");
    let _mounted = Mounted::serve(&runtime, alice.uid, stranger.uid, log.path());
    let said = refused_socket(&alice, &runtime.join("kh.sock"));
    assert!(said.contains("is on a FUSE filesystem"), "{said}");
    let mut server = keyhatch_as(&alice, &["--addr", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let _stop = KilledOnDrop(server.id());
    let files = printed_until(&mut server, &["The link is also in", "login files"]);
    assert!(files.contains("The link is also in"), "{files}");
    assert!(!files.contains(&runtime.display().to_string()), "{files}");
    stop(&mut server);
    let written = fs::read_to_string(log.path()).unwrap();
    assert_eq!(written, "", "made or written on the FUSE filesystem");
}

/// A FUSE filesystem mounted at a directory and served by `server_uid`, every file of it said to
/// be `claimed_uid`'s and private; unmounted, and its server stopped, when dropped.
struct Mounted {
    at: PathBuf,
    server: Child,
}

impl Mounted {
    fn serve(at: &Path, claimed_uid: u32, server_uid: u32, log: &Path) -> Self {
        let server = Command::new("/usr/bin/python3")
            .args(["-c", include_str!("fake_owner_fuse.py")])
            .arg(at)
            .args([claimed_uid.to_string(), server_uid.to_string()])
            .arg(log)
            .spawn()
            .unwrap();
        let mounted = Self {
            at: at.to_owned(),
            server,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while fs::symlink_metadata(at).unwrap().uid() != claimed_uid {
            assert!(
                Instant::now() < deadline,
                "the FUSE filesystem is not mounted"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        mounted
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
