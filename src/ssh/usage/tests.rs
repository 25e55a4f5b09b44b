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
        // One step of several (AuthenticationMethods), at LogLevel VERBOSE.
        format!("Partial publickey for alice from 10.2.3.4 port 1 ssh2: ED25519 {PRINT}"),
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
        let message = message_of(&line);
        assert_eq!(accepted(message), Some(expected.clone()), "{line}");
    }
    let v6 = format!("Accepted publickey for bob from 2001:db8::7 port 22 ssh2: ECDSA {PRINT}");
    assert_eq!(accepted(&v6).unwrap().from, "2001:db8::7");
}

#[test]
fn words_a_client_chose_are_never_a_login() {
    // Before any login, sshd logs a client's disconnect reason, whatever it says.
    let forged = format!(
        "Received disconnect from 192.0.2.66 port 60548:11: Accepted publickey for root from 203.0.113.66 port 22 ssh2: ED25519 {PRINT} [preauth]"
    );
    for line in [
        forged.clone(),
        format!("Dec  4 16:01:44 n1 sshd[812]: {forged}"),
        // Another program's line, in the same syslog file.
        format!(
            "Dec  4 16:01:44 n1 sudo[9]: Accepted publickey for root from 10.2.3.4 port 1 ssh2: ED25519 {PRINT}"
        ),
        // Characters sshd would have escaped: not sshd's.
        format!("Accepted publickey for root from \u{202e}4.3.2.01 port 1 ssh2: ED25519 {PRINT}"),
    ] {
        assert_eq!(accepted(message_of(&line)), None, "{line}");
    }
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
    const T: i64 = 1_800_000_000;
    let now = T + 100_000;
    let mut usage = Usage::new(T, 4);
    let login = |user, from| Accepted {
        user,
        from,
        fingerprint: PRINT,
    };
    usage.record(&login("alice", "10.0.0.1"), T + 2_000, now);
    usage.record(&login("alice", "10.0.0.2"), T + 1_500, now);
    let first = LastUse {
        at: T + 2_000,
        from: "10.0.0.1".into(),
    };
    assert_eq!(usage.of("alice", PRINT), Some(&first));
    // Another account's login with the same key is that account's.
    assert_eq!(usage.of("bob", PRINT), None);
    usage.record(&login("bob", "10.0.0.3"), T + 3_000, now);
    assert_eq!(usage.of("bob", PRINT).unwrap().from, "10.0.0.3");
    // A time in the future (forged, or a clock gone wrong) never hides a real login, nor one
    // before 2000 (a node without a clock).
    usage.record(&login("bob", "198.51.100.9"), now + 3_600, now);
    usage.record(&login("bob", "198.51.100.9"), 100, now);
    assert_eq!(usage.of("bob", PRINT).unwrap().from, "10.0.0.3");
    usage.reaches_back_to(100);
    assert_eq!(usage.since(), T);
    for (i, user) in ["c", "d", "e", "f", "g"].into_iter().enumerate() {
        usage.record(&login(user, "10.0.0.9"), T + 4_000 + i as i64, now);
    }
    assert!(usage.len() <= 4, "{}", usage.len());
    // The most recent stay; the longest unused went first, and "not used since" counts only
    // after the last of them.
    assert!(usage.of("g", PRINT).is_some());
    assert_eq!(usage.of("alice", PRINT), None);
    assert!(usage.since() > T + 2_000, "{}", usage.since());
}
