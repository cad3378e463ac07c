//! Behaviour tests that span modules: round trips, the attack playbook, claim checks, key
//! loading and published test vectors.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::{
    Algorithm, JwtError, KeyRing, SigningKey, Validation, VerifiedToken, VerifyingKey, b64, verify,
};

mod attacks;
mod claim_checks;
mod jose_interop;
mod keys;
mod rfc9864;
mod round_trip;
mod vectors;

/// The fixed "current time" of these tests.
const NOW: i64 = 1_700_000_000;
const SECRET: &[u8] = b"tessera-test-secret-0123456789-abcdef";

// Key generation (RSA especially) is slow in debug builds: one key per algorithm, shared.
static ED: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate(Algorithm::EdDSA, "ed-1").unwrap());
static EC: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate(Algorithm::ES256, "ec-1").unwrap());
static RSA: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate(Algorithm::RS256, "rsa-1").unwrap());

/// A kid-less HS256 key, like the seed's shared `BETTER_AUTH_SECRET`.
fn hs() -> SigningKey {
    SigningKey::hmac(None, SECRET)
}

/// The three shared asymmetric keys.
fn every_key() -> [&'static SigningKey; 3] {
    [&ED, &EC, &RSA]
}

/// Claims shaped like Better Auth's: the user object plus sub/iat/exp/iss/aud.
fn claims() -> Map<String, Value> {
    object(json!({
        "id": "user-1",
        "name": "Ada",
        "email": "ada@example.com",
        "emailVerified": true,
        "sid": "session-1",
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 900,
        "iss": "http://localhost:3000",
        "aud": "http://localhost:3000",
    }))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn ring_of(keys: &[&SigningKey]) -> KeyRing {
    KeyRing::new(
        keys.iter()
            .map(|k| VerifyingKey::from_signing_key(k))
            .collect(),
    )
}

fn any_alg() -> Validation {
    Validation::new([
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ])
}

/// Verifies with every algorithm allowed and no iss/aud checks, at `NOW`.
fn check(token: &str, ring: &KeyRing) -> Result<VerifiedToken, JwtError> {
    verify(token, ring, &any_alg(), NOW)
}

/// A token with an arbitrary header and payload, validly signed by `key`: any rejection is
/// then due to the content, not the signature.
fn forge(header: &Value, payload: &Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(payload.to_string())
    );
    let signature = key.private_key().sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(signature))
}

/// A validly HS256-signed token with the given header and payload, and a ring that trusts it.
fn hs_token(header: Value, payload: Value) -> (String, KeyRing) {
    let key = hs();
    (forge(&header, &payload, &key), ring_of(&[&key]))
}

/// Re-signs a header/payload pair with the kid-less HS256 test key.
fn hs_claims_token(payload: Value) -> (String, KeyRing) {
    hs_token(json!({"alg": "HS256", "typ": "JWT"}), payload)
}
