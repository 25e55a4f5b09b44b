use super::*;

fn key() -> ssh_key::PublicKey {
    ssh_key::PublicKey::from_openssh(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl fileglancer laptop",
    )
    .unwrap()
}

#[test]
fn an_operation_crosses_to_a_helper_and_back_as_the_same_values() {
    let op = AppendKey {
        key: key(),
        options: KeyOptions::parse("restrict,pty,expiry-time=\"20270101\"").unwrap(),
        cap: Some(Cap {
            tag: Tag::parse("fileglancer").unwrap(),
            max: 3,
        }),
        new: true,
        replacing: Some(Replaced {
            fingerprint: "SHA256:old".into(),
            tag: Tag::parse("fileglancer").unwrap(),
            options: "restrict,from=\"10.0.0.0/8\"".into(),
        }),
    };
    let text = serde_json::to_string(&Op::from(op.clone())).unwrap();
    let Op::AppendKey(back) = serde_json::from_str::<Op>(&text).unwrap() else {
        panic!("another operation came back: {text}");
    };
    assert_eq!(back.key, op.key);
    assert_eq!(back.options, op.options);
    let cap = back.cap.unwrap();
    assert_eq!((cap.tag, cap.max), (Tag::parse("fileglancer").unwrap(), 3));
    assert!(back.new);
    let old = back.replacing.unwrap();
    assert_eq!(
        (old.fingerprint.as_str(), old.options.as_str()),
        ("SHA256:old", "restrict,from=\"10.0.0.0/8\"")
    );
}

#[test]
fn a_restriction_crosses_to_a_helper_as_the_same_patterns() {
    let op = RestrictKey {
        fingerprint: "SHA256:x".into(),
        tag: Tag::default(),
        required: KeyOptions::parse(r#"restrict,from="10.0.0.0/8""#).unwrap(),
        from: Some(AllowedFrom::parse("10.1.0.0/16 !10.1.0.9 *.example.org").unwrap()),
        expires: Some(20_000),
        today: 19_000,
    };
    let text = serde_json::to_string(&Op::from(op.clone())).unwrap();
    let Op::RestrictKey(back) = serde_json::from_str::<Op>(&text).unwrap() else {
        panic!("another operation came back: {text}");
    };
    assert_eq!(back.from, op.from);
    assert_eq!(back.required, op.required);
    assert_eq!((back.expires, back.today), (Some(20_000), 19_000));
}

#[test]
fn a_job_as_earlier_versions_wrote_it_still_reads() {
    let op: Op = serde_json::from_str(r#"{"ListKeys":{"tag":"fileglancer"}}"#).unwrap();
    assert!(matches!(op, Op::ListKeys(ListKeys { tag }) if tag.as_str() == "fileglancer"));
}

#[test]
fn a_tag_options_or_key_that_would_not_parse_does_not_cross() {
    for bad in [
        r#"{"ListKeys":{"tag":"two words"}}"#,
        r##"{"RevokeKey":{"fingerprint":"SHA256:x","tag":"#hash"}}"##,
        r#"{"AppendKey":{"key":"not a key","options":"","cap":null,"new":true}}"#,
        r#"{"AppendKey":{"key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x","options":"restrict pty","cap":null,"new":true}}"#,
        // A from= sshd would read as a refusal from everywhere, or that would break the line.
        r#"{"RestrictKey":{"fingerprint":"SHA256:x","tag":"t","required":"","from":"10.0.0.1/8","expires":null,"today":1}}"#,
        r#"{"RestrictKey":{"fingerprint":"SHA256:x","tag":"t","required":"","from":"10.0.0.1\" x","expires":null,"today":1}}"#,
        r#"{"RestrictKey":{"fingerprint":"SHA256:x","tag":"t","required":"from=\"1.2.3.4\",from=\"1.2.3.5\"","from":null,"expires":null,"today":1}}"#,
    ] {
        assert!(serde_json::from_str::<Op>(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_line_break_in_the_comment_is_never_appended() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        AuthorizedKeys::at(dir.path(), std::path::Path::new(".ssh/authorized_keys")).unwrap();
    let op = AppendKey {
        key: keygen::with_comment(&key(), "fileglancer\nssh-ed25519 AAAA planted"),
        options: KeyOptions::default(),
        cap: None,
        new: true,
        replacing: None,
    };
    let err = op.run(&store, nix::unistd::getuid().as_raw()).unwrap_err();
    assert!(err.to_string().contains("one line at a time"), "{err}");
    assert!(!dir.path().join(".ssh/authorized_keys").exists());
}

#[test]
fn a_removal_crosses_from_the_helper_as_the_same_values() {
    let op = RemoveKeys {
        tag: Tag::parse("fileglancer").unwrap(),
        which: Removing::Expired {
            now: 5,
            reads_utc: Some(false),
        },
        dry_run: true,
    };
    let text = serde_json::to_string(&Op::from(op)).unwrap();
    let Op::RemoveKeys(back) = serde_json::from_str(&text).unwrap() else {
        panic!("another operation came back: {text}");
    };
    assert_eq!(
        back.which,
        Removing::Expired {
            now: 5,
            reads_utc: Some(false)
        }
    );
    assert!(back.dry_run);
}
