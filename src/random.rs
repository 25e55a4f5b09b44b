//! Random tokens (server only): every secret or one-time value keyhatch makes — the scripts'
//! credential, login links, session ids, form ids, pages' nonces — is bytes from the operating
//! system's generator, written as lowercase hex.

use rand::TryRngCore;
use rand::rngs::OsRng;

/// `BYTES` random bytes from the operating system, as `2 × BYTES` hex digits. Panics if the
/// system's generator fails (`getrandom(2)` does not, once the kernel's pool is ready).
pub fn random_hex<const BYTES: usize>() -> String {
    let mut bytes = [0u8; BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the system's random number generator");
    let mut hex = String::with_capacity(2 * BYTES);
    for byte in bytes {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).expect("a nibble"));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).expect("a nibble"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_hex_of_the_length_asked_and_differ() {
        let (a, b) = (random_hex::<16>(), random_hex::<16>());
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_eq!(random_hex::<32>().len(), 64);
    }
}
