//! Public keys people bring with them, checked before keyhatch authorizes one: only a public
//! key, only one, and only of a kind strong enough.

use ssh_key::{Algorithm, PublicKey};

use super::authorized_keys::{self, Line};

/// The fewest bits of an RSA key keyhatch authorizes.
pub const MIN_RSA_BITS: u32 = 3072;

/// Reads one public key as a `.pub` file holds it (`type base64 [comment]`), blank lines and
/// `#` comments around it allowed; the key keeps its own comment.
pub fn parse_public_key(text: &str) -> Result<PublicKey, ImportError> {
    if looks_private(text) {
        return Err(ImportError::PrivateKey);
    }
    // A lone carriage return ends a line too: a second key after one is a second key, not
    // the first one's comment.
    let mut keys = text
        .split(['\n', '\r'])
        .enumerate()
        .map(|(i, line)| authorized_keys::parse_line(i + 1, line.as_bytes()))
        .filter(|line| !matches!(line, Line::Ignored));
    let line = keys.next().ok_or(ImportError::Empty)?;
    if keys.next().is_some() {
        return Err(ImportError::SeveralKeys);
    }
    let key = match line {
        Line::Key(key) if key.options.is_empty() => key,
        Line::Key(_) => return Err(ImportError::HasOptions),
        Line::Unreadable | Line::Ignored => return Err(ImportError::NotAKey),
    };
    check_strength(&key.key)?;
    let mut public = key.key;
    public.set_comment(String::from_utf8_lossy(key.comment));
    Ok(public)
}

/// Any private key format people paste by mistake: OpenSSH, PEM (PKCS#1, PKCS#8, SEC1),
/// RFC 4716 and PuTTY.
fn looks_private(text: &str) -> bool {
    text.contains("PRIVATE KEY") || text.contains("PuTTY-User-Key-File")
}

fn check_strength(key: &PublicKey) -> Result<(), ImportError> {
    match key.algorithm() {
        Algorithm::Ed25519
        | Algorithm::Ecdsa { .. }
        | Algorithm::SkEd25519
        | Algorithm::SkEcdsaSha2NistP256 => Ok(()),
        Algorithm::Rsa { .. } => {
            let bits = key.key_data().rsa().map_or(0, |rsa| {
                rsa.n.as_positive_bytes().map_or(0, |n| {
                    let len = u32::try_from(n.len()).unwrap_or(u32::MAX);
                    (len * 8).saturating_sub(n[0].leading_zeros())
                })
            });
            if bits >= MIN_RSA_BITS {
                Ok(())
            } else {
                Err(ImportError::WeakRsa(bits))
            }
        }
        other => Err(ImportError::Algorithm(other.as_str().to_owned())),
    }
}

/// Why a pasted key was refused; the message is written for the person and never repeats what
/// they pasted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A private key: refused without reading further.
    #[error(
        "this is a private key. A private key must never be shared, not even with keyhatch: paste the public key instead (the .pub file beside it, one line starting with ssh-ed25519, ecdsa-sha2-, sk- or ssh-rsa)"
    )]
    PrivateKey,
    /// Nothing but blanks and comments.
    #[error("paste a public key: one line such as \"ssh-ed25519 AAAA… you@laptop\"")]
    Empty,
    /// More than one key line.
    #[error("paste one public key at a time")]
    SeveralKeys,
    /// A line sshd would not read as a key.
    #[error(
        "this is not a public key sshd can read: expected one line such as \"ssh-ed25519 AAAA… you@laptop\", as in a .pub file"
    )]
    NotAKey,
    /// An `authorized_keys` line with options before the key.
    #[error(
        "paste the public key alone, without authorized_keys options before it: keyhatch adds its own"
    )]
    HasOptions,
    /// DSA or a kind sshd no longer trusts.
    #[error(
        "{0} keys are not accepted: use ed25519, ecdsa, a security key (sk-), or RSA of at least 3072 bits"
    )]
    Algorithm(String),
    /// RSA shorter than [`MIN_RSA_BITS`].
    #[error("this RSA key has {0} bits; keyhatch accepts RSA keys of at least 3072 bits")]
    WeakRsa(u32),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::{Tag, fingerprint, keygen};

    macro_rules! fixture {
        ($name:literal) => {
            (
                include_str!(concat!("../../tests/fixtures/public-keys/", $name, ".pub")),
                include_str!(concat!(
                    "../../tests/fixtures/public-keys/",
                    $name,
                    ".fingerprint"
                ))
                .trim(),
            )
        };
    }

    #[test]
    fn ed25519_ecdsa_and_long_rsa_keys_are_read_with_their_comment() {
        for ((pub_file, expected), comment) in [
            (fixture!("ed25519"), "alice@laptop"),
            (fixture!("ecdsa-p256"), "ecdsa 256"),
            (fixture!("ecdsa-p521"), "ecdsa 521"),
            (fixture!("rsa-3072"), "rsa 3072"),
        ] {
            let key = parse_public_key(pub_file).unwrap();
            assert_eq!(fingerprint(&key), expected, "{pub_file}");
            assert_eq!(key.comment(), comment);
        }
    }

    #[test]
    fn blank_lines_comments_and_crlf_around_the_key_are_fine() {
        let (pub_file, expected) = fixture!("ed25519");
        let pasted = format!("\n  # my laptop\r\n{}\r\n\n", pub_file.trim_end());
        assert_eq!(fingerprint(&parse_public_key(&pasted).unwrap()), expected);
    }

    #[test]
    fn security_keys_are_accepted() {
        use ssh_key::public::{Ed25519PublicKey, KeyData, SkEd25519};
        let sk = KeyData::SkEd25519(SkEd25519::new(Ed25519PublicKey([7; 32]), "ssh:"));
        let line = PublicKey::new(sk, "yubikey").to_openssh().unwrap();
        assert!(line.starts_with("sk-ssh-ed25519@openssh.com "), "{line}");
        assert_eq!(parse_public_key(&line).unwrap().comment(), "yubikey");
    }

    #[test]
    fn rsa_shorter_than_3072_bits_is_refused_with_its_size() {
        let (pub_file, _) = fixture!("rsa-2048");
        assert_eq!(parse_public_key(pub_file), Err(ImportError::WeakRsa(2048)));
    }

    #[test]
    fn dsa_is_refused_by_name() {
        let (pub_file, _) = fixture!("dsa");
        let error = parse_public_key(pub_file).unwrap_err();
        assert_eq!(error, ImportError::Algorithm("ssh-dss".into()));
        assert!(
            error
                .to_string()
                .starts_with("ssh-dss keys are not accepted")
        );
    }

    #[test]
    fn a_private_key_is_refused_and_never_repeated() {
        let key = keygen::generate(&Tag::default(), None, None).unwrap();
        let error = parse_public_key(&key.private_openssh).unwrap_err();
        assert_eq!(error, ImportError::PrivateKey);
        assert!(error.to_string().contains("must never be shared"));
        // A public key pasted after the private one is still a private key pasted.
        let (pub_file, _) = fixture!("ed25519");
        let both = format!("{pub_file}{}", key.private_openssh.as_str());
        assert_eq!(parse_public_key(&both), Err(ImportError::PrivateKey));
        for other in [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE…\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAw…\n",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
        ] {
            assert_eq!(parse_public_key(other), Err(ImportError::PrivateKey));
        }
    }

    #[test]
    fn nothing_several_keys_options_or_garbage_are_each_refused_as_such() {
        let (ed, _) = fixture!("ed25519");
        let (ecdsa, _) = fixture!("ecdsa-p256");
        assert_eq!(
            parse_public_key(" \n# only a comment\n"),
            Err(ImportError::Empty)
        );
        assert_eq!(
            parse_public_key(&format!("{ed}{ecdsa}")),
            Err(ImportError::SeveralKeys)
        );
        assert_eq!(
            parse_public_key(&format!("restrict {ed}")),
            Err(ImportError::HasOptions)
        );
        assert_eq!(
            parse_public_key("ssh-ed25519 AAAAnotbase64!!!"),
            Err(ImportError::NotAKey)
        );
        // A certificate is not a plain public key.
        assert_eq!(
            parse_public_key(&ed.replace("ssh-ed25519 ", "ssh-ed25519-cert-v01@openssh.com ")),
            Err(ImportError::NotAKey)
        );
    }

    /// Red team: two keys joined by a lone carriage return read as one key whose comment held
    /// the second, which was dropped without a word.
    #[test]
    fn a_second_key_after_a_lone_carriage_return_is_a_second_key() {
        let (one, _) = fixture!("ed25519");
        let one = one.trim();
        let joined = format!("{one}\r{one}\n");
        assert_eq!(parse_public_key(&joined), Err(ImportError::SeveralKeys));
        assert!(parse_public_key(&format!("{one}\r\n")).is_ok());
    }
}
