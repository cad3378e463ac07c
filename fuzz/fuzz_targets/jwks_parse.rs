//! JWK and JWKS parsing, key loading, and Better Auth's sealed private keys.
//!
//! The same bytes are read as a JWKS (what a guard fetches from `/jwks`), as a single public or
//! private JWK (what Better Auth stores), and as a sealed value. Properties: one bad entry never
//! poisons a set, nothing from a JWK is ever bound to HS256, a loaded key keeps the algorithm
//! it was asked for, a private JWK that loads signs tokens its own public JWK verifies, `Debug`
//! never shows private members, and values round-trip through serde and sealing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use tessera_guard::keys::StaticKeys;
use tessera_jwt::sealed;
use tessera_jwt::{Algorithm, Jwk, JwkSet, KeyRing, SigningKey, Validation, VerifyingKey, verify};

const SEAL_SECRET: &str = "tessera-fuzz-sealing-secret-0123456789";

fn claims() -> Map<String, Value> {
    match json!({ "sub": "fuzz", "exp": 4_102_444_800_i64 }) {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn check_jwk(jwk: &Jwk) {
    // Debug must not show private members: whatever it shows beyond the Debug of the public
    // half (plus the private-presence marker) would be a leak.
    let shown = format!("{jwk:?}");
    let public_half = Jwk {
        d: None,
        p: None,
        q: None,
        dp: None,
        dq: None,
        qi: None,
        ..jwk.clone()
    };
    let public_plain = format!("{public_half:?}");
    let public_marked = public_plain.replace("\"none\"", "\"<redacted>\"");
    for secret in [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi]
        .into_iter()
        .flatten()
    {
        if !public_plain.contains(secret.as_str()) && !public_marked.contains(secret.as_str()) {
            assert!(
                !shown.contains(secret.as_str()),
                "Debug shows a private member"
            );
        }
    }
    for expected in [
        None,
        Some(Algorithm::EdDSA),
        Some(Algorithm::ES256),
        Some(Algorithm::RS256),
        Some(Algorithm::HS256),
    ] {
        if let Ok(key) = VerifyingKey::from_jwk(jwk, expected) {
            assert_ne!(key.alg(), Algorithm::HS256, "a JWK became an HMAC secret");
            if let Some(expected) = expected {
                assert_eq!(key.alg(), expected);
            }
            assert_eq!(key.kid(), jwk.kid.as_deref());
        }
    }
    for alg in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        let Ok(key) = SigningKey::from_private_jwk("fuzz", alg, jwk) else {
            continue;
        };
        assert_eq!(key.alg(), alg);
        assert_ne!(
            alg,
            Algorithm::HS256,
            "an HS256 signing key came from a JWK"
        );
        let token = key.sign(&claims()).expect("a loaded key signs");
        let mut public = key.public_jwk().expect("asymmetric keys have a public JWK");
        assert!(!public.has_private_members());
        public.kid = Some("fuzz".into());
        let ring = KeyRing::new(vec![
            VerifyingKey::from_jwk(&public, Some(alg)).expect("own public JWK loads"),
        ]);
        verify(&token, &ring, &Validation::new([alg]), 1_700_000_000)
            .expect("a private JWK that loads signs what its public JWK verifies");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = serde_json::from_slice::<JwkSet>(data) {
        let (ring, skipped) = KeyRing::from_jwks(&set);
        assert_eq!(ring.len() + skipped.len(), set.keys.len());
        assert!(ring.keys().iter().all(|k| k.alg() != Algorithm::HS256));
        let text = serde_json::to_string(&set).expect("serialises");
        assert_eq!(
            serde_json::from_str::<JwkSet>(&text).expect("re-parses"),
            set
        );
        for jwk in &set.keys {
            check_jwk(jwk);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // The guard's static key source: refuses sets with no usable key, never panics.
        if let Ok(keys) = StaticKeys::from_jwks_json(text) {
            let _ = keys;
        }
        // A sealed key row that is not ours never opens (and never panics).
        let _ = sealed::open(SEAL_SECRET, text);
        let sealed_text = sealed::seal(SEAL_SECRET, text).expect("seals");
        assert_eq!(sealed::open(SEAL_SECRET, &sealed_text).as_deref(), Ok(text));
        assert!(sealed::open("another-secret-another-secret-0000", &sealed_text).is_err());
    }
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        check_jwk(&jwk);
    }
});
