//! The options a replacement key gets.

use super::*;

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::new(y, m, d).unwrap()
}

fn today() -> Date {
    date(2026, 12, 4)
}

fn site(options: &str) -> KeyOptions {
    KeyOptions::parse(options).unwrap()
}

fn successor(old: &str, site_options: &str, days: Option<u32>) -> Result<String, Refused> {
    let lifetime = days.map(|d| Lifetime::days(d).unwrap());
    successor_options(old.as_bytes(), &site(site_options), lifetime, today())
        .map(|o| o.as_str().to_owned())
}

#[test]
fn a_replacement_keeps_the_old_keys_options_its_addresses_and_its_last_day() {
    assert_eq!(
        successor(
            r#"restrict,pty,from="10.1.0.0/16,!10.1.0.9",expiry-time="20270301""#,
            "restrict,pty",
            None
        )
        .unwrap(),
        r#"restrict,pty,from="10.1.0.0/16,!10.1.0.9",expiry-time="20270301""#
    );
    assert_eq!(
        successor("restrict,pty", "restrict,pty", None).unwrap(),
        "restrict,pty"
    );
}

#[test]
fn a_lifetime_given_counts_from_today_in_place_of_the_old_last_day() {
    assert_eq!(
        successor(r#"restrict,expiry-time="20270301""#, "restrict", Some(30)).unwrap(),
        r#"restrict,expiry-time="20270103""#
    );
    assert_eq!(
        successor("restrict", "restrict", Some(90)).unwrap(),
        r#"restrict,expiry-time="20270304""#
    );
}

#[test]
fn what_the_site_requires_now_is_added_and_its_from_combined_never_widened() {
    // The site has since added an option and a from=: both bind the new key.
    let new = successor(
        r#"restrict,from="10.1.2.0/24""#,
        r#"restrict,no-agent-forwarding,from="10.0.0.0/8""#,
        None,
    )
    .unwrap();
    assert_eq!(new, r#"restrict,no-agent-forwarding,from="10.1.2.0/24""#);
    // A key with no from= gets the site's.
    assert_eq!(
        successor("restrict", r#"restrict,from="10.0.0.0/8""#, None).unwrap(),
        r#"restrict,from="10.0.0.0/8""#
    );
    // An old from= outside the site's: refused, never widened to the site's.
    let refused = successor(
        r#"restrict,from="192.168.0.0/16""#,
        r#"restrict,from="10.0.0.0/8""#,
        None,
    )
    .unwrap_err();
    assert!(refused.0.contains("none of 192.168.0.0/16"), "{refused}");
}

#[test]
fn a_site_expiry_time_still_applies_and_the_old_ones_are_not_kept_beside_a_new_lifetime() {
    let new = successor(
        r#"restrict,expiry-time="20300101",expiry-time="20270301""#,
        r#"restrict,expiry-time="20300101""#,
        Some(30),
    )
    .unwrap();
    assert_eq!(
        new,
        r#"restrict,expiry-time="20300101",expiry-time="20270103""#
    );
}

#[test]
fn options_that_widen_go_unless_the_site_gives_them_and_narrowing_ones_stay_after_its() {
    for (old, site_options, successor_is) in [
        // The person's own edit that undoes the site's restrict does not survive.
        (
            "restrict,port-forwarding,pty",
            "restrict,pty",
            "restrict,pty",
        ),
        (
            "restrict,agent-forwarding,cert-authority",
            "restrict",
            "restrict",
        ),
        // Narrowing options apply after the site's: still no terminal, as before.
        (
            "no-pty,no-port-forwarding",
            "restrict,pty",
            "restrict,pty,no-pty,no-port-forwarding",
        ),
        (
            r#"restrict,command="/usr/bin/rrsync -ro /data",pty"#,
            "restrict,pty",
            r#"restrict,pty,command="/usr/bin/rrsync -ro /data""#,
        ),
        // What the site allows now, it allows the new key.
        ("pty", "restrict,pty", "restrict,pty"),
    ] {
        assert_eq!(
            successor(old, site_options, None).unwrap(),
            successor_is,
            "{old}"
        );
    }
}

#[test]
fn an_expiry_time_the_site_has_added_since_binds_a_key_that_never_expired() {
    assert_eq!(
        successor("restrict", r#"restrict,expiry-time="20300101""#, None).unwrap(),
        r#"restrict,expiry-time="20300101""#
    );
}

#[test]
fn an_expired_key_or_one_that_ends_today_needs_a_lifetime_of_its_own() {
    for old in [
        r#"expiry-time="20261204""#,
        r#"expiry-time="20250101""#,
        // 02:00 UTC can be before midnight of the 5th in the node's zone.
        r#"expiry-time="202612050200Z""#,
    ] {
        let refused = successor(old, "", None).unwrap_err();
        assert!(
            refused.0.contains("choose how many days"),
            "{old}: {refused}"
        );
        assert!(successor(old, "", Some(30)).is_ok(), "{old}");
    }
    // 14:00 UTC on the 5th is after the start of the 5th everywhere.
    assert_eq!(
        successor(r#"expiry-time="202612051400Z""#, "", None).unwrap(),
        r#"expiry-time="20261205""#
    );
}

#[test]
fn a_line_sshd_would_skip_or_keyhatch_cannot_read_is_refused_with_a_sentence() {
    for (old, says) in [
        ("restrict,bogus", "does not know"),
        ("from=10.0.0.1", "not in quotes"),
        (r#"from="10.1.2.3/16""#, "from= cannot be read"),
        (r#"expiry-time="tomorrow""#, "cannot compare"),
    ] {
        let refused = successor(old, "", None).unwrap_err();
        assert!(refused.0.contains(says), "{old}: {refused}");
    }
}
