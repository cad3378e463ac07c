//! `tessera_jwt::verify` on arbitrary input, against a fixed key ring (EdDSA, ES256, RS256 and a
//! kid-less HS256 secret) with issuer and audience pinned.
//!
//! Beyond "never panics": whatever verifies obeys the policy (allowed algorithm, key bound to
//! it, live `exp`, non-empty `sub`, size cap) and is in canonical form (each part re-encodes to
//! itself, so a verified token has no malleable twin), and error messages never echo the token.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tessera_jwt::{Algorithm, MAX_TOKEN_BYTES, verify};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match verify(token, &common::RING, &common::VALIDATION, common::NOW) {
        Ok(verified) => {
            assert!(token.len() <= MAX_TOKEN_BYTES);
            assert!(common::VALIDATION.algorithms.contains(&verified.alg));
            // In this ring only the HS256 secret is kid-less, and every kid names one key.
            let expected_kid = match verified.alg {
                Algorithm::EdDSA | Algorithm::Ed25519 => Some("fuzz-ed"),
                Algorithm::ES256 => Some("fuzz-ec"),
                Algorithm::RS256 => Some("fuzz-rsa"),
                Algorithm::HS256 => None,
            };
            assert_eq!(verified.kid.as_deref(), expected_kid);
            assert!(verified.claims.exp() > common::NOW);
            assert!(!verified.claims.sub().is_empty());
            assert_eq!(verified.claims.iss(), Some(common::ISSUER));
            for part in token.split('.') {
                let bytes = URL_SAFE_NO_PAD
                    .decode(part)
                    .expect("verified parts are base64url");
                assert_eq!(
                    URL_SAFE_NO_PAD.encode(bytes),
                    part,
                    "non-canonical base64url accepted"
                );
            }
        }
        Err(error) => {
            // Messages are fixed strings without a '.', so a token (which has its dots) can
            // never appear in one; a token-sized dotless input may spell a message by chance.
            if token.contains('.') && token.len() > 16 {
                assert!(!error.to_string().contains(token));
            }
        }
    }
});
