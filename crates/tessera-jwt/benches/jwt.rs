//! Micro-benchmarks of the token layer: signing and verifying a Better Auth-shaped JWT with each
//! algorithm, and rejecting one whose signature was tampered with.
//!
//! `cargo bench -p tessera-jwt --bench jwt` (see BENCHMARKS.md). Nothing here asserts a speed.

use divan::{Bencher, black_box};
use serde_json::{Map, Value, json};
use tessera_jwt::{Algorithm, KeyRing, SigningKey, Validation, VerifyingKey};

fn main() {
    divan::main();
}

const ALGORITHMS: [&str; 4] = ["EdDSA", "ES256", "RS256", "HS256"];
const ORIGIN: &str = "http://127.0.0.1:3000";
/// A fixed "now" inside the token's lifetime.
const NOW: i64 = 1_800_000_000;

/// The claims Better Auth's jwt plugin puts in a token: the user object plus the registered ones.
fn claims() -> Map<String, Value> {
    let value = json!({
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "emailVerified": false,
        "image": null,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "id": "Xq3cTk0fJ8h2mWb7pL5sRz9vYdE1gN4a",
        "iat": NOW - 60,
        "iss": ORIGIN,
        "aud": ORIGIN,
        "exp": NOW + 840,
        "sub": "Xq3cTk0fJ8h2mWb7pL5sRz9vYdE1gN4a",
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// A signing key, the ring that verifies its tokens, and the policy Tessera's guard applies.
fn setup(alg: &str) -> (SigningKey, KeyRing, Validation) {
    let alg: Algorithm = alg.parse().expect("a known algorithm");
    let key = match alg {
        Algorithm::HS256 => SigningKey::hmac(None, b"bench-secret-0123456789abcdef-0123456789"),
        _ => SigningKey::generate(alg, "bench-key-1").expect("key generation"),
    };
    let ring = KeyRing::new(vec![VerifyingKey::from_signing_key(&key)]);
    let validation = Validation::new([alg]).with_issuer(ORIGIN);
    let validation = if alg == Algorithm::HS256 {
        validation
    } else {
        validation.with_audience(ORIGIN)
    };
    (key, ring, validation)
}

/// Signs the claims (serialisation, base64url and the signature).
#[divan::bench(args = ALGORITHMS)]
fn sign(bencher: Bencher<'_, '_>, alg: &str) {
    let (key, _, _) = setup(alg);
    let claims = claims();
    bencher.bench_local(|| key.sign(black_box(&claims)).expect("signing"));
}

/// The whole `tessera_jwt::verify` pipeline on a valid token: what the guard does per request.
#[divan::bench(args = ALGORITHMS)]
fn verify(bencher: Bencher<'_, '_>, alg: &str) {
    let (key, ring, validation) = setup(alg);
    let token = key.sign(&claims()).expect("signing");
    bencher.bench_local(|| {
        tessera_jwt::verify(black_box(&token), &ring, &validation, NOW).expect("a valid token")
    });
}

/// A token with one character in the middle of its signature changed: well formed, so the
/// signature is checked in full before the 401. (The last character may carry only padding
/// bits, which strict base64url decoding refuses before any cryptography.)
#[divan::bench(args = ALGORITHMS)]
fn verify_bad_signature(bencher: Bencher<'_, '_>, alg: &str) {
    let (key, ring, validation) = setup(alg);
    let token = key.sign(&claims()).expect("signing");
    let signature_start = token.rfind('.').expect("three parts") + 1;
    let middle = signature_start + (token.len() - signature_start) / 2;
    let replacement = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let token = format!("{}{replacement}{}", &token[..middle], &token[middle + 1..]);
    assert_eq!(
        tessera_jwt::verify(&token, &ring, &validation, NOW),
        Err(tessera_jwt::JwtError::BadSignature)
    );
    bencher.bench_local(|| {
        tessera_jwt::verify(black_box(&token), &ring, &validation, NOW)
            .expect_err("a tampered token")
    });
}
