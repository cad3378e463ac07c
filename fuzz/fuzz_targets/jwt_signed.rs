//! Attacker-chosen header and payload, validly signed: the checks after the signature.
//!
//! Input: one selector byte (which key signs), then the header JSON, a `0xFF` byte (never part
//! of UTF-8) and the payload JSON. Without `0xFF` the whole rest is the payload under the
//! key's usual header. The token is signed with a key the ring trusts, so signature checking
//! passes and the fuzzer reaches header validation, key/algorithm binding and every claim
//! check; whatever verifies must satisfy the policy, read back from the raw JSON.

#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use serde_json::Value;
use tessera_jwt::{Algorithm, Jwk, KeyRing, VerifyingKey, verify};

#[path = "common.rs"]
mod common;

struct Keys {
    ed: Ed25519KeyPair,
    ec: EcdsaKeyPair,
    ring: KeyRing,
}

/// Fresh EdDSA and ES256 key pairs per process (no private key is stored anywhere) and the
/// fixed HS256 secret.
static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let rng = SystemRandom::new();
    let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed25519");
    let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).expect("ed25519");
    let ec_pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("p-256");
    let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pkcs8.as_ref(), &rng)
        .expect("p-256");
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let ed_jwk = Jwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(b64(ed.public_key().as_ref())),
        kid: Some("fuzz-ed".into()),
        ..Jwk::default()
    };
    let point = ec.public_key().as_ref();
    let ec_jwk = Jwk {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some(b64(&point[1..33])),
        y: Some(b64(&point[33..65])),
        kid: Some("fuzz-ec".into()),
        ..Jwk::default()
    };
    let ring = KeyRing::new(vec![
        VerifyingKey::from_jwk(&ed_jwk, None).expect("ed jwk"),
        VerifyingKey::from_jwk(&ec_jwk, None).expect("ec jwk"),
        VerifyingKey::hmac(None, common::HS256_SECRET),
    ]);
    Keys { ed, ec, ring }
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (alg, default_header) = match selector % 3 {
        0 => (Algorithm::HS256, &br#"{"alg":"HS256","typ":"JWT"}"#[..]),
        1 => (Algorithm::EdDSA, &br#"{"alg":"EdDSA","kid":"fuzz-ed"}"#[..]),
        _ => (Algorithm::ES256, &br#"{"alg":"ES256","kid":"fuzz-ec"}"#[..]),
    };
    let (header, payload) = match rest.iter().position(|&b| b == 0xFF) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (default_header, rest),
    };
    let keys = &*KEYS;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = match alg {
        Algorithm::HS256 => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, common::HS256_SECRET);
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Algorithm::EdDSA => keys.ed.sign(input.as_bytes()).as_ref().to_vec(),
        _ => keys
            .ec
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign")
            .as_ref()
            .to_vec(),
    };
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    let Ok(verified) = verify(&token, &keys.ring, &common::VALIDATION, common::NOW) else {
        return;
    };

    // The header: a JSON object naming exactly the signing key's algorithm (case-sensitive),
    // none of the members that point at keys elsewhere, and the right kid.
    assert_eq!(verified.alg, alg);
    let header: Value = serde_json::from_slice(header).expect("accepted header is JSON");
    assert_eq!(header["alg"].as_str(), Some(alg.as_str()));
    for name in common::FORBIDDEN_HEADERS {
        assert!(header.get(name).is_none(), "{name} accepted");
    }
    let expected_kid = match alg {
        Algorithm::EdDSA => Some("fuzz-ed"),
        Algorithm::ES256 => Some("fuzz-ec"),
        _ => None,
    };
    assert_eq!(header.get("kid").and_then(Value::as_str), expected_kid);

    // The claims, read from the raw payload.
    let claims: Value = serde_json::from_slice(payload).expect("accepted payload is JSON");
    let number = |name: &str| claims.get(name).map(|v| v.as_f64().expect("numeric date"));
    assert!(number("exp").expect("exp required") > common::NOW as f64);
    if let Some(nbf) = number("nbf") {
        assert!(nbf <= common::NOW as f64);
    }
    let _ = number("iat");
    let sub = claims["sub"].as_str().expect("sub is a string");
    assert!(!sub.is_empty());
    assert_eq!(verified.claims.sub(), sub);
    assert_eq!(claims["iss"].as_str(), Some(common::ISSUER));
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many
            .iter()
            .map(|a| a.as_str().expect("string aud"))
            .collect(),
        other => panic!("aud accepted as {other}"),
    };
    assert!(audiences.contains(&common::ISSUER));
});
