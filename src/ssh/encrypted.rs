//! An OpenSSH private key encrypted with a passphrase (`openssh-key-v1`, aes256-ctr,
//! bcrypt-pbkdf), written here rather than by `ssh-key` so that the key derivation runs on two
//! threads ([`super::kdf`]): `ssh-key` 0.6 only encrypts through its own single-threaded
//! derivation and takes no key and IV from outside.
//!
//! The container (OpenSSH's `PROTOCOL.key`), in SSH wire encoding (`ssh-encoding`):
//!
//! ```text
//! "openssh-key-v1\0"  cipher "aes256-ctr"  kdf "bcrypt" + string(string salt, uint32 rounds)
//! uint32 1  string public-key  string encrypted(uint32 check, uint32 check, keypair,
//!                                                string comment, padding 1 2 3 …)
//! ```
//!
//! RustCrypto's `aes` and `ctr` encrypt; ssh-key's own types encode the cipher and KDF names,
//! the public key and the keypair, so only the framing is here. Tests open every key with
//! `ssh-key` and with `ssh-keygen -y -P`.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use ssh_encoding::{Encode, EncodePem, LineEnding, pem::PemLabel};
use ssh_key::{Cipher, Kdf, PrivateKey, public::KeyData};
use zeroize::Zeroizing;

use super::kdf;

/// aes256-ctr: a 32-byte key, a 16-byte IV, 16-byte blocks.
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const BLOCK_LEN: usize = 16;

/// The container's first bytes.
const MAGIC: &[u8] = b"openssh-key-v1\0";

/// Why a key could not be encrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The key derivation refused its input.
    #[error(transparent)]
    Kdf(#[from] kdf::KdfError),
    /// Encoding the key failed.
    #[error("could not encode the key: {0}")]
    Encode(#[from] ssh_encoding::Error),
    /// The key given is encrypted already.
    #[error("the key is encrypted already")]
    AlreadyEncrypted,
}

/// `key` (unencrypted) as an OpenSSH private key file, encrypted with aes256-ctr under a key
/// derived from `passphrase` by bcrypt-pbkdf with `salt` and `rounds`. `checkint` is the random
/// number OpenSSH repeats inside the encrypted part to tell a wrong passphrase. The derivation
/// stops once `wanted` says no ([`kdf::bcrypt_pbkdf`]).
pub fn to_openssh(
    key: &PrivateKey,
    passphrase: &[u8],
    salt: &[u8],
    rounds: u32,
    checkint: u32,
    wanted: &kdf::Wanted<'_>,
) -> Result<Zeroizing<String>, EncryptError> {
    if key.is_encrypted() {
        return Err(EncryptError::AlreadyEncrypted);
    }
    let mut key_and_iv = Zeroizing::new([0u8; KEY_LEN + IV_LEN]);
    kdf::bcrypt_pbkdf(passphrase, salt, rounds, &mut *key_and_iv, wanted)?;
    let (cipher_key, iv) = key_and_iv.split_at(KEY_LEN);

    let mut secret = private_section(key, checkint)?;
    ctr::Ctr128BE::<Aes256>::new(cipher_key.into(), iv.into()).apply_keystream(&mut secret);

    let container = Container {
        kdf: Kdf::Bcrypt {
            salt: salt.to_vec(),
            rounds,
        },
        public: key.public_key().key_data(),
        encrypted: &secret,
    };
    Ok(Zeroizing::new(container.encode_pem_string(LineEnding::LF)?))
}

/// The part that is encrypted: the check number twice, the keypair, the comment, and padding
/// `1 2 3 …` to a whole number of cipher blocks.
fn private_section(key: &PrivateKey, checkint: u32) -> Result<Zeroizing<Vec<u8>>, EncryptError> {
    let mut section = Zeroizing::new(Vec::with_capacity(256));
    checkint.encode(&mut *section)?;
    checkint.encode(&mut *section)?;
    key.key_data().encode(&mut *section)?;
    key.comment().encode(&mut *section)?;
    let padding = (BLOCK_LEN - section.len() % BLOCK_LEN) % BLOCK_LEN;
    section.extend(1..=padding as u8);
    Ok(section)
}

/// The container around an encrypted private section.
struct Container<'a> {
    kdf: Kdf,
    public: &'a KeyData,
    encrypted: &'a [u8],
}

impl Encode for Container<'_> {
    fn encoded_len(&self) -> ssh_encoding::Result<usize> {
        use ssh_encoding::CheckedSum;
        [
            MAGIC.len(),
            Cipher::Aes256Ctr.encoded_len()?,
            self.kdf.encoded_len()?,
            4, // the number of keys
            self.public.encoded_len_prefixed()?,
            self.encrypted.encoded_len()?,
        ]
        .checked_sum()
    }

    fn encode(&self, writer: &mut impl ssh_encoding::Writer) -> ssh_encoding::Result<()> {
        writer.write(MAGIC)?;
        Cipher::Aes256Ctr.encode(writer)?;
        self.kdf.encode(writer)?;
        1u32.encode(writer)?;
        self.public.encode_prefixed(writer)?;
        self.encrypted.encode(writer)
    }
}

impl PemLabel for Container<'_> {
    const PEM_LABEL: &'static str = "OPENSSH PRIVATE KEY";
}

#[cfg(test)]
mod tests {
    use ssh_key::Algorithm;
    use ssh_key::rand_core::OsRng;

    use super::*;

    fn a_key(comment: &str) -> PrivateKey {
        let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        key.set_comment(comment);
        key
    }

    #[test]
    fn ssh_key_reads_back_what_it_would_have_written() {
        let key = a_key("fileglancer Seqera production");
        let salt = [7u8; 16];
        let ours = to_openssh(&key, b"correct horse", &salt, 4, 0x1234_5678, &|| true).unwrap();
        // ssh-key encrypting the same key with the same salt, rounds and check number gives
        // the very same file: the container is byte-for-byte OpenSSH's.
        let kdf = Kdf::Bcrypt {
            salt: salt.to_vec(),
            rounds: 4,
        };
        let theirs = key
            .encrypt_with(Cipher::Aes256Ctr, kdf, 0x1234_5678, "correct horse")
            .unwrap()
            .to_openssh(LineEnding::LF)
            .unwrap();
        assert_eq!(ours.as_str(), theirs.as_str());
        let opened = PrivateKey::from_openssh(ours.as_str())
            .unwrap()
            .decrypt("correct horse")
            .unwrap();
        assert_eq!(opened.key_data(), key.key_data());
        assert_eq!(opened.comment(), "fileglancer Seqera production");
    }

    #[test]
    fn every_comment_length_pads_to_whole_blocks() {
        for len in 0..40 {
            let key = a_key(&"c".repeat(len));
            let file = to_openssh(&key, b"pw", &[1; 16], 1, 9, &|| true).unwrap();
            let opened = PrivateKey::from_openssh(file.as_str()).unwrap();
            let plain = opened.decrypt("pw").unwrap();
            assert_eq!(plain.comment().len(), len);
            assert!(opened.decrypt("wrong").is_err());
        }
    }

    #[test]
    fn an_encrypted_key_is_not_encrypted_again() {
        let key = a_key("x")
            .encrypt(&mut OsRng, "pw")
            .expect("ssh-key encrypts");
        assert!(matches!(
            to_openssh(&key, b"pw", &[1; 16], 1, 9, &|| true),
            Err(EncryptError::AlreadyEncrypted)
        ));
    }
}
