//! sshd's log lines as sshd, syslog and the journal write them.

use super::*;

const PRINT: &str = "SHA256:20hqiW438Iq0abof4lvTOyAOJTTnkGIqjHW4x7fSR5c";

#[test]
fn a_login_with_a_key_is_read_from_every_form_of_sshds_line() {
    let expected = Accepted {
        user: "alice",
        from: "10.2.3.4",
        fingerprint: PRINT,
    };
    for line in [
        // sshd -E FILE: no header, CRLF.
        format!("Accepted publickey for alice from 10.2.3.4 port 44773 ssh2: ED25519 {PRINT}\r"),
        // syslog, traditional and RFC 3339 headers.
        format!(
            "Dec  4 16:01:44 n1 sshd[812]: Accepted publickey for alice from 10.2.3.4 port 1 ssh2: ED25519 {PRINT}"
        ),
        format!(
            "2026-12-04T16:01:44.123456+00:00 n1 sshd-session[9]: Accepted publickey for alice from 10.2.3.4 port 1 ssh2: RSA {PRINT}"
        ),
        // A certificate: the key's own fingerprint comes first.
        format!(
            "Accepted publickey for alice from 10.2.3.4 port 1 ssh2: ED25519-CERT {PRINT} ID x (serial 1) CA ED25519 SHA256:other"
        ),
    ] {
        assert_eq!(accepted(&line), Some(expected.clone()), "{line}");
    }
    let v6 = format!("Accepted publickey for bob from 2001:db8::7 port 22 ssh2: ECDSA {PRINT}");
    assert_eq!(accepted(&v6).unwrap().from, "2001:db8::7");
}

#[test]
fn other_lines_and_mangled_fields_are_not_logins() {
    for line in [
        "Accepted password for alice from 10.2.3.4 port 1 ssh2".to_owned(),
        format!("Failed publickey for alice from 10.2.3.4 port 1 ssh2: ED25519 {PRINT}"),
        format!("Accepted publickey for  from 10.2.3.4 port 1 ssh2: ED25519 {PRINT}"),
        "Accepted publickey for alice from 10.2.3.4 port 1 ssh2: ED25519 SHA256:short".to_owned(),
        "Accepted publickey for alice from 10.2.3.4 port 1 ssh2: ED25519 MD5:aa:bb".to_owned(),
        format!("Accepted publickey for al ice from 10.2.3.4 port 1 ssh2: ED25519 {PRINT}"),
        String::new(),
    ] {
        assert_eq!(accepted(&line), None, "{line}");
    }
}

#[test]
fn an_rfc_3339_time_at_the_start_of_a_line_is_read_with_its_offset() {
    let utc = time_at_start("2026-12-04T16:01:44.123456+00:00 n1 sshd[1]: x").unwrap();
    assert_eq!(utc, 1_796_400_104);
    assert_eq!(time_at_start("2026-12-04T17:01:44+01:00 n1"), Some(utc));
    assert_eq!(time_at_start("2026-12-04T16:01:44Z"), Some(utc));
    for line in [
        "Dec  4 16:01:44 n1 sshd[1]: x",
        "Accepted publickey",
        "2026-12-04T25:00:00Z",
        "",
    ] {
        assert_eq!(time_at_start(line), None, "{line}");
    }
}

#[test]
fn the_latest_login_of_each_key_is_kept_per_account_within_the_bound() {
    let mut usage = Usage::new(1_000, 4);
    let login = |user, from| Accepted {
        user,
        from,
        fingerprint: PRINT,
    };
    usage.record(&login("alice", "10.0.0.1"), 2_000);
    usage.record(&login("alice", "10.0.0.2"), 1_500);
    assert_eq!(
        usage.of("alice", PRINT).unwrap(),
        &LastUse {
            at: 2_000,
            from: "10.0.0.1".into()
        }
    );
    // Another account's login with the same key is that account's.
    assert_eq!(usage.of("bob", PRINT), None);
    usage.record(&login("bob", "10.0.0.3"), 3_000);
    assert_eq!(usage.of("bob", PRINT).unwrap().from, "10.0.0.3");
    for (i, user) in ["c", "d", "e", "f", "g"].into_iter().enumerate() {
        usage.record(&login(user, "10.0.0.9"), 4_000 + i as i64);
    }
    assert!(usage.len() <= 4, "{}", usage.len());
    // The most recent stay; the longest unused went first.
    assert!(usage.of("g", PRINT).is_some());
    assert_eq!(usage.of("alice", PRINT), None);
    usage.reaches_back_to(500);
    assert_eq!(usage.since(), 500);
}
