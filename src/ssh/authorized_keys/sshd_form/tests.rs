use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::super::{Line, parse_line};
use super::{put_string, string};

const ED25519: &str = include_str!("../../../../tests/fixtures/public-keys/ed25519.pub");
const RSA: &str = include_str!("../../../../tests/fixtures/public-keys/rsa-2048.pub");
const ECDSA: &str = include_str!("../../../../tests/fixtures/public-keys/ecdsa-p256.pub");

/// The fingerprint of `line` as keyhatch reads it; `None` when it reads no key there.
fn read(line: &str) -> Option<String> {
    match parse_line(1, line.as_bytes()) {
        Line::Key(key) => Some(key.fingerprint()),
        _ => None,
    }
}

/// `public`'s type and blob, decoded.
fn fields(public: &str) -> (&str, Vec<u8>) {
    let mut words = public.split_whitespace();
    let kind = words.next().unwrap();
    (kind, BASE64_STANDARD.decode(words.next().unwrap()).unwrap())
}

/// A line of `kind` with `blob`.
fn line(kind: &str, blob: &[u8]) -> String {
    format!("{kind} {} copy", BASE64_STANDARD.encode(blob))
}

/// `blob` with its first field (the key type's name) replaced by `name`.
fn renamed(blob: &[u8], name: &str) -> Vec<u8> {
    let (_, rest) = string(blob).unwrap();
    let mut out = Vec::new();
    put_string(&mut out, name.as_bytes());
    out.extend_from_slice(rest);
    out
}

#[test]
fn a_key_written_in_a_form_only_sshd_reads_is_read_as_that_key() {
    let (ed_kind, ed) = fields(ED25519);
    let (rsa_kind, rsa) = fields(RSA);
    let (ed_print, rsa_print) = (read(ED25519.trim()), read(RSA.trim()));
    assert!(ed_print.is_some() && rsa_print.is_some());
    // A plain key type's short name, in any case, inside the blob.
    for name in ["ED25519", "ed25519", "Ed25519"] {
        assert_eq!(
            read(&line(ed_kind, &renamed(&ed, name))),
            ed_print,
            "{name}"
        );
    }
    assert_eq!(read(&line(rsa_kind, &renamed(&rsa, "rsa"))), rsa_print);
    // A NUL at the end of the name, which sshd reads as a C string (red team).
    for name in ["ssh-ed25519\0", "ED25519\0"] {
        assert_eq!(
            read(&line(ed_kind, &renamed(&ed, name))),
            ed_print,
            "{name:?}"
        );
    }
    assert_eq!(
        read(&line(rsa_kind, &renamed(&rsa, "ssh-rsa\0"))),
        rsa_print
    );
    // …and of an ECDSA key's curve.
    let (ecdsa_kind, ecdsa) = fields(ECDSA);
    let (name, rest) = string(&ecdsa).unwrap();
    let (curve, point) = string(rest).unwrap();
    let mut nul_curve = Vec::new();
    put_string(&mut nul_curve, name);
    put_string(&mut nul_curve, &[curve, b"\0"].concat());
    nul_curve.extend_from_slice(point);
    assert!(read(ECDSA.trim()).is_some());
    assert_eq!(read(&line(ecdsa_kind, &nul_curve)), read(ECDSA.trim()));
    // An RSA signature algorithm's name, on the line or inside the blob.
    for name in ["rsa-sha2-256", "rsa-sha2-512"] {
        assert_eq!(read(&line(name, &rsa)), rsa_print, "{name} on the line");
        assert_eq!(
            read(&line(rsa_kind, &renamed(&rsa, name))),
            rsa_print,
            "{name} inside"
        );
    }
    // An RSA key's integers with leading zero bytes.
    let (name, rest) = string(&rsa).unwrap();
    let (e, rest) = string(rest).unwrap();
    let (n, _) = string(rest).unwrap();
    let mut padded = Vec::new();
    put_string(&mut padded, name);
    put_string(&mut padded, &[&[0, 0][..], e].concat());
    put_string(&mut padded, &[&[0][..], n].concat());
    let padded = line(rsa_kind, &padded);
    assert_eq!(read(&padded), rsa_print);
    let Line::Key(key) = parse_line(1, padded.as_bytes()) else {
        unreachable!()
    };
    assert_eq!(
        key.public_line(),
        format!(
            "{} copy",
            RSA.split(' ').take(2).collect::<Vec<_>>().join(" ")
        )
    );
}

/// Red team: `webauthn-sk-ecdsa-sha2-nistp256@openssh.com`, sshd's other name for a security
/// key's ECDSA type, on the line or inside the blob, hid a copy of such a key.
#[test]
fn a_security_keys_other_name_is_read_as_its_type() {
    let (_, ecdsa) = fields(ECDSA);
    let (_, rest) = string(&ecdsa).unwrap();
    let (sk, webauthn) = (
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    );
    let mut blob = Vec::new();
    put_string(&mut blob, sk.as_bytes());
    blob.extend_from_slice(rest);
    put_string(&mut blob, b"ssh:");
    let print = read(&line(sk, &blob));
    assert!(print.is_some());
    assert_eq!(read(&line(webauthn, &blob)), print, "on the line");
    assert_eq!(read(&line(sk, &renamed(&blob, webauthn))), print, "inside");
    assert_eq!(
        read(&line(webauthn, &renamed(&blob, webauthn))),
        print,
        "both"
    );
    // Not for another type.
    let (ed_kind, ed) = fields(ED25519);
    assert_eq!(read(&line(webauthn, &ed)), None);
    assert_eq!(read(&line(ed_kind, &renamed(&ed, webauthn))), None);
}

#[test]
fn what_sshd_refuses_stays_unreadable() {
    let (ed_kind, ed) = fields(ED25519);
    let (_, rsa) = fields(RSA);
    // A certificate's short name, a name on the line in capitals, another key type's name.
    assert_eq!(read(&line(ed_kind, &renamed(&ed, "ED25519-CERT"))), None);
    assert_eq!(read(&line("RSA", &rsa)), None);
    assert_eq!(read(&line(ed_kind, &renamed(&ed, "RSA"))), None);
    assert_eq!(read(&line("rsa-sha2-512", &ed)), None);
    // A NUL anywhere but at the end, or two.
    assert_eq!(read(&line(ed_kind, &renamed(&ed, "ssh-ed\x0025519"))), None);
    assert_eq!(read(&line(ed_kind, &renamed(&ed, "ssh-ed25519\0\0"))), None);
}
