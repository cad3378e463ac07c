//! Fixtures shared by the JWT targets: a fixed key ring and policy.
//!
//! `jwks.json` holds the public halves of three throwaway keys made only for fuzzing (their
//! private halves were discarded after signing the seed tokens in `corpus/jwt_verify/`), plus
//! the HS256 secret below; nothing here is used outside `fuzz/`.

#![allow(dead_code)]

use std::sync::LazyLock;

use tessera_jwt::{Algorithm, JwkSet, KeyRing, Validation, VerifyingKey};

/// The fixed "now" of every target (2023-11-14); seed tokens expire in 2100.
pub const NOW: i64 = 1_700_000_000;
/// Issuer and audience of the seed tokens.
pub const ISSUER: &str = "https://auth.fuzz.test";
/// The kid-less HS256 secret of the ring (fuzzing only).
pub const HS256_SECRET: &[u8] = b"tessera-fuzz-hs256-secret-0123456789abcdef";

/// EdDSA (`fuzz-ed`), ES256 (`fuzz-ec`) and RS256 (`fuzz-rsa`) public keys, then the kid-less
/// HS256 secret: the shape of a guard that trusts a JWKS and a shared secret at once.
pub static RING: LazyLock<KeyRing> = LazyLock::new(|| {
    let set: JwkSet = serde_json::from_str(include_str!("jwks.json")).expect("fixture JWKS");
    let (ring, skipped) = KeyRing::from_jwks(&set);
    assert!(skipped.is_empty(), "fixture keys all load: {skipped:?}");
    let mut keys = ring.keys().to_vec();
    keys.push(VerifyingKey::hmac(None, HS256_SECRET));
    KeyRing::new(keys)
});

/// Every algorithm, pinned issuer and audience, no leeway.
pub static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    Validation::new([
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ])
    .with_issuer(ISSUER)
    .with_audience(ISSUER)
});

/// The header members the verifier must never honour.
pub const FORBIDDEN_HEADERS: [&str; 6] = ["crit", "jku", "x5u", "x5c", "jwk", "zip"];
