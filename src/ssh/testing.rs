//! Helpers for the domain's unit tests: temporary homes, random keys, the ssh-keygen fixture.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, PrivateKey, PublicKey};

/// The fixture full of sshd edge cases, made by `tests/fixtures/make-fixtures.sh` (19 lines,
/// 12 keys of which 5 are tagged `fileglancer`, unreadable lines 8, 16, 17, no final newline).
pub const MIXED: &[u8] = include_bytes!("../../tests/fixtures/authorized_keys.mixed");

/// `ssh-keygen -lf` of [`MIXED`]: one `SHA256:` fingerprint a line, in file order.
pub const MIXED_FINGERPRINTS: &str =
    include_str!("../../tests/fixtures/authorized_keys.mixed.fingerprints");

/// A temporary home whose `~/.ssh/authorized_keys` holds `contents`.
pub fn home_with(contents: &[u8]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    fs::write(home.path().join(".ssh/authorized_keys"), contents).unwrap();
    home
}

/// Sets the permission bits of `path`.
pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A fresh ed25519 key commented `comment`, and its `authorized_keys` line with `options`
/// (none when empty).
pub fn random_key(options: &str, comment: &str) -> (PublicKey, String) {
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
    key.set_comment(comment);
    let public = key.public_key().clone();
    let line = public.to_openssh().unwrap();
    let line = if options.is_empty() {
        line
    } else {
        format!("{options} {line}")
    };
    (public, line)
}

/// The uid the tests run as.
pub fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// A tmpfs of `size` mounted on a new directory, unmounted when dropped.
pub struct SmallDisk(pub tempfile::TempDir);

impl SmallDisk {
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = format!("size={size}");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(mounted.success(), "mount a tmpfs (tests run as root)");
        Self(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}
