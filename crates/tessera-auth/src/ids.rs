//! Identifiers and session tokens in Better Auth's format, and Tessera's time-ordered ids.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Better Auth's `generateRandomString(n, "0-9", "a-z")` alphabet (account-deletion tokens).
const LOWER_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Better Auth's `generateRandomString` default alphabet: `[a-z0-9A-Z-_]` (TOTP secrets, the
/// two-factor and trusted-device identifiers).
pub(crate) const URL_SAFE_ALPHABET: &[u8] =
    b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

/// Digits only (the one-time codes mailed for two-factor sign-in).
pub(crate) const DIGITS: &[u8] = b"0123456789";

/// `len` characters from `[A-Za-z0-9]`, uniformly chosen from the OS CSPRNG.
///
/// A 32-character value carries about 190 bits of entropy, ample for a session token.
pub fn generate_id(len: usize) -> String {
    random_string(len, ALPHABET)
}

/// `len` characters from `[0-9a-z]`, uniformly chosen from the OS CSPRNG (32 of them carry
/// about 165 bits).
pub fn generate_lowercase_id(len: usize) -> String {
    random_string(len, LOWER_ALPHABET)
}

/// `len` characters of `alphabet` (at most 256 ASCII characters), uniformly chosen from the OS
/// CSPRNG. Rejection sampling keeps the distribution uniform when the alphabet's size does not
/// divide 256: bytes at or above the largest multiple of it would bias the first characters.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let rng = SystemRandom::new();
    let size = alphabet.len();
    let limit = 256 / size * size;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if rng.fill(&mut buf).is_err() {
            // The OS RNG failing is unrecoverable: never fall back to a weak source.
            panic!("operating system random number generator failed");
        }
        for &byte in &buf {
            if usize::from(byte) < limit && out.len() < len {
                out.push(alphabet[usize::from(byte) % size] as char);
            }
        }
    }
    out
}

/// `len` characters from `[a-z0-9A-Z-_]`, Better Auth's `generateRandomString` alphabet: the
/// OAuth `state`, PKCE code verifier and OIDC nonce.
pub fn generate_url_safe(len: usize) -> String {
    random_string(len, URL_SAFE_ALPHABET)
}

/// An id that sorts by creation (audit events, revocation records): 12 hex digits of Unix
/// milliseconds, 8 of a per-process sequence, 12 random characters. Ids made in one millisecond
/// (a sign-up and its session) then sort in the order they were made.
pub(crate) fn ordered_id(at: DateTime<Utc>) -> String {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{}{sequence:08x}{}", ordered_id_floor(at), generate_id(12))
}

/// Every [`ordered_id`] made at or after `at` sorts after this (its first 12 characters are
/// the Unix milliseconds in hex): a time bound on a range of ids.
pub(crate) fn ordered_id_floor(at: DateTime<Utc>) -> String {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    format!("{millis:012x}")
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

    #[test]
    fn lowercase_ids_use_digits_and_lowercase_letters_only() {
        let id = generate_lowercase_id(32);
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
    }

    #[test]
    fn ordered_ids_sort_by_time_then_creation_and_above_their_floor() {
        let at = DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
        let (first, second) = (ordered_id(at), ordered_id(at));
        let later = ordered_id(at + chrono::Duration::milliseconds(1));
        assert!(first < second && second < later);
        assert_eq!(first.len(), 32);
        assert!(
            ordered_id_floor(at) < first
                && first < ordered_id_floor(at + chrono::Duration::milliseconds(1))
        );
    }
}
