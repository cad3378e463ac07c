//! Better Auth's at-rest encryption of JWKS private keys (`symmetricEncrypt` /
//! `symmetricDecrypt` in `better-auth/crypto`), so keys move between Better Auth and Tessera.
//!
//! Format: lowercase hex of `nonce (24 random bytes) || XChaCha20-Poly1305 ciphertext || tag (16)`
//! with key = SHA-256(UTF-8 secret) and no associated data (`@noble/ciphers`
//! `managedNonce(xchacha20poly1305)`). The JSON string quoting of the database column and the
//! `$ba$<version>$` envelope of `BETTER_AUTH_SECRETS` belong to the caller.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

use crate::JwtError;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Encrypts `plaintext` under `secret`; returns lowercase hex. A fresh random nonce is used
/// every time (24-byte XChaCha nonces are safe to draw at random). Fails only if the system
/// random source does.
pub fn seal(secret: &str, plaintext: &str) -> Result<String, JwtError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| JwtError::Crypto)?;
    let ciphertext = cipher(secret)?
        .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
        .map_err(|_| JwtError::Crypto)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(hex::encode(sealed))
}

/// Decrypts a value produced by [`seal`] or by Better Auth. A wrong secret or any modification
/// gives [`JwtError::Decrypt`] (the Poly1305 tag is checked before anything is returned).
pub fn open(secret: &str, sealed_hex: &str) -> Result<String, JwtError> {
    let sealed =
        hex::decode(sealed_hex).map_err(|_| JwtError::Malformed("sealed value is not hex"))?;
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(JwtError::Malformed("sealed value is too short"));
    }
    let (nonce, ciphertext) = sealed
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(JwtError::Malformed("sealed value is too short"))?;
    let plaintext = cipher(secret)?
        .decrypt(&XNonce::from(*nonce), ciphertext)
        .map_err(|_| JwtError::Decrypt)?;
    String::from_utf8(plaintext).map_err(|_| JwtError::Malformed("sealed plaintext is not UTF-8"))
}

fn cipher(secret: &str) -> Result<XChaCha20Poly1305, JwtError> {
    XChaCha20Poly1305::new_from_slice(digest(&SHA256, secret.as_bytes()).as_ref())
        .map_err(|_| JwtError::Crypto)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-better-auth-secret-of-at-least-32-chars!!";

    #[test]
    fn open_returns_what_seal_sealed() {
        for plaintext in ["", "x", r#"{"crv":"Ed25519","d":"…","x":"…","kty":"OKP"}"#] {
            let sealed = seal(SECRET, plaintext).unwrap();
            assert_eq!(open(SECRET, &sealed).unwrap(), plaintext);
        }
    }

    #[test]
    fn sealed_output_is_lowercase_hex_of_nonce_ciphertext_and_tag() {
        let sealed = seal(SECRET, "hello").unwrap();
        assert_eq!(sealed.len(), 2 * (NONCE_LEN + "hello".len() + TAG_LEN));
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        assert_ne!(seal(SECRET, "same").unwrap(), seal(SECRET, "same").unwrap());
    }

    #[test]
    fn opening_with_the_wrong_secret_fails() {
        let sealed = seal(SECRET, "private key").unwrap();
        assert_eq!(open("another-secret", &sealed), Err(JwtError::Decrypt));
    }

    #[test]
    fn any_tampered_byte_makes_opening_fail() {
        let sealed = hex::decode(seal(SECRET, "private key").unwrap()).unwrap();
        for index in [0, NONCE_LEN, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert_eq!(open(SECRET, &hex::encode(tampered)), Err(JwtError::Decrypt));
        }
    }

    #[test]
    fn input_that_is_not_hex_or_too_short_is_malformed() {
        for bad in ["zz", "abc", "\"00\""] {
            assert!(
                matches!(open(SECRET, bad), Err(JwtError::Malformed(_))),
                "{bad}"
            );
        }
        let short = "00".repeat(NONCE_LEN + TAG_LEN - 1);
        assert!(matches!(open(SECRET, &short), Err(JwtError::Malformed(_))));
    }
}
