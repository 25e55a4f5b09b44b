//! Appending a key's successor: under the lock, only while the old key is there as read.

use std::fs;

use super::*;
use crate::ssh::fingerprint;
use crate::ssh::store::AuthorizedKeys;
use crate::ssh::testing::{home_with, random_key};

fn tag() -> Tag {
    Tag::default()
}

#[test]
fn at_the_cap_a_key_can_be_replaced_once_and_the_file_holds_one_more_at_most() {
    let (old, old_line) = random_key("restrict", "fileglancer ci");
    let (_, other) = random_key("restrict", "fileglancer other");
    let home = home_with(format!("{old_line}\n{other}\n").as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let (tag, print) = (tag(), fingerprint(&old));
    let cap = Some((&tag, 2));
    let replacing = Replacing {
        fingerprint: &print,
        tag: &tag,
        options: b"restrict",
    };
    let (_, new_line) = random_key("restrict", "fileglancer ci");
    // A plain new key is refused at the cap; the successor is not.
    assert!(matches!(
        store.append_new_key_within(&new_line, cap),
        Err(StoreError::TooManyKeys(2))
    ));
    store.append_successor(&new_line, &replacing, cap).unwrap();
    let after = fs::read_to_string(store.path()).unwrap();
    assert_eq!(after, format!("{old_line}\n{other}\n{new_line}\n"));
    // Replacing the same old key again would make two more: refused.
    let (_, third) = random_key("restrict", "fileglancer ci");
    let err = store.append_successor(&third, &replacing, cap).unwrap_err();
    assert!(matches!(err, StoreError::TooManyKeys(2)), "{err}");
    assert_eq!(fs::read_to_string(store.path()).unwrap(), after);
}

#[test]
fn a_key_gone_changed_or_not_keyhatchs_is_not_replaced_and_nothing_is_written() {
    let (old, old_line) = random_key("restrict", "fileglancer ci");
    let (foreign, foreign_line) = random_key("restrict", "me@laptop");
    let before = format!("{old_line}\n{foreign_line}\n");
    let home = home_with(before.as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let tag = tag();
    let (print, foreign_print) = (fingerprint(&old), fingerprint(&foreign));
    let (_, new_line) = random_key("restrict", "fileglancer ci");
    let cases = [
        (print.as_str(), &b"restrict,pty"[..], "changed while"),
        (foreign_print.as_str(), &b"restrict"[..], "did not write"),
        (
            "SHA256:nothere",
            &b"restrict"[..],
            "no key with fingerprint",
        ),
    ];
    for (fingerprint, options, says) in cases {
        let replacing = Replacing {
            fingerprint,
            tag: &tag,
            options,
        };
        let err = store
            .append_successor(&new_line, &replacing, None)
            .unwrap_err();
        assert!(err.to_string().contains(says), "{fingerprint}: {err}");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), before);
    }
}
