//! Identifiers and session tokens in Better Auth's format.

use ring::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters from `[A-Za-z0-9]`, uniformly chosen from the OS CSPRNG.
///
/// Rejection sampling keeps the distribution uniform (62 does not divide 256); a 32-character
/// value carries about 190 bits of entropy, ample for a session token.
pub fn generate_id(len: usize) -> String {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if rng.fill(&mut buf).is_err() {
            // The OS RNG failing is unrecoverable: never fall back to a weak source.
            panic!("operating system random number generator failed");
        }
        for &byte in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the first characters.
            if byte < 248 && out.len() < len {
                out.push(ALPHABET[(byte % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_alphanumeric_characters_and_distinct() {
        let a = generate_id(32);
        let b = generate_id(32);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
