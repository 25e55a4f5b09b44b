//! Key blobs that sshd reads but ssh-key does not, put in the one form ssh-key reads. sshd (up to
//! OpenSSH 9.x, Debian 12's among them) takes a plain key type's short name in any case inside
//! the blob (`ED25519`), an RSA signature algorithm's name (`rsa-sha2-512`) for `ssh-rsa`,
//! integers with leading zero bytes, and a NUL at the end of a name (the type's, a curve's, a
//! security key's application). A copy of a key written so still logs in (red team).

use std::borrow::Cow;

/// The short names of plain key types, as sshd matches them in any case, and the type each is
/// (`ECDSA` is named by its curve, which follows it in the blob).
const SHORT_NAMES: [(&str, &str); 6] = [
    ("ED25519", "ssh-ed25519"),
    ("ED25519-SK", "sk-ssh-ed25519@openssh.com"),
    ("ECDSA", "ecdsa-sha2-"),
    ("ECDSA-SK", "sk-ecdsa-sha2-nistp256@openssh.com"),
    ("RSA", "ssh-rsa"),
    ("DSA", "ssh-dss"),
];

/// The names sshd gives a type besides its own (its table of key types holds several for one):
/// the type each is.
const OTHER_NAMES: [(&str, &str); 3] = [
    ("rsa-sha2-256", "ssh-rsa"),
    ("rsa-sha2-512", "ssh-rsa"),
    (
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ),
];

/// The type sshd takes `name` for, where it is another name of one (red team:
/// `webauthn-sk-ecdsa-…` hid a copy of a security key).
pub(super) fn same_type(name: &[u8]) -> Option<&'static str> {
    OTHER_NAMES
        .iter()
        .find(|(other, _)| other.as_bytes() == name)
        .map(|(_, kind)| *kind)
}

/// The blob `bytes` in the form ssh-key reads, where sshd would read it as another form of the
/// same key; `None` where nothing is to be changed.
pub(super) fn canonical(bytes: &[u8]) -> Option<Vec<u8>> {
    let (name, rest) = string(bytes)?;
    let name = std::str::from_utf8(text(name)).ok()?;
    let kind: Cow<'_, str> = match name {
        _ if let Some(kind) = same_type(name.as_bytes()) => kind.into(),
        _ => match SHORT_NAMES
            .iter()
            .find(|(short, _)| name.eq_ignore_ascii_case(short))
        {
            Some((_, "ecdsa-sha2-")) => {
                let (curve, _) = string(rest)?;
                format!("ecdsa-sha2-{}", std::str::from_utf8(text(curve)).ok()?).into()
            }
            Some((_, kind)) => (*kind).into(),
            None => name.into(),
        },
    };
    let mut out = Vec::with_capacity(bytes.len());
    put_string(&mut out, kind.as_bytes());
    match &*kind {
        // Every field after the name is an integer.
        "ssh-rsa" | "ssh-dss" => {
            let mut rest = rest;
            while !rest.is_empty() {
                let (int, after) = string(rest)?;
                put_string(&mut out, &minimal(int)?);
                rest = after;
            }
        }
        // Fields: which are names (which sshd reads as C strings), and which bytes.
        kind => {
            let names: &[bool] = match kind {
                _ if kind.starts_with("ecdsa-sha2-") => &[true, false],
                "sk-ecdsa-sha2-nistp256@openssh.com" => &[true, false, true],
                "sk-ssh-ed25519@openssh.com" => &[false, true],
                _ => &[],
            };
            let mut rest = rest;
            for &is_name in names {
                let (field, after) = string(rest)?;
                put_string(&mut out, if is_name { text(field) } else { field });
                rest = after;
            }
            out.extend_from_slice(rest);
        }
    }
    (out != bytes).then_some(out)
}

/// A name as sshd reads it (`sshbuf_get_cstring`): one NUL at its end is not part of it.
fn text(name: &[u8]) -> &[u8] {
    name.strip_suffix(&[0]).unwrap_or(name)
}

/// An SSH `string` at the start of `bytes`, and what follows it.
fn string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let body = bytes.get(4..4 + len)?;
    Some((body, &bytes[4 + len..]))
}

fn put_string(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// A non-negative `mpint` without the leading zero bytes sshd skips: one kept only where the
/// next byte has its high bit set. `None` for a negative one, which sshd refuses.
fn minimal(int: &[u8]) -> Option<Vec<u8>> {
    if int.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let digits = &int[int.iter().take_while(|&&b| b == 0).count()..];
    let mut out = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(digits);
    Some(out)
}

#[cfg(test)]
mod tests;
