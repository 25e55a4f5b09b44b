use super::*;

#[test]
fn times_are_rfc3339_utc() {
    assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
    assert_eq!(rfc3339(1_795_618_245, 999), "2026-11-25T14:50:45.999Z");
}

#[test]
fn a_line_is_one_json_object_with_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    audit.record(&Event {
        action: "revoke",
        account: "alice",
        remote: "127.0.0.1:4000",
        fingerprint: Some("SHA256:abc"),
        outcome: "ok",
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(line["action"], "revoke");
    assert_eq!(line["fingerprint"], "SHA256:abc");
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(text.lines().count(), 1);
}

/// The red team's attack: a person past `keys-per-hour` sent generates without end; each
/// refusal, which costs no work, wrote a line (5 MB in 10 seconds).
#[test]
fn one_persons_flood_of_refusals_writes_a_line_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    let refused = |account| Event {
        action: "generate",
        account,
        remote: "unix",
        fingerprint: None,
        outcome: "too many keys this hour",
    };
    for _ in 0..1000 {
        audit.record_refusal(&refused("alice"));
    }
    audit.record_refusal(&refused("bob"));
    let text = std::fs::read_to_string(&path).unwrap();
    let accounts: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["account"].to_string())
        .collect();
    assert_eq!(accounts, ["\"alice\"", "\"bob\""]);
}

/// The red team's note: a flood that stopped within its minute had its count written only
/// with a next line alike, which might never come.
#[test]
fn a_flood_that_stops_is_counted_once_its_minute_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    let refused = |remote| Event {
        action: "generate",
        account: "alice",
        remote,
        fingerprint: None,
        outcome: "too many keys this hour",
    };
    audit.record_refusal(&refused("first"));
    for _ in 0..56 {
        audit.record_refusal(&refused("between"));
    }
    audit.record_refusal(&refused("last"));
    let lines = |path: &Path| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    audit.write_ended_minutes();
    assert_eq!(lines(&path).len(), 1, "the minute is not over");
    let over = Instant::now() + throttle::EVERY;
    audit.write_ended_minutes_at(over);
    let written = lines(&path);
    assert_eq!(written.len(), 2, "{written:?}");
    // The 57 came from two addresses: the count names neither (red team: it named the last).
    assert_eq!(written[1]["remote"], "*");
    assert_eq!(written[1]["account"], "alice", "one account: named");
    assert_eq!(
        written[1]["outcome"],
        "too many keys this hour (one of 57 refused in the last minute, not written one by one)"
    );
    // Counted once: nothing more to tell a minute later, and a new line alike is written
    // as the first of its minute.
    audit.write_ended_minutes_at(over + throttle::EVERY);
    assert_eq!(lines(&path).len(), 2);
}

#[test]
fn an_administrators_line_names_the_actor_and_their_login() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    let event = Event {
        action: "admin-revoke",
        account: "alice",
        remote: "terminal",
        fingerprint: Some("SHA256:abc"),
        outcome: "ok",
    };
    audit.record_by_admin(&event, "bob\u{202e}");
    audit.record(&event);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["actor"], "admin");
    assert_eq!(lines[0]["login"], "bob\\u{202e}");
    assert!(lines[1].get("actor").is_none() && lines[1].get("login").is_none());
}

#[test]
fn a_long_or_invisible_field_is_cut_and_escaped() {
    assert!(matches!(loggable("alice"), Cow::Borrowed("alice")));
    let long = "a".repeat(64 * 1024);
    let cut = loggable(&long);
    assert_eq!(
        cut,
        format!(
            "{}… ({} more bytes)",
            "a".repeat(MAX_FIELD_CHARS),
            long.len() - MAX_FIELD_CHARS
        )
    );
    assert_eq!(loggable("al\u{2028}ice\n"), "al\\u{2028}ice\\u{000a}");
    assert_eq!(
        loggable(&"é".repeat(MAX_FIELD_CHARS)),
        "é".repeat(MAX_FIELD_CHARS)
    );
}

/// The attack: a client that is not the proxy claims a 60 KB name again and again, to fill
/// the disk the audit log is on. Each line stays short whatever it sends, and holds the
/// name's start, escaped.
#[test]
fn a_huge_claimed_name_adds_a_short_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    let claimed = format!("evil\u{202e}{}", "x".repeat(60_000));
    for _ in 0..20 {
        audit.record(&Event {
            action: "refused",
            account: &claimed,
            remote: &"9".repeat(10_000),
            fingerprint: None,
            outcome: "user header from a peer that is not the proxy",
        });
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 20 * 1024, "20 lines take {size} bytes");
    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let account = line["account"].as_str().unwrap();
    assert!(account.starts_with("evil\\u{202e}xxx"), "{account}");
    assert!(!text.contains('\u{202e}'));
}

/// Red team (helper-52): past the 4,096 names counted apart, the shared count was written
/// with the account and address of whoever came last: a person who sent 2 of 7,034 refusals
/// stood for all of them, and the senders were never named.
#[test]
fn the_count_of_names_past_those_counted_apart_blames_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    let refused = |account: &str| {
        audit.record_claimed_refusal(
            &Event {
                action: "refused",
                account,
                remote: "203.0.113.9",
                fingerprint: None,
                outcome: "foreign host",
            },
            account,
        );
    };
    for n in 0..5000 {
        refused(&format!("made-up-{n}"));
    }
    refused("victim");
    refused("victim");
    audit.write_unwritten_at_stop();
    let text = std::fs::read_to_string(&path).unwrap();
    let counts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["outcome"].as_str().unwrap().contains("one of"))
        .collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts[0]["account"], "*");
    assert_eq!(counts[0]["remote"], "*");
    assert_eq!(
        counts[0]["outcome"],
        "from more names than the 4096 counted apart (one of 905 refused in the last minute, not written one by one)"
    );
    assert!(
        !text.lines().any(|l| l.contains("victim")),
        "victim's two refusals were counted among the rest, never named for them"
    );
}

/// Red team (helper-53): the table kept each name whole, so 1,059 names of 50 KB took 50 MB.
/// Only a name's first 256 bytes are kept to count against.
#[test]
fn only_the_start_of_a_long_name_is_kept_to_count_against() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let audit = Audit::to_file(&path).unwrap();
    for n in 0..10 {
        let name = format!("{}{n}", "é".repeat(25_000));
        let event = Event {
            action: "refused",
            account: &name,
            remote: "unix",
            fingerprint: None,
            outcome: "foreign host",
        };
        audit.record_claimed_refusal(&event, &name);
    }
    let kept: usize = audit.throttle.lock().unwrap().kept_bytes();
    assert!(kept < 1024, "{kept} bytes kept");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "one name's start, one line");
}
