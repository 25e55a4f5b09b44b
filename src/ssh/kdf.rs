//! bcrypt-pbkdf, the key-derivation function of OpenSSH's private key format, with each output
//! block derived on its own thread.
//!
//! The function (Ted Unangst's, OpenBSD `bcrypt_pbkdf.c`) fills its output from independent
//! 32-byte blocks, each a whole chain of `rounds` bcrypt hashes over the passphrase and the
//! salt with the block's number, interleaved byte by byte into the output. An aes256-ctr key
//! and IV take 48 bytes, so two blocks: on two cores, half the time of deriving them in turn,
//! which is what `ssh-keygen` and the `bcrypt-pbkdf` crate do.
//!
//! The primitives are RustCrypto's: Blowfish's bcrypt key schedule (`blowfish`, feature
//! `bcrypt`) and SHA-512 (`sha2`). Tests prove the output equal to the `bcrypt-pbkdf` crate's
//! for random inputs, and to OpenBSD's published vectors.

use std::sync::atomic::{AtomicBool, Ordering};

use blowfish::Blowfish;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// The bytes one block of output holds (the bcrypt hash's size).
const BLOCK: usize = 32;

/// What bcrypt encrypts 64 times with the expanded state, as in OpenBSD's `bcrypt_hash`.
const SEED: &[u8; BLOCK] = b"OxychromaticBlowfishSwatDynamite";

/// The longest output bcrypt-pbkdf defines (32 blocks of 32 bytes).
pub const MAX_OUTPUT: usize = BLOCK * BLOCK;

/// Why bcrypt-pbkdf refused its input: the same refusals as OpenSSH's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KdfError {
    /// The passphrase or the salt is empty.
    #[error("bcrypt-pbkdf needs a passphrase and a salt")]
    Empty,
    /// Zero rounds.
    #[error("bcrypt-pbkdf needs at least one round")]
    NoRounds,
    /// Nothing to derive, or more than [`MAX_OUTPUT`] bytes.
    #[error("bcrypt-pbkdf derives 1 to {MAX_OUTPUT} bytes, not {0}")]
    OutputLength(usize),
    /// The derivation was no longer wanted, and stopped between two rounds.
    #[error("the key derivation was stopped: no one waits for it any more")]
    Stopped,
}

/// Asked before each round whether the derivation is still wanted: `false` stops it.
pub type Wanted<'a> = dyn Fn() -> bool + Sync + 'a;

/// Fills `out` with bcrypt-pbkdf of `passphrase` and `salt` at `rounds`, deriving its blocks in
/// parallel (at most one thread per block; the calling thread derives the first). Before each
/// round, each block asks `wanted`; once it says no, every block stops, `out` is left as it
/// was, and the answer is [`KdfError::Stopped`]: a derivation nobody waits for any more gives
/// its cores back within a round (about 4 ms at `ssh-keygen`'s 24 rounds).
///
/// Threads started here inherit the caller's scheduling priority, so a caller that has lowered
/// its own keeps the whole derivation low.
pub fn bcrypt_pbkdf(
    passphrase: &[u8],
    salt: &[u8],
    rounds: u32,
    out: &mut [u8],
    wanted: &Wanted<'_>,
) -> Result<(), KdfError> {
    if passphrase.is_empty() || salt.is_empty() {
        return Err(KdfError::Empty);
    }
    if rounds == 0 {
        return Err(KdfError::NoRounds);
    }
    if out.is_empty() || out.len() > MAX_OUTPUT {
        return Err(KdfError::OutputLength(out.len()));
    }
    let blocks = out.len().div_ceil(BLOCK);
    let passphrase_hash = Zeroizing::new(<[u8; 64]>::from(Sha512::digest(passphrase)));
    // The first no stops every block.
    let stopped = AtomicBool::new(false);
    let go_on = || {
        let go_on = !stopped.load(Ordering::Relaxed) && wanted();
        if !go_on {
            stopped.store(true, Ordering::Relaxed);
        }
        go_on
    };
    let derive =
        |number: usize| derive_block(&passphrase_hash, salt, rounds, number as u32, &go_on);
    let derived: Option<Vec<Zeroizing<[u8; BLOCK]>>> = std::thread::scope(|scope| {
        let others: Vec<_> = (2..=blocks)
            .map(|number| scope.spawn(move || derive(number)))
            .collect();
        let first = derive(1);
        std::iter::once(first)
            .chain(others.into_iter().map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }))
            .collect()
    });
    let derived = derived.ok_or(KdfError::Stopped)?;
    // Block b's byte i is output byte i * blocks + b: each block is spread across the output.
    for (position, byte) in out.iter_mut().enumerate() {
        *byte = derived[position % blocks][position / blocks];
    }
    Ok(())
}

/// One block: the XOR of `rounds` chained bcrypt hashes, the first over the salt and the
/// block's big-endian `number`, each next over the SHA-512 of the one before. `None` once
/// `go_on`, asked before each round, says no.
fn derive_block(
    passphrase_hash: &[u8; 64],
    salt: &[u8],
    rounds: u32,
    number: u32,
    go_on: &Wanted<'_>,
) -> Option<Zeroizing<[u8; BLOCK]>> {
    if !go_on() {
        return None;
    }
    let mut salt_hash = Zeroizing::new(<[u8; 64]>::from(
        Sha512::new()
            .chain_update(salt)
            .chain_update(number.to_be_bytes())
            .finalize(),
    ));
    let mut hash = bcrypt_hash(passphrase_hash, &salt_hash);
    let mut block = hash.clone();
    for _ in 1..rounds {
        if !go_on() {
            return None;
        }
        *salt_hash = Sha512::digest(*hash).into();
        hash = bcrypt_hash(passphrase_hash, &salt_hash);
        block.iter_mut().zip(hash.iter()).for_each(|(b, h)| *b ^= h);
    }
    Some(block)
}

/// bcrypt-pbkdf's hash: Blowfish's expensive key schedule keyed by both SHA-512 hashes (64
/// expansions), then [`SEED`] encrypted 64 times, as little-endian words.
fn bcrypt_hash(passphrase_hash: &[u8; 64], salt_hash: &[u8; 64]) -> Zeroizing<[u8; BLOCK]> {
    let mut state = Blowfish::bc_init_state();
    state.salted_expand_key(salt_hash, passphrase_hash);
    for _ in 0..64 {
        state.bc_expand_key(salt_hash);
        state.bc_expand_key(passphrase_hash);
    }
    let mut words = [0u32; BLOCK / 4];
    for (word, bytes) in words.iter_mut().zip(SEED.chunks_exact(4)) {
        *word = u32::from_be_bytes(bytes.try_into().expect("four bytes"));
    }
    for _ in 0..64 {
        for pair in words.chunks_exact_mut(2) {
            let [left, right] = state.bc_encrypt([pair[0], pair[1]]);
            pair[0] = left;
            pair[1] = right;
        }
    }
    let mut hash = Zeroizing::new([0u8; BLOCK]);
    for (bytes, word) in hash.chunks_exact_mut(4).zip(words) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
    hash
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn derive(passphrase: &[u8], salt: &[u8], rounds: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        bcrypt_pbkdf(passphrase, salt, rounds, &mut out, &|| true).unwrap();
        out
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// OpenBSD's regression vectors for bcrypt_pbkdf (`regress/lib/libutil/bcrypt_pbkdf`), as
    /// the `bcrypt-pbkdf` crate also checks them.
    #[test]
    fn openbsd_known_answers() {
        let vectors: [(&[u8], &[u8], u32, &str); 6] = [
            (
                b"password",
                b"salt",
                4,
                "5bbf0cc293587f1c3635555c27796598 d47e579071bf427e9d8fbe842aba34d9",
            ),
            (b"password", b"\0", 4, "c12b566235eee04c212598970a579a67"),
            (b"\0", b"salt", 4, "6051be18c2f4f82cbf0efee5471b4bb9"),
            (
                b"password\0",
                b"salt\0",
                4,
                "7410e44cf4fa07bfaac8a928b1727fac 001375e7bf7384370f48efd121743050",
            ),
            (
                b"password",
                b"salt",
                8,
                "e1367ec5151a33faac4cc1c144cd23fa 15d5548493ecc99b9b5d9c0d3b27bec7 \
                 6227ea66088b849b20ab7aa478010246 e74bba51723fefa9f9474d6508845e8d",
            ),
            (b"password", b"salt", 42, "833cf0dcf56db65608e8f0dc0ce882bd"),
        ];
        for (passphrase, salt, rounds, expected) in vectors {
            let expected = hex(expected);
            assert_eq!(
                derive(passphrase, salt, rounds, expected.len()),
                expected,
                "{:?} / {:?} / {rounds}",
                String::from_utf8_lossy(passphrase),
                String::from_utf8_lossy(salt),
            );
        }
    }

    #[test]
    fn a_derivation_no_longer_wanted_stops_within_a_round_and_writes_nothing() {
        use std::sync::atomic::AtomicU32;
        // Wanted for the first three questions only, in a derivation of 10,000 rounds: one
        // block (32 bytes, no other thread) asks exactly four times.
        let asked = AtomicU32::new(0);
        let wanted = || asked.fetch_add(1, Ordering::Relaxed) < 3;
        let mut out = [7u8; 32];
        assert_eq!(
            bcrypt_pbkdf(b"passphrase", b"salt", 10_000, &mut out, &wanted),
            Err(KdfError::Stopped)
        );
        assert_eq!((out, asked.load(Ordering::Relaxed)), ([7u8; 32], 4));
        // Two blocks, on two threads: both stop, the other one at its next question at the
        // latest (a few more questions at most, where going on would ask 20,000 times).
        asked.store(0, Ordering::Relaxed);
        let mut out = [7u8; 48];
        assert_eq!(
            bcrypt_pbkdf(b"passphrase", b"salt", 10_000, &mut out, &wanted),
            Err(KdfError::Stopped)
        );
        assert_eq!(out, [7u8; 48]);
        assert!(asked.load(Ordering::Relaxed) <= 8, "{asked:?}");
        // Wanted to the end, the same derivation is the reference's.
        let mut whole = [0u8; 48];
        bcrypt_pbkdf(b"passphrase", b"salt", 3, &mut whole, &|| true).unwrap();
        let mut theirs = [0u8; 48];
        bcrypt_pbkdf::bcrypt_pbkdf(b"passphrase", b"salt", 3, &mut theirs).unwrap();
        assert_eq!(whole, theirs);
    }

    #[test]
    fn refuses_what_openssh_refuses() {
        let mut out = [0u8; 48];
        assert_eq!(
            bcrypt_pbkdf(b"", b"salt", 4, &mut out, &|| true),
            Err(KdfError::Empty)
        );
        assert_eq!(
            bcrypt_pbkdf(b"pw", b"", 4, &mut out, &|| true),
            Err(KdfError::Empty)
        );
        assert_eq!(
            bcrypt_pbkdf(b"pw", b"s", 0, &mut out, &|| true),
            Err(KdfError::NoRounds)
        );
        assert_eq!(
            bcrypt_pbkdf(b"pw", b"s", 1, &mut [], &|| true),
            Err(KdfError::OutputLength(0))
        );
        assert_eq!(
            bcrypt_pbkdf(b"pw", b"s", 1, &mut [0; MAX_OUTPUT + 1], &|| true),
            Err(KdfError::OutputLength(MAX_OUTPUT + 1))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The same bytes as the `bcrypt-pbkdf` crate (the one `ssh-key` decrypts with), for
        /// any passphrase, salt, round count and length: one block or many, whole or not.
        #[test]
        fn equals_the_bcrypt_pbkdf_crate(
            passphrase in prop::collection::vec(any::<u8>(), 1..80),
            salt in prop::collection::vec(any::<u8>(), 1..40),
            rounds in 1u32..6,
            len in 1usize..200,
        ) {
            let mut theirs = vec![0; len];
            bcrypt_pbkdf::bcrypt_pbkdf(&passphrase, &salt, rounds, &mut theirs).unwrap();
            prop_assert_eq!(derive(&passphrase, &salt, rounds, len), theirs);
        }
    }
}
