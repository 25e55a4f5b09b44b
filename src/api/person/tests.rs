use std::path::Path;

use super::*;
use crate::api::limits::InFlight;
use crate::model::Logout;

/// The person of a fresh home, as local mode makes them.
fn local(home: &Path) -> Person {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    let store = KeysFile::default().of(home, &user).unwrap();
    let account = Account {
        user: user.clone(),
        display_name: user,
        logout: Logout::Hidden,
    };
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    Person::local(account, uid, gid, home.to_owned(), store, Tag::default())
}

#[tokio::test]
async fn in_process_keys_are_added_listed_and_revoked_where_the_person_says() {
    let home = tempfile::tempdir().unwrap();
    let person = local(home.path()).entered().unwrap();
    assert_eq!(person.keys_file, home.path().join(".ssh/authorized_keys"));
    let brought = ssh_key::PublicKey::from_openssh(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop",
    )
    .unwrap();
    let label = Label::parse("laptop").unwrap();
    let written = person
        .keys
        .add_key(&brought, label.as_ref(), &KeyOptions::default())
        .await
        .unwrap();
    assert_eq!(written.comment(), "fileglancer laptop");
    let again = person
        .keys
        .add_key(&brought, None, &KeyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(again.status(), 409, "{again}");
    let list = person.keys.list_keys().await.unwrap();
    assert_eq!(list.keys.len(), 1);
    assert_eq!(list.path, person.keys_file.display().to_string());
    person
        .keys
        .revoke_key(&list.keys[0].fingerprint)
        .await
        .unwrap();
    assert!(person.keys.list_keys().await.unwrap().keys.is_empty());
}

#[test]
fn a_person_entered_beyond_their_limit_is_refused_until_an_operation_ends() {
    let home = tempfile::tempdir().unwrap();
    let person = Person {
        limits: Limits {
            in_flight: Some(InFlight::new(1)),
            ..Limits::none()
        },
        ..local(home.path())
    };
    let first = person.entered().unwrap();
    let held = first.keys.clone();
    drop(first);
    let err = person.entered().unwrap_err();
    assert_eq!(err.status(), 429, "{err}");
    drop(held);
    person.entered().unwrap();
}
