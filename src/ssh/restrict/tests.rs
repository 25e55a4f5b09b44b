//! Tightening a key's line in a real file.

use std::fs;

use super::*;
use crate::ssh::testing::{home_with, random_key};
use crate::ssh::{fingerprint, list_keys};

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::new(y, m, d).unwrap()
}

const TODAY: (i32, u32, u32) = (2026, 12, 4);

fn today() -> Date {
    date(TODAY.0, TODAY.1, TODAY.2)
}

fn from(text: &str) -> Tightening {
    Tightening {
        from: Some(AllowedFrom::parse(text).unwrap()),
        expires: None,
    }
}

#[test]
fn a_key_is_narrowed_in_place_and_every_other_byte_is_kept() {
    let (ours, line) = random_key(r#"restrict,expiry-time="20270301",pty"#, "fileglancer ci");
    let (_, foreign) = random_key("", "me@laptop");
    let before = format!("# mine\n{foreign}\r\n  {line}\r\nnot a key\n{foreign}x");
    let home = home_with(before.as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();
    let print = fingerprint(&ours);

    let listed = restrict_key(
        &store,
        &tag,
        &print,
        &KeyOptions::default(),
        &from("10.1.0.0/16"),
        today(),
    )
    .unwrap();
    assert_eq!(listed.allowed_from.as_deref(), Some("10.1.0.0/16"));
    let after = fs::read_to_string(home.path().join(".ssh/authorized_keys")).unwrap();
    let key_part = line.split_once(' ').unwrap().1;
    let expected = before.replace(
        &format!("  {line}"),
        &format!(r#"restrict,expiry-time="20270301",pty,from="10.1.0.0/16" {key_part}"#),
    );
    assert_eq!(after, expected);

    // Narrowed again: within what it had; a wider list keeps only what it had.
    let listed = restrict_key(
        &store,
        &tag,
        &print,
        &KeyOptions::default(),
        &from("10.1.2.0/24 0.0.0.0/0"),
        today(),
    )
    .unwrap();
    assert_eq!(
        listed.allowed_from.as_deref(),
        Some("10.1.2.0/24,10.1.0.0/16")
    );
    let listed = restrict_key(
        &store,
        &tag,
        &print,
        &KeyOptions::default(),
        &from("*"),
        today(),
    )
    .unwrap();
    assert_eq!(
        listed.allowed_from.as_deref(),
        Some("10.1.2.0/24,10.1.0.0/16")
    );
    let err = restrict_key(
        &store,
        &tag,
        &print,
        &KeyOptions::default(),
        &from("172.16.0.1"),
        today(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("none of 172.16.0.1 lies within"),
        "{err}"
    );

    // Closer expiry only, never later, never today or before.
    let closer = Tightening {
        from: None,
        expires: Some(date(2027, 1, 15)),
    };
    let listed = restrict_key(
        &store,
        &tag,
        &print,
        &KeyOptions::default(),
        &closer,
        today(),
    )
    .unwrap();
    assert_eq!(listed.expiry.unwrap().date(), date(2027, 1, 15));
    for (day, says) in [
        (date(2027, 2, 1), "already stops working on 2027-01-15"),
        (today(), "must come after today"),
    ] {
        let later = Tightening {
            from: None,
            expires: Some(day),
        };
        let err = restrict_key(
            &store,
            &tag,
            &print,
            &KeyOptions::default(),
            &later,
            today(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    let listing = list_keys(&store, &tag).unwrap();
    assert_eq!(listing.keys.len(), 1);
    assert_eq!(listing.other_keys, 2);
    assert_eq!(listing.unreadable_lines, vec![4]);
}

#[test]
fn the_sites_from_always_bounds_a_change_and_foreign_keys_are_never_touched() {
    let (ours, line) = random_key("restrict", "fileglancer");
    let (theirs, foreign) = random_key("", "fileglancerx me");
    let home = home_with(format!("{line}\n{foreign}\n").as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let tag = Tag::default();
    let site = KeyOptions::parse(r#"restrict,from="10.0.0.0/8""#).unwrap();
    let listed = restrict_key(
        &store,
        &tag,
        &fingerprint(&ours),
        &site,
        &from("0.0.0.0/0"),
        today(),
    )
    .unwrap();
    assert_eq!(listed.allowed_from.as_deref(), Some("10.0.0.0/8"));
    let before = fs::read(home.path().join(".ssh/authorized_keys")).unwrap();
    let err = restrict_key(
        &store,
        &tag,
        &fingerprint(&theirs),
        &site,
        &from("10.0.0.1"),
        today(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not"), "{err}");
    assert_eq!(
        fs::read(home.path().join(".ssh/authorized_keys")).unwrap(),
        before
    );
    let nothing = restrict_key(
        &store,
        &tag,
        &fingerprint(&ours),
        &site,
        &Tightening::default(),
        today(),
    );
    assert!(nothing.unwrap_err().to_string().contains("say where"));
}

#[test]
fn a_line_sshd_reads_otherwise_than_keyhatch_is_never_rewritten() {
    let tag = Tag::default();
    for (options, says) in [
        // A day in UTC that has passed: a later one would revive the key.
        (
            r#"restrict,expiry-time="20200101UTC""#,
            "already stops working on 2020-01-01",
        ),
        // sshd reads these expiry times; keyhatch cannot compare them, so a new day could be
        // later.
        (r#"restrict,expiry-time="2030 1 1""#, "cannot compare"),
        (r#"restrict,expiry-time="20300231""#, "cannot compare"),
        // sshd skips these lines: rewritten, they would start to work.
        ("restrict,from=127.0.0.2", "not in quotes"),
        ("restrict,bogus", "does not know"),
    ] {
        let (ours, line) = random_key(options, "fileglancer");
        let home = home_with(format!("{line}\n").as_bytes());
        let store = AuthorizedKeys::in_home(home.path());
        let before = fs::read(home.path().join(".ssh/authorized_keys")).unwrap();
        let later = Tightening {
            from: None,
            expires: Some(date(2099, 1, 1)),
        };
        let err = restrict_key(
            &store,
            &tag,
            &fingerprint(&ours),
            &KeyOptions::default(),
            &later,
            today(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(says), "{options}: {err}");
        assert_eq!(
            fs::read(home.path().join(".ssh/authorized_keys")).unwrap(),
            before,
            "{options}"
        );
    }
    // A day given in UTC: a new last day must end before it wherever the node is (a date
    // without Z is read in the node's own time zone, up to 12 hours behind UTC).
    let (ours, line) = random_key(r#"expiry-time="202701010100Z""#, "fileglancer");
    let home = home_with(format!("{line}\n").as_bytes());
    let store = AuthorizedKeys::in_home(home.path());
    let same_day = Tightening {
        from: None,
        expires: Some(date(2027, 1, 1)),
    };
    let err = restrict_key(
        &store,
        &tag,
        &fingerprint(&ours),
        &KeyOptions::default(),
        &same_day,
        today(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("only bring that closer"), "{err}");
    let day_before = Tightening {
        from: None,
        expires: Some(date(2026, 12, 31)),
    };
    restrict_key(
        &store,
        &tag,
        &fingerprint(&ours),
        &KeyOptions::default(),
        &day_before,
        today(),
    )
    .unwrap();
}

#[test]
fn site_options_with_a_from_combine_into_one_from() {
    let site = KeyOptions::parse(r#"restrict,from="10.0.0.0/8,!10.0.0.1",pty"#).unwrap();
    let options = site
        .allowing_from(&AllowedFrom::parse("10.5.0.0/16 172.16.0.1").unwrap())
        .unwrap();
    assert_eq!(
        options.as_str(),
        r#"restrict,pty,from="10.5.0.0/16,!10.0.0.1""#
    );
    assert!(KeyOptions::parse(r#"from="10.0.0.1",from="10.0.0.2""#).is_err());
    assert!(KeyOptions::parse(r#"from="10.0.0.1/8""#).is_err());
    // An expiry sshd reads but keyhatch could not compare is refused at start.
    assert!(KeyOptions::parse(r#"restrict,expiry-time="20301231UTC""#).is_ok());
    assert!(KeyOptions::parse(r#"restrict,expiry-time="2030 1 1""#).is_err());
    let plain = KeyOptions::default()
        .allowing_from(&AllowedFrom::parse("::1").unwrap())
        .unwrap();
    assert_eq!(plain.as_str(), r#"restrict,pty,from="::1""#);
}
