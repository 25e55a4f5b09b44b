//! Site mode against a signed-in person who wants another person's keys, or wants to stop
//! everyone's service: each test mounts the attack through the real binary.

// Accounts and names (helper C).

use crate::helpers::{Account, SiteStack};

/// The attack: a proxy login named `nobody` (the overflow uid 65534, the owner the kernel shows
/// for every uid it cannot map on NFS) is served like a person, writing keys into a home that
/// stands for everyone the system cannot map.
#[test]
fn the_overflow_account_nobody_is_not_served() {
    let stack = SiteStack::start(&["nobody"], &[]);
    for reply in [
        stack.get("nobody", "/api/keys/list"),
        stack.post("nobody", "/api/keys/generate", "{}"),
    ] {
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(reply.body.contains("overflow account"), "{}", reply.body);
    }
}

/// A site that sets `max-uid` serves nobody above it, with a page that says so.
#[test]
fn an_account_above_max_uid_is_not_served() {
    let alice = Account::create_person();
    let below = (alice.uid - 1).to_string();
    let stack = SiteStack::start(&[&alice.name], &["--min-uid", "1000", "--max-uid", &below]);
    let reply = stack.get(&alice.name, "/api/keys/list");
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("above the highest uid"),
        "{}",
        reply.body
    );
}

/// The attack: labels with characters that break the line in an editor or hide in it (U+2028,
/// U+2029, U+061C, U+00AD, U+3164, U+2060), so a key looks like another or a line looks like
/// two. Each is refused with a 400, and nothing is written.
#[test]
fn labels_with_invisible_or_line_breaking_characters_are_refused_and_write_nothing() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    for c in [
        '\u{2028}', '\u{2029}', '\u{061c}', '\u{00ad}', '\u{3164}', '\u{2060}',
    ] {
        let body = serde_json::json!({ "label": format!("Seqera{c}prod") }).to_string();
        let reply = stack.post(&alice.name, "/api/keys/generate", &body);
        // A failure never prints an answer that holds a private key.
        let shown = if reply.body.contains("PRIVATE KEY") {
            "a new key"
        } else {
            &reply.body
        };
        assert_eq!(reply.status, 400, "U+{:04X}: {shown}", u32::from(c));
        assert!(
            reply.body.contains(&format!("U+{:04X}", u32::from(c))),
            "{shown}"
        );
    }
    assert!(!alice.home().join(".ssh").exists());
}

/// The attack: a signed-in person sends their own `X-Forwarded-User` (twice, naming bob) along
/// with their login, hoping keyhatch reads theirs. The proxy sets the header from the login.
#[test]
fn a_client_header_naming_another_person_is_replaced_by_the_proxys() {
    let alice = Account::create_person();
    let bob = Account::create_person();
    let stack = SiteStack::start(&[&alice.name, &bob.name], &[]);
    let reply = stack.get_with(
        &alice.name,
        "/api/account",
        &[
            ("X-Forwarded-User", &bob.name),
            ("x-forwarded-user", &bob.name),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["user"], alice.name.as_str());
}
