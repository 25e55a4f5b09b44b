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

#[test]
fn keyhatch_encrypts_a_key_exactly_as_ssh_keygen_did() {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    use keyhatch::ssh::{encrypted, kdf};
    use ssh_key::{Kdf, PrivateKey};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id_ed25519");
    let made = ssh_keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-a",
        "24",
        "-N",
        "test only: 7 words",
        "-C",
        "fileglancer Seqera",
        "-f",
        path.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{made:?}");
    let file = fs::read_to_string(&path).unwrap();
    let theirs = PrivateKey::from_openssh(&file).unwrap();
    let Kdf::Bcrypt { salt, rounds } = theirs.kdf() else {
        panic!("ssh-keygen used bcrypt-pbkdf")
    };
    assert_eq!(*rounds, 24);
    // The check number ssh-keygen chose: the first word of the encrypted part, opened with
    // keyhatch's own derivation.
    let mut key_and_iv = [0u8; 48];
    kdf::bcrypt_pbkdf(
        b"test only: 7 words",
        salt,
        *rounds,
        &mut key_and_iv,
        &|| true,
    )
    .unwrap();
    let mut first = theirs.key_data().encrypted().unwrap()[..8].to_vec();
    ctr::Ctr128BE::<aes::Aes256>::new(key_and_iv[..32].into(), key_and_iv[32..].into())
        .apply_keystream(&mut first);
    assert_eq!(first[..4], first[4..], "the two check numbers agree");
    let checkint = u32::from_be_bytes(first[..4].try_into().unwrap());

    let plain = theirs.decrypt("test only: 7 words").unwrap();
    let ours = encrypted::to_openssh(
        &plain,
        b"test only: 7 words",
        salt,
        *rounds,
        checkint,
        &|| true,
    )
    .unwrap();
    assert_eq!(
        ours.as_str(),
        file,
        "byte for byte the file ssh-keygen wrote"
    );
}

#[test]
fn ssh_keygen_opens_every_passphrase_key_keyhatch_makes() {
    let passphrases = [
        "a",
        "correct horse battery staple",
        "pässwörd ✓ 🔑",
        &"long ".repeat(60),
    ];
    let labels = [None, Some("Seqera production"), Some("ünïcode ✓")];
    for (n, passphrase) in passphrases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let label = labels[n % labels.len()].map(|l| keyhatch::ssh::Label::parse(l).unwrap());
        let pass = Passphrase::new((*passphrase).to_owned()).unwrap();
        let key = keygen::generate(&Tag::default(), label.flatten().as_ref(), Some(&pass)).unwrap();
        let path = write_key(dir.path(), &key.private_openssh);
        let opened = ssh_keygen(&["-y", "-P", passphrase, "-f", &path]);
        assert!(
            opened.status.success(),
            "passphrase #{n}: {}",
            String::from_utf8_lossy(&opened.stderr)
        );
        let opened = String::from_utf8(opened.stdout).unwrap();
        let ours = key.public.to_openssh().unwrap();
        assert_eq!(
            opened.split_whitespace().take(2).collect::<Vec<_>>(),
            ours.split_whitespace().take(2).collect::<Vec<_>>(),
            "passphrase #{n}"
        );
    }
}
