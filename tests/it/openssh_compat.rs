//! Keys keyhatch makes, judged by OpenSSH's own `ssh-keygen`.
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Output};

use keyhatch::ssh::{Passphrase, Tag, keygen};

fn ssh_keygen(args: &[&str]) -> Output {
    Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen runs")
}

/// Writes a test key 0600 into the test's own temporary directory, as ssh-keygen wants.
fn write_key(dir: &Path, private: &str) -> String {
    let path = dir.join("id_ed25519");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, private.as_bytes()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn ssh_keygen_derives_the_same_public_key_and_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen::generate(&Tag::default(), None, None).unwrap();
    let path = write_key(dir.path(), &key.private_openssh);

    let derived = ssh_keygen(&["-y", "-f", &path]);
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let ours = key.public.to_openssh().unwrap();
    let derived = String::from_utf8(derived.stdout).unwrap();
    assert_eq!(
        derived.split_whitespace().take(2).collect::<Vec<_>>(),
        ours.split_whitespace().take(2).collect::<Vec<_>>()
    );

    let listed = ssh_keygen(&["-l", "-E", "sha256", "-f", &path]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(
        listed.split_whitespace().nth(1),
        Some(key.fingerprint().as_str()),
        "{listed}"
    );
}

#[test]
fn an_encrypted_key_loads_only_with_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let pass = Passphrase::new("tr0ub4dor &3".into()).unwrap();
    let key = keygen::generate(&Tag::default(), None, Some(&pass)).unwrap();
    let path = write_key(dir.path(), &key.private_openssh);

    let right = ssh_keygen(&["-y", "-P", "tr0ub4dor &3", "-f", &path]);
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert!(
        String::from_utf8(right.stdout)
            .unwrap()
            .starts_with("ssh-ed25519 AAAA")
    );

    let wrong = ssh_keygen(&["-y", "-P", "wrong", "-f", &path]);
    assert!(!wrong.status.success());
    let none = ssh_keygen(&["-y", "-P", "", "-f", &path]);
    assert!(
        !none.status.success(),
        "an encrypted key loaded without its passphrase"
    );
}
