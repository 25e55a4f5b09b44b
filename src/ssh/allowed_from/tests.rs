//! Pattern lists as a person types them, as sshd reads them, and combined.

use super::pattern::wildmatch;
use super::*;

fn list(text: &str) -> AllowedFrom {
    AllowedFrom::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn refused(text: &str) -> String {
    AllowedFrom::parse(text).unwrap_err().to_string()
}

#[test]
fn addresses_networks_and_host_patterns_are_written_as_sshd_reads_them() {
    let from = list(" 10.1.0.0/16, 192.0.2.7\t*.Example.ORG  !10.1.0.9,2001:db8::/32 10.2.*");
    assert_eq!(
        from.option(),
        r#"from="10.1.0.0/16,192.0.2.7,*.example.org,2001:db8::/32,10.2.*,!10.1.0.9""#
    );
    assert!(from.names_hosts());
    assert!(!list("10.1.0.0/16,10.2.*,fe80::*").names_hosts());
    // The same pattern twice is written once.
    assert_eq!(list("10.0.0.1,10.0.0.1").to_string(), "10.0.0.1");
}

#[test]
fn what_sshd_would_not_take_is_refused_with_a_sentence() {
    for (text, says) in [
        ("10.1.2.3/16", "the network is 10.1.0.0/16"),
        ("10.0.0.0/33", "prefix longer than 32 bits"),
        ("10.0.0.0/x", "not an address and prefix length"),
        ("10.1", "not an address keyhatch can read"),
        ("010.1.2.3", "not an address keyhatch can read"),
        ("!", "! must be followed by one"),
        ("host\"x", "holds '\"'"),
        ("fe80::1%eth0", "holds '%'"),
        ("a=b", "holds '='"),
        // Forms sshd's getaddrinfo reads as addresses while keyhatch would match them as text.
        ("127.0.0.0x2", "short, hexadecimal or octal form"),
        ("0x7f.0.0.1", "short, hexadecimal or octal form"),
        ("0x7f000001", "short, hexadecimal or octal form"),
        ("0177.0.0.01", "short, hexadecimal or octal form"),
        ("fe80::zz", "not an IPv6 address"),
        // sshd matches an IPv4 client as IPv4: a mapped address never matches.
        ("::ffff:127.0.0.2", "write the IPv4 address"),
        ("::ffff:0:0/96", "write the IPv4 address"),
        // Everything it lets in, it also keeps out.
        ("127.0.0.2 !127.0.0.2", "keeps out every address it allows"),
        (
            "127.0.0.0/24 !127.0.0.0/8",
            "keeps out every address it allows",
        ),
        ("!10.0.0.1", "at least one address"),
        ("", "at least one address"),
    ] {
        let message = refused(text);
        assert!(message.contains(says), "{text:?}: {message}");
    }
    let long = vec!["10.0.0.1"; 200].join(" ");
    assert_eq!(list(&long).to_string(), "10.0.0.1");
    let many: Vec<String> = (0..200).map(|i| format!("10.0.{i}.1")).collect();
    assert!(refused(&many.join(",")).contains("longer than the 1024 characters"));
}

#[test]
fn a_huge_list_is_refused_at_its_first_pattern_past_the_bound() {
    // Two megabytes of distinct patterns: read one by one, each compared with those before,
    // this would be billions of comparisons; it stops after a thousand characters.
    let huge: String = (0..200_000u32)
        .map(|i| format!("10.{}.{}.{} ", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    assert!(huge.len() > 2_000_000);
    assert!(refused(&huge).contains("longer than the 1024 characters"));
}

#[test]
fn wildcards_match_as_sshd_matches_them() {
    assert!(wildmatch("10.0.0.*", "10.0.0.17"));
    assert!(wildmatch("*.example.org", "a.b.example.org"));
    assert!(wildmatch("10.?.0.1", "10.5.0.1"));
    assert!(!wildmatch("10.?.0.1", "10.55.0.1"));
    assert!(wildmatch("*", ""));
    assert!(!wildmatch("*.example.org", "example.org"));
    assert!(wildmatch("a*b*c", "aXbYbZc"));
}

#[test]
fn a_combined_list_allows_only_what_both_allow() {
    let site = list("10.0.0.0/8, 192.0.2.0/24, !10.9.9.9");
    let cases = [
        // Narrower than the site's: kept.
        ("10.1.0.0/16", "10.1.0.0/16,!10.9.9.9"),
        // Wider: the site's own.
        ("0.0.0.0/0", "10.0.0.0/8,192.0.2.0/24,!10.9.9.9"),
        ("*", "10.0.0.0/8,192.0.2.0/24,!10.9.9.9"),
        // Partly outside: only what lies inside is kept.
        ("10.2.3.4, 172.16.0.1", "10.2.3.4,!10.9.9.9"),
        // An address pattern that matches one address of the site's.
        ("192.0.2.7 !10.1.1.1", "192.0.2.7,!10.1.1.1,!10.9.9.9"),
    ];
    for (mine, combined) in cases {
        assert_eq!(
            list(mine).within(&site, "the site's").unwrap().to_string(),
            combined,
            "{mine}"
        );
    }
    let single = list("192.0.2.7");
    assert_eq!(
        list("192.0.2.*")
            .within(&single, "one")
            .unwrap()
            .to_string(),
        "192.0.2.7"
    );
    assert_eq!(
        list("*.example.org")
            .within(&list("ci.example.org"), "one")
            .unwrap()
            .to_string(),
        "ci.example.org"
    );
}

#[test]
fn lists_that_cannot_be_combined_are_refused_never_widened() {
    let site = list("10.0.0.0/8");
    let none = list("172.16.0.0/12")
        .within(&site, "the site's")
        .unwrap_err()
        .to_string();
    assert!(none.contains("none of 172.16.0.0/12 lies within"), "{none}");
    let unknown = list("10.1.*")
        .within(&site, "the site's")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("10.1.* cannot be combined with 10.0.0.0/8 (the site's)"),
        "{unknown}"
    );
    // A host name beside a network is left out, so the list lets in less, never more.
    assert!(list("*.example.org").within(&site, "the site's").is_err());
    assert_eq!(
        list("*.example.org, 10.3.0.0/16")
            .within(&site, "the site's")
            .unwrap()
            .to_string(),
        "10.3.0.0/16"
    );
    // IPv6 never lies within IPv4.
    assert!(list("2001:db8::/32").within(&site, "the site's").is_err());
}

#[test]
fn the_from_of_an_options_field_is_read_and_two_are_refused() {
    let options = br#"restrict,FROM="10.0.0.0/8,!10.0.0.1",pty"#;
    assert_eq!(
        AllowedFrom::of_options(options).unwrap().unwrap(),
        list("10.0.0.0/8 !10.0.0.1")
    );
    assert!(AllowedFrom::of_options(b"restrict,pty").is_none());
    let two = AllowedFrom::of_options(br#"from="10.0.0.1",from="10.0.0.2""#).unwrap();
    assert!(two.unwrap_err().to_string().contains("two from= options"));
    assert!(AllowedFrom::of_options(br#"from="a\"b""#).unwrap().is_err());
    // Typed by a person, capitals are lowered; in a line, sshd never matches them, so they are
    // not read as matching anything.
    assert_eq!(list("*.Example.ORG").to_string(), "*.example.org");
    let capitals = AllowedFrom::of_options(br#"from="*.EXAMPLE.org""#).unwrap();
    assert!(capitals.unwrap_err().to_string().contains("capitals"));
    // In a line, a blank is part of the pattern beside it, which sshd then never matches:
    // read without it, the pattern would match, and a rewrite would let the key in there.
    for blank in [
        &br#"from="10.9.0.0/16, 127.0.0.1""#[..],
        br#"from="127.0.0.1 ,10.9.0.0/16""#,
    ] {
        let read = AllowedFrom::of_options(blank).unwrap();
        assert!(read.unwrap_err().to_string().contains("has blanks in it"));
    }
}
