//! Properties of the store over arbitrary file contents.

use std::fs::{self, OpenOptions};
use std::io::Write;

use proptest::prelude::*;

use super::*;
use crate::ssh::testing::random_key;

const FOREIGN: &[u8] =
    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhR89a1vpaGfsAxg2eABmXevfB18j0iT9AiVMKDaCN9 by hand";

/// Pieces real files are made of, and the odd bytes that break naive tools.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\xef\xbb\xbf".to_vec()),
        1 => Just(b"\0".to_vec()),
        1 => Just(b"# fileglancer\n".to_vec()),
        2 => Just(FOREIGN.to_vec()),
        1 => Just([b"restrict,pty ", FOREIGN, b" fileglancer\n"].concat()),
        1 => (1usize..200_000).prop_map(|n| vec![b'x'; n]),
    ]
}

fn file_contents() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn add_then_revoke_restores_the_file(original in file_contents(), outside in file_contents()) {
        let home = tempfile::tempdir().unwrap();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        fs::write(store.path(), &original).unwrap();

        let (public, line) = random_key("restrict,pty", "fileglancer");
        store.append_key(&public, &line).unwrap();
        let mut expected = original.clone();
        if expected.last().is_some_and(|&b| b != b'\n') {
            expected.push(b'\n');
        }
        let mut added = expected.clone();
        added.extend_from_slice(format!("{line}\n").as_bytes());
        prop_assert_eq!(&fs::read(store.path()).unwrap(), &added);

        // Someone else appends after keyhatch's line; revoking must keep what they wrote.
        let mut file = OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(&outside).unwrap();
        drop(file);

        store.remove_key(&fingerprint(&public), &Tag::default()).unwrap();
        expected.extend_from_slice(&outside);
        prop_assert_eq!(fs::read(store.path()).unwrap(), expected);
    }
}
