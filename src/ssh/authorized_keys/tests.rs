use super::*;

#[test]
fn a_nul_ends_the_line_as_sshd_reads_it() {
    let (_, line) = crate::ssh::testing::random_key("", "fileglancer hidden");
    let bare = line
        .rsplit_once(' ')
        .unwrap()
        .0
        .rsplit_once(' ')
        .unwrap()
        .0
        .to_owned();
    let hidden = format!("{bare}\0 fileglancer hidden\n");
    let parsed = parse(hidden.as_bytes());
    assert!(
        parsed.unreadable.is_empty(),
        "sshd reads the key before the NUL"
    );
    assert_eq!(parsed.keys.len(), 1);
    assert!(parsed.keys[0].comment.is_empty());
    assert!(!parsed.keys[0].is_tagged(&Tag::default()));
}
use crate::ssh::testing::{MIXED, MIXED_FINGERPRINTS};

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhR89a1vpaGfsAxg2eABmXevfB18j0iT9AiVMKDaCN9";

fn key(line: &str) -> KeyLine<'_> {
    match parse_line(1, line.as_bytes()) {
        Line::Key(key) => key,
        other => panic!("expected a key in {line:?}, got {other:?}"),
    }
}

fn tag(s: &str) -> Tag {
    Tag::parse(s).unwrap()
}

#[test]
fn runs_of_lines_are_the_files_lines_in_order_with_their_numbers() {
    let numbered = |lines: Vec<(usize, Line<'_>)>| -> Vec<(usize, String)> {
        lines
            .into_iter()
            .map(|(number, line)| match line {
                Line::Key(key) => (number, key.fingerprint()),
                other => (number, format!("{other:?}")),
            })
            .collect()
    };
    let twice = [MIXED, MIXED].join(&b'\n');
    for contents in [
        &b""[..],
        b"\n",
        b"\n\n\n",
        b"no newline at all",
        MIXED,
        &twice,
        &[MIXED, b"\n"].concat(),
        &[MIXED, b"\r\n\n#\n"].concat(),
    ] {
        let whole = numbered(classify(1, contents).collect());
        for parts in 0..8 {
            let runs = runs_of_lines(contents, parts);
            assert!(
                runs.len() <= parts.max(1),
                "{parts} parts: {} runs",
                runs.len()
            );
            assert_eq!(
                runs.iter()
                    .map(|(_, run)| *run)
                    .collect::<Vec<_>>()
                    .concat(),
                contents
            );
            assert!(runs.iter().all(|(_, run)| !run.is_empty()));
            let read = runs
                .iter()
                .flat_map(|&(first, run)| classify(first, run))
                .collect();
            assert_eq!(numbered(read), whole, "{parts} parts of {contents:?}");
        }
    }
}

#[test]
fn a_key_too_large_for_the_stack_buffer_is_read_all_the_same() {
    // An 8192-bit RSA key from ssh-keygen: a 1,045-byte blob, decoded on the heap.
    let pub_file = include_str!("../../../tests/fixtures/public-keys/rsa-8192.pub").trim_end();
    let line = format!("restrict {pub_file}");
    let k = key(&line);
    assert_eq!(k.options, b"restrict");
    assert_eq!(k.public_line(), pub_file);
    assert_eq!(
        k.fingerprint(),
        include_str!("../../../tests/fixtures/public-keys/rsa-8192.fingerprint").trim_end()
    );
    // With white space sshd skips inside its base64, it is the same key (red team: a key too
    // long for the stack was then called unreadable, and a copy so hidden went unseen).
    let (head, tail) = line.split_at(line.len() / 2);
    for skipped in ["\x0b", "\x0c", "\r"] {
        let hidden = format!("{head}{skipped}{tail}");
        assert_eq!(key(&hidden).fingerprint(), k.fingerprint(), "{skipped:?}");
        assert_eq!(key(&hidden).public_line(), pub_file);
    }
    // One character off in its base64 and it is unreadable, as for sshd.
    let broken = line.replacen("AAAA", "AA*A", 1);
    assert!(matches!(parse_line(1, broken.as_bytes()), Line::Unreadable));
}

#[test]
fn the_public_line_is_the_pub_file_ssh_keygen_wrote() {
    for pub_file in [
        include_str!("../../../tests/fixtures/public-keys/ed25519.pub"),
        include_str!("../../../tests/fixtures/public-keys/ecdsa-p521.pub"),
        include_str!("../../../tests/fixtures/public-keys/rsa-3072.pub"),
    ] {
        // Tabs between the fields, as sshd allows; the comment keeps its own blanks.
        let line = format!(
            "restrict,pty\t{}",
            pub_file.trim_end().replacen(' ', "\t", 2)
        );
        assert_eq!(key(&line).public_line(), pub_file.trim_end());
    }
}

#[test]
fn a_bare_key_has_no_options_and_its_comment() {
    let line = format!("{ED25519} alice@laptop");
    let k = key(&line);
    assert!(k.options.is_empty());
    assert_eq!(k.comment, b"alice@laptop");
}

#[test]
fn options_before_the_key_are_split_off() {
    let line = format!("restrict,pty {ED25519} fileglancer");
    let k = key(&line);
    assert_eq!(k.options, b"restrict,pty");
    assert_eq!(k.comment, b"fileglancer");
}

#[test]
fn quoted_options_may_hold_blanks_commas_and_escaped_quotes() {
    let line = format!(r#"command="echo \"a b\",c",from="10.0.0.1" {ED25519} x"#);
    let k = key(&line);
    assert_eq!(k.options, br#"command="echo \"a b\",c",from="10.0.0.1""#);
    assert_eq!(k.comment, b"x");
}

#[test]
fn an_unterminated_quote_makes_the_line_unreadable() {
    let line = format!(r#"command="oops {ED25519} x"#);
    assert!(matches!(parse_line(1, line.as_bytes()), Line::Unreadable));
}

#[test]
fn hash_is_a_comment_only_at_the_start_of_a_line() {
    assert!(matches!(parse_line(1, b"  # note"), Line::Ignored));
    let line = format!("{ED25519} build #42 key");
    assert_eq!(key(&line).comment, b"build #42 key");
}

#[test]
fn tabs_separate_fields_and_crlf_is_not_part_of_the_comment() {
    let line = format!("\trestrict\t{}\tfileglancer \r", ED25519.replace(' ', "\t"));
    let k = key(&line);
    assert_eq!(k.options, b"restrict");
    assert_eq!(k.comment, b"fileglancer");
}

#[test]
fn a_comment_that_is_not_utf8_still_parses() {
    let mut line = format!("{ED25519} caf").into_bytes();
    line.push(0xe9);
    let Line::Key(k) = parse_line(1, &line) else {
        panic!("not a key")
    };
    assert_eq!(k.comment_lossy(), "caf\u{fffd}");
}

#[test]
fn a_key_type_that_does_not_match_the_blob_is_unreadable() {
    let line = ED25519.replace("ssh-ed25519", "ssh-rsa");
    assert!(matches!(parse_line(1, line.as_bytes()), Line::Unreadable));
}

#[test]
fn a_blob_with_bytes_after_the_key_or_cut_short_is_unreadable_as_for_ssh_keygen() {
    // Made from ED25519's blob plus four zero bytes, and less its last three; `ssh-keygen -lf`
    // reads neither.
    let trailing =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhR89a1vpaGfsAxg2eABmXevfB18j0iT9AiVMKDaCN9AAAAAA==";
    let truncated = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhR89a1vpaGfsAxg2eABmXevfB18j0iT9AiVMKD";
    for line in [trailing, truncated] {
        assert!(
            matches!(parse_line(1, line.as_bytes()), Line::Unreadable),
            "{line}"
        );
    }
}

#[test]
fn garbage_is_unreadable_not_an_error() {
    assert!(matches!(
        parse_line(1, b"not a key at all"),
        Line::Unreadable
    ));
    assert!(matches!(
        parse_line(1, b"ssh-ed25519 !!!"),
        Line::Unreadable
    ));
}

#[test]
fn the_tag_must_be_the_first_word_of_the_comment_exactly() {
    let t = tag("fileglancer");
    assert!(key(&format!("{ED25519} fileglancer")).is_tagged(&t));
    assert!(key(&format!("{ED25519} fileglancer made 2026-11-24")).is_tagged(&t));
    assert!(!key(&format!("{ED25519} alice@fileglancer-dev.example")).is_tagged(&t));
    assert!(!key(&format!("{ED25519} my fileglancer laptop")).is_tagged(&t));
    assert!(!key(&format!("{ED25519} fileglancer2")).is_tagged(&t));
    assert!(!key(ED25519).is_tagged(&t));
}

#[test]
fn parse_numbers_lines_and_reports_unreadable_ones() {
    let file = format!("# header\n{ED25519} a\n\nbroken line\n{ED25519} b");
    let parsed = parse(file.as_bytes());
    let numbers: Vec<_> = parsed.keys.iter().map(|k| k.number).collect();
    assert_eq!(numbers, [2, 5]);
    assert_eq!(parsed.unreadable, [4]);
}

#[test]
fn without_lines_drops_the_lines_parse_numbers_and_keeps_every_other_byte() {
    let file = format!("# header\r\n{ED25519} a\n\n{ED25519} b");
    let numbers: Vec<_> = parse(file.as_bytes())
        .keys
        .iter()
        .map(|k| k.number)
        .collect();
    assert_eq!(
        without_lines(file.as_bytes(), &numbers[..1]),
        format!("# header\r\n\n{ED25519} b").as_bytes()
    );
    assert_eq!(
        without_lines(file.as_bytes(), &numbers[1..]),
        format!("# header\r\n{ED25519} a\n\n").as_bytes()
    );
}

#[test]
fn an_empty_file_has_no_lines() {
    let parsed = parse(b"");
    assert!(parsed.keys.is_empty() && parsed.unreadable.is_empty());
}

#[test]
fn every_key_ssh_keygen_reads_is_read_with_the_same_fingerprint_in_order() {
    let parsed = parse(MIXED);
    let ours: Vec<String> = parsed.keys.iter().map(KeyLine::fingerprint).collect();
    let openssh: Vec<&str> = MIXED_FINGERPRINTS.lines().collect();
    assert_eq!(ours, openssh);
}

#[test]
fn the_lines_sshd_cannot_read_are_reported_by_number() {
    assert_eq!(parse(MIXED).unreadable, [8, 16, 17]);
}

#[test]
fn only_keys_whose_comment_starts_with_the_tag_are_tagged() {
    let parsed = parse(MIXED);
    let tagged: Vec<usize> = parsed
        .keys
        .iter()
        .filter(|k| k.is_tagged(&tag("fileglancer")))
        .map(|k| k.number)
        .collect();
    assert_eq!(tagged, [3, 11, 12, 18, 19]);
}

#[test]
fn options_and_algorithms_of_the_fixture_are_read_as_sshd_reads_them() {
    let parsed = parse(MIXED);
    let line = |n: usize| parsed.keys.iter().find(|k| k.number == n).unwrap();
    assert_eq!(
        line(6).options,
        br#"command="echo \"hi there\", ok",from="10.0.0.0/8,192.168.1.1""#
    );
    assert_eq!(line(6).key.algorithm().as_str(), "ssh-rsa");
    assert_eq!(line(7).key.algorithm().as_str(), "ecdsa-sha2-nistp256");
    assert_eq!(line(14).options, br#"cert-authority,principals="alice""#);
    assert_eq!(line(19).comment, b"fileglancer");
}

#[test]
fn a_security_key_line_is_read_with_ssh_keygens_fingerprint() {
    // Built by hand (a FIDO token makes real ones); `ssh-keygen -lf` gives this fingerprint.
    let line = "no-touch-required sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fAAAABHNzaDo= yubikey";
    let k = key(line);
    assert_eq!(k.options, b"no-touch-required");
    assert_eq!(
        k.fingerprint(),
        "SHA256:/p0CbeE3dk2SyW1OXXsThGc12ezDVD8eGw2/vtztDfk"
    );
}

#[test]
fn a_utf8_bom_makes_the_first_line_unreadable_as_it_does_for_sshd() {
    let file = format!("\u{feff}{ED25519} first\n{ED25519} second\n");
    let parsed = parse(file.as_bytes());
    assert_eq!(parsed.unreadable, [1]);
    assert_eq!(parsed.keys.len(), 1);
}

#[test]
fn a_very_long_line_is_read_whole() {
    let options = format!("command=\"{}\"", "x".repeat(100_000));
    let line = format!("{options} {ED25519} long");
    let k = key(&line);
    assert_eq!(k.options.len(), options.len());
    assert_eq!(k.comment, b"long");
}

#[test]
fn white_space_sshd_skips_inside_the_base64_is_skipped_and_no_other_byte_is() {
    let plain = format!("{ED25519} fileglancer copy");
    let Line::Key(plain_key) = parse_line(1, plain.as_bytes()) else {
        panic!("not a key")
    };
    let (kind, blob) = ED25519.split_once(' ').unwrap();
    let comment = "fileglancer copy";
    for skipped in ["\x0b", "\x0c", "\r", "\r\x0b\x0c"] {
        for at in [1, 30, blob.len() - 1, blob.len()] {
            let line = format!("{kind} {}{skipped}{} {comment}", &blob[..at], &blob[at..]);
            let Line::Key(copy) = parse_line(1, line.as_bytes()) else {
                panic!("{line:?}: sshd reads this copy")
            };
            assert_eq!(copy.fingerprint(), plain_key.fingerprint(), "{line:?}");
            assert_eq!(
                copy.public_line(),
                plain,
                "{line:?}: shown without the white space"
            );
        }
    }
    // sshd's decoder takes no other byte in the field.
    for other in ["\x1c", "\x00x", "\u{a0}", "*"] {
        let line = format!("{kind} {}{other}{} {comment}", &blob[..30], &blob[30..]);
        assert!(
            matches!(parse_line(1, line.as_bytes()), Line::Unreadable),
            "{line:?}"
        );
    }
}
