use std::fs;
use std::path::Path;

use super::listing::{self, PARALLEL_RUN};
use super::*;

#[test]
fn a_tag_is_one_printable_word() {
    assert_eq!(Tag::parse("fileglancer").unwrap().as_str(), "fileglancer");
    assert!(Tag::parse("keyhatch@cluster").is_ok());
    for bad in ["", "two words", "tab\there", "#hash", "new\nline"] {
        assert!(Tag::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn key_options_are_one_field_or_empty() {
    for good in [
        "",
        "restrict,pty",
        r#"restrict,command="uptime -p",from="10.0.0.0/8""#,
    ] {
        assert!(KeyOptions::parse(good).is_ok(), "{good:?} refused");
    }
    for bad in [
        "restrict pty",
        r#"command="open"#,
        "restrict\n",
        "#restrict",
    ] {
        assert!(KeyOptions::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn a_keys_file_is_below_the_home_with_its_tokens_expanded() {
    let default = KeysFile::default();
    assert_eq!(
        default.below_home("alice").unwrap(),
        Path::new(".ssh/authorized_keys")
    );
    let custom = KeysFile::parse("%h/.ssh/keys/%u%%").unwrap();
    assert_eq!(
        custom.below_home("alice").unwrap(),
        Path::new(".ssh/keys/alice%")
    );
    for bad in [
        "/etc/ssh/keys/%u",
        "authorized_keys",
        "../x/authorized_keys",
        ".ssh/%x",
        "%h",
        "",
    ] {
        assert!(KeysFile::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(KeysFile::parse("keys/%u").unwrap().below_home(".."), None);
}

#[test]
fn an_expiring_key_gets_expiry_time_after_the_other_options() {
    let date = Date::new(2027, 3, 1).unwrap();
    assert_eq!(
        KeyOptions::default().expiring(date).as_str(),
        r#"restrict,pty,expiry-time="20270301""#
    );
    let none = KeyOptions::parse("").unwrap();
    assert_eq!(none.expiring(date).as_str(), r#"expiry-time="20270301""#);
    assert!(KeyOptions::parse(KeyOptions::default().expiring(date).as_str()).is_ok());
}

#[test]
fn a_large_file_read_on_several_threads_lists_as_one_read_in_order() {
    // 300 copies of the fixture: 5,700 lines, 720 KB, cut into one run per core.
    let contents = [testing::MIXED; 300].join(&b'\n');
    assert!(contents.len() > 4 * PARALLEL_RUN);
    let home = testing::home_with(&contents);
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();
    let parsed = authorized_keys::parse(&contents);
    let (ours, theirs): (Vec<_>, Vec<_>) = parsed.keys.iter().partition(|k| k.is_tagged(&tag));

    let listing = list_keys(&store, &tag).unwrap();
    assert_eq!(
        listing.keys,
        ours.iter()
            .copied()
            .map(ListedKey::from)
            .collect::<Vec<_>>()
    );
    assert_eq!(listing.other_keys, theirs.len());
    assert_eq!(listing.unreadable_lines, parsed.unreadable[..100]);
    assert_eq!(listing.unreadable_lines_not_listed, 3 * 300 - 100);

    let others = other_keys(&store, &tag).unwrap();
    assert_eq!(
        others.keys,
        theirs
            .iter()
            .take(2_000)
            .copied()
            .map(ListedKey::from)
            .collect::<Vec<_>>()
    );
    assert_eq!(others.keys_not_listed, theirs.len() - 2_000);
    assert_eq!(others.unreadable_lines, 3 * 300);
}

/// The red team's attack: a person's own file of 150,000 keys made a 178 MB page. Read in
/// several runs, a listing holds keyhatch's newest 2,000 keys, the first 2,000 others and the
/// first 100 unreadable lines' numbers, and counts the rest.
#[test]
fn a_listing_is_bounded_and_counts_what_it_leaves_out() {
    let (_, ours) = testing::random_key("", "fileglancer");
    let (_, theirs) = testing::random_key("", "me@laptop");
    let mut contents = String::new();
    let mut unreadable = Vec::new();
    for i in 0..5_000 {
        contents.push_str(&format!("{ours} k{i}\n"));
        if i % 5 < 3 {
            contents.push_str(&format!("{theirs} o{i}\n"));
        }
        if i % 33 == 0 {
            contents.push_str("not a key\n");
            unreadable.push(contents.lines().count());
        }
    }
    assert!(contents.len() > 4 * PARALLEL_RUN);
    let home = testing::home_with(contents.as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();

    let listing = list_keys(&store, &tag).unwrap();
    let labels: Vec<_> = listing
        .keys
        .iter()
        .filter_map(|k| k.label.clone())
        .collect();
    let newest: Vec<_> = (3_000..5_000).map(|i| format!("k{i}")).collect();
    assert_eq!(labels, newest);
    assert_eq!(listing.keys_not_listed, 3_000);
    assert_eq!(listing.other_keys, 3_000);
    assert_eq!(listing.unreadable_lines, unreadable[..100]);
    assert_eq!(listing.unreadable_lines_not_listed, unreadable.len() - 100);

    let others = other_keys(&store, &tag).unwrap();
    let first: Vec<_> = others.keys.iter().map(|k| k.public_line.clone()).collect();
    let expected: Vec<_> = (0..5_000)
        .filter(|i| i % 5 < 3)
        .take(2_000)
        .map(|i| format!("{theirs} o{i}"))
        .collect();
    assert_eq!(first, expected);
    assert_eq!(others.keys_not_listed, 1_000);
    assert_eq!(others.unreadable_lines, unreadable.len());
}

/// A line written by hand can be as long as the file: the keys a listing holds are bounded in
/// text too, so one 3 MiB comment, or 3,000 keys with long options, cannot make a page of it,
/// and a key too long to list is counted, not in the place of every other.
#[test]
fn a_listing_is_bounded_in_text_and_a_key_too_long_for_it_is_counted() {
    use listing::kept::KEY_TEXT_AT_MOST;

    let (_, ours) = testing::random_key("", "fileglancer");
    let huge = "x".repeat(3 << 20);
    let long = "y".repeat(KEY_TEXT_AT_MOST);
    let short: Vec<_> = (0..10).map(|i| format!("{ours} k{i}\n")).collect();
    let contents = format!(
        "{}{ours} {huge}\n{}{ours} {long}\n",
        short[..5].concat(),
        short[5..].concat()
    );
    let home = testing::home_with(contents.as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let listing = list_keys(&store, &Tag::default()).unwrap();
    let labels: Vec<_> = listing
        .keys
        .iter()
        .filter_map(|k| k.label.clone())
        .collect();
    assert_eq!(labels, (0..10).map(|i| format!("k{i}")).collect::<Vec<_>>());
    assert_eq!(listing.keys_not_listed, 2);

    let from = format!("from=\"{}\"", vec!["10.0.0.1"; 110].join(","));
    let many: String = (0..3_000)
        .map(|i| format!("{from} {ours} k{i}\n"))
        .collect();
    fs::write(store.path(), &many).unwrap();
    let listing = list_keys(&store, &Tag::default()).unwrap();
    assert_within_the_text_bound(&listing.keys);
    assert!(
        listing.keys.len() > 250,
        "{} keys listed",
        listing.keys.len()
    );
    assert_eq!(listing.keys.last().unwrap().label.as_deref(), Some("k2999"));
    assert_eq!(listing.keys.len() + listing.keys_not_listed, 3_000);

    let others: String = (0..3_000)
        .map(|i| format!("{from} {ours}x o{i}\n"))
        .collect();
    fs::write(store.path(), format!("{ours}x {long}\n{others}")).unwrap();
    let others = other_keys(&store, &Tag::default()).unwrap();
    assert_within_the_text_bound(&others.keys);
    assert!(others.keys[0].public_line.ends_with(" o0"));
    assert_eq!(others.keys.len() + others.keys_not_listed, 3_001);
}

/// Asserts that `keys`' `.pub` lines and options together fit the listing's bound on text.
fn assert_within_the_text_bound(keys: &[ListedKey]) {
    let text: usize = keys
        .iter()
        .map(|k| k.public_line.len() + k.options.len())
        .sum();
    assert!(
        text <= listing::kept::LISTED_TEXT_AT_MOST,
        "{text} bytes listed"
    );
}

#[test]
fn an_added_key_is_tagged_listed_with_its_label_and_expiry_and_refused_twice() {
    let home = testing::home_with(b"");
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();
    let (key, _) = testing::random_key("", "me@laptop");
    let label = Label::parse("laptop key").unwrap();
    let options = KeyOptions::default().expiring(Date::new(2020, 1, 1).unwrap());
    let added = add_key(&store, &key, &tag, label.as_ref(), &options).unwrap();
    assert_eq!(added.comment(), "fileglancer laptop key");

    let listing = list_keys(&store, &tag).unwrap();
    let listed = &listing.keys[0];
    assert_eq!(listed.label.as_deref(), Some("laptop key"));
    assert_eq!(listed.fingerprint, fingerprint(&key));
    assert_eq!(
        listed.expiry.unwrap().date(),
        Date::new(2020, 1, 1).unwrap()
    );
    assert!(
        listed
            .expiry
            .unwrap()
            .has_passed(std::time::SystemTime::now())
    );
    assert_eq!(listed, &ListedKey::as_written(&added, &options));
    assert!(listed.public_line.ends_with(" fileglancer laptop key"));

    // The same key under another comment is still the same key.
    let again = keygen::with_comment(&key, "someone else");
    assert!(matches!(
        add_key(&store, &again, &tag, None, &KeyOptions::default()),
        Err(Error::Store(StoreError::AlreadyPresent(_)))
    ));
    assert_eq!(list_keys(&store, &tag).unwrap().keys.len(), 1);
}

#[test]
fn a_file_listed_again_is_the_same_listing_and_any_change_to_its_bytes_is_seen() {
    let (_, a) = testing::random_key("", "fileglancer first");
    let (_, b) = testing::random_key("", "fileglancer other");
    let home = testing::home_with(format!("{a}\n{b}\n").as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();
    let first = list_keys(&store, &tag).unwrap();
    assert_eq!(first.keys.len(), 2);
    assert_eq!(list_keys(&store.clone(), &tag).unwrap(), first);

    // Another program rewrites the file to the same size within the same instant: the
    // remembered listing is not given for it.
    let file = home.path().join(".ssh/authorized_keys");
    let written = fs::metadata(&file).unwrap().modified().unwrap();
    fs::write(&file, format!("{a}\n{}\n", b.replace(" other", " again"))).unwrap();
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(written)
        .unwrap();
    let after = list_keys(&store, &tag).unwrap();
    assert_eq!(after.keys[1].label.as_deref(), Some("again"));
    assert_eq!(after.keys[0], first.keys[0]);

    // Another tag is listed for itself.
    let other = Tag::parse("other").unwrap();
    assert!(list_keys(&store, &other).unwrap().keys.is_empty());
    assert_eq!(list_keys(&store, &tag).unwrap(), after);
}

#[test]
fn other_keys_are_every_untagged_key_with_its_options_in_file_order() {
    let home = testing::home_with(testing::MIXED);
    let store = AuthorizedKeys::in_home(home.path());
    let others = other_keys(&store, &Tag::default()).unwrap();
    assert_eq!(others.unreadable_lines, 3);
    assert_eq!(others.keys.len(), 7);
    let oracle: Vec<&str> = testing::MIXED_FINGERPRINTS.lines().collect();
    for key in &others.keys {
        assert!(oracle.contains(&key.fingerprint.as_str()), "{key:?}");
    }
    let rsa = others
        .keys
        .iter()
        .find(|k| k.public_line.starts_with("ssh-rsa "))
        .unwrap();
    assert_eq!(
        rsa.options,
        r#"command="echo \"hi there\", ok",from="10.0.0.0/8,192.168.1.1""#
    );
    assert!(
        others
            .keys
            .iter()
            .any(|k| k.options.starts_with("cert-authority"))
    );
    let theirs = list_keys(&store, &Tag::default()).unwrap();
    assert_eq!(theirs.other_keys, others.keys.len());
}

#[test]
fn an_empty_passphrase_means_none() {
    assert!(Passphrase::new(String::new()).is_none());
    let p = Passphrase::new("secret".into()).unwrap();
    assert_eq!(format!("{p:?}"), "Passphrase(<redacted>)");
}
