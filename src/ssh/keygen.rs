//! Making ed25519 key pairs in memory.

use rand::TryRngCore;
use rand::rngs::OsRng;
use ssh_key::private::Ed25519Keypair;
use ssh_key::{LineEnding, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use super::encrypted::{self, EncryptError};
use super::fingerprint::fingerprint;
use super::kdf::Wanted;
use super::label::Label;
use super::tag::Tag;
use super::values::{KeyOptions, Passphrase};

/// bcrypt-pbkdf rounds for an encrypted key: OpenSSH ≥ 9.4's default (ssh-key's own is 16).
pub const BCRYPT_ROUNDS: u32 = 24;

/// Salt length OpenSSH uses for bcrypt-pbkdf.
const SALT_LEN: usize = 16;

/// A freshly made key pair; the private half exists only in memory and is wiped on drop.
pub struct NewKey {
    /// The private key in OpenSSH format, encrypted when a passphrase was given.
    pub private_openssh: Zeroizing<String>,
    /// The public key, its comment set to the tag.
    pub public: PublicKey,
    /// Whether the private key is encrypted with a passphrase.
    pub encrypted: bool,
}

impl NewKey {
    /// The `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public)
    }

    /// The `authorized_keys` line for this key: `[options ]ssh-ed25519 <base64> <comment>`.
    pub fn authorized_line(&self, options: &KeyOptions) -> Result<String, KeygenError> {
        authorized_line(&self.public, options)
    }
}

/// The `authorized_keys` line for `key`: `[options ]<type> <base64> <comment>`.
pub fn authorized_line(key: &PublicKey, options: &KeyOptions) -> Result<String, KeygenError> {
    let public = key.to_openssh().map_err(KeygenError::Encode)?;
    Ok(match options.as_str() {
        "" => public,
        opts => format!("{opts} {public}"),
    })
}

/// `key` with its comment replaced by `comment`.
pub fn with_comment(key: &PublicKey, comment: &str) -> PublicKey {
    let mut key = key.clone();
    key.set_comment(comment);
    key
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeygenError {
    /// The system's random number generator failed.
    #[error("could not make a key: the system's random number generator failed: {0}")]
    Random(rand::rand_core::OsError),
    /// Encrypting the private key with the passphrase failed.
    #[error("could not encrypt the key with the passphrase: {0}")]
    Encrypt(EncryptError),
    /// Encoding the key in OpenSSH format failed.
    #[error("could not encode the key: {0}")]
    Encode(ssh_key::Error),
}

/// Makes an ed25519 key pair commented with `tag` and `label`, encrypted (aes256-ctr,
/// bcrypt-pbkdf at [`BCRYPT_ROUNDS`], its two blocks on two threads) when a passphrase is given.
///
/// With a passphrase this takes about a tenth of a second of two cores: call it from a thread
/// that may block, at the priority the derivation should run at.
pub fn generate(
    tag: &Tag,
    label: Option<&Label>,
    passphrase: Option<&Passphrase>,
) -> Result<NewKey, KeygenError> {
    generate_while(tag, label, passphrase, &|| true)
}

/// As [`generate`], but the key derivation stops once `wanted` says no (asked before each of
/// its rounds): for an asker that may go away, such as a client that hangs up.
pub fn generate_while(
    tag: &Tag,
    label: Option<&Label>,
    passphrase: Option<&Passphrase>,
    wanted: &Wanted<'_>,
) -> Result<NewKey, KeygenError> {
    let mut seed = Zeroizing::new([0; 32]);
    OsRng
        .try_fill_bytes(seed.as_mut())
        .map_err(KeygenError::Random)?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(tag.comment(label));
    let public = key.public_key().clone();
    let private_openssh = match passphrase {
        Some(passphrase) => {
            let mut salt = [0; SALT_LEN];
            OsRng
                .try_fill_bytes(&mut salt)
                .map_err(KeygenError::Random)?;
            let check = OsRng.try_next_u32().map_err(KeygenError::Random)?;
            encrypted::to_openssh(
                &key,
                passphrase.as_bytes(),
                &salt,
                BCRYPT_ROUNDS,
                check,
                wanted,
            )
            .map_err(KeygenError::Encrypt)?
        }
        None => key
            .to_openssh(LineEnding::LF)
            .map_err(KeygenError::Encode)?,
    };
    Ok(NewKey {
        private_openssh,
        public,
        encrypted: passphrase.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use ssh_key::{Algorithm, Cipher, Kdf};

    use super::*;

    #[test]
    fn a_key_without_passphrase_is_plain_ed25519_tagged() {
        let key = generate(&Tag::default(), None, None).unwrap();
        let private = PrivateKey::from_openssh(key.private_openssh.as_str()).unwrap();
        assert!(!private.is_encrypted());
        assert_eq!(private.algorithm(), Algorithm::Ed25519);
        assert_eq!(private.comment(), "fileglancer");
        assert_eq!(private.public_key().key_data(), key.public.key_data());
    }

    #[test]
    fn a_key_with_passphrase_is_encrypted_at_24_rounds_and_decrypts() {
        let pass = Passphrase::new("correct horse".into()).unwrap();
        let key = generate(&Tag::default(), None, Some(&pass)).unwrap();
        let private = PrivateKey::from_openssh(key.private_openssh.as_str()).unwrap();
        assert!(private.is_encrypted());
        assert_eq!(private.cipher(), Cipher::Aes256Ctr);
        assert!(matches!(private.kdf(), Kdf::Bcrypt { rounds: 24, salt } if salt.len() == 16));
        let plain = private.decrypt("correct horse").unwrap();
        assert_eq!(plain.public_key().key_data(), key.public.key_data());
        assert!(private.decrypt("wrong").is_err());
    }

    #[test]
    fn two_keys_differ() {
        let a = generate(&Tag::default(), None, None).unwrap();
        let b = generate(&Tag::default(), None, None).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn the_authorized_line_puts_options_first_and_the_tag_last() {
        let key = generate(&Tag::parse("keyhatch").unwrap(), None, None).unwrap();
        let line = key.authorized_line(&KeyOptions::default()).unwrap();
        assert!(line.starts_with("restrict,pty ssh-ed25519 AAAA"), "{line}");
        assert!(line.ends_with(" keyhatch"), "{line}");
        let bare = key
            .authorized_line(&KeyOptions::parse("").unwrap())
            .unwrap();
        assert!(bare.starts_with("ssh-ed25519 AAAA"), "{bare}");
    }

    #[test]
    fn a_label_follows_the_tag_in_both_halves_comment() {
        let label = Label::parse("Seqera production").unwrap();
        let key = generate(&Tag::default(), label.as_ref(), None).unwrap();
        assert_eq!(key.public.comment(), "fileglancer Seqera production");
        let private = PrivateKey::from_openssh(key.private_openssh.as_str()).unwrap();
        assert_eq!(private.comment(), "fileglancer Seqera production");
        let line = key.authorized_line(&KeyOptions::default()).unwrap();
        assert!(line.ends_with(" fileglancer Seqera production"), "{line}");
    }

    #[test]
    fn debug_output_never_shows_the_private_key() {
        let key = generate(&Tag::default(), None, None).unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains("SHA256:") && !shown.contains("PRIVATE"),
            "{shown}"
        );
    }
}
