//! RFC 9864: `Ed25519`, the fully specified name of EdDSA on Ed25519 keys, next to `EdDSA`, and
//! never on any other key type.

use serde_json::{Value, json};

use super::*;
use crate::Jwk;

fn jwk(value: Value) -> Jwk {
    serde_json::from_value(value).unwrap()
}

/// Both Ed25519 header names allowed, plus the other algorithms (so a refusal is never the
/// allow-list's doing unless a test narrows it).
fn both_names() -> Validation {
    Validation::new([
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ])
}

/// The shared Ed25519 key, loaded again to sign under `alg` with `kid`.
fn ed_as(alg: Algorithm, kid: &str) -> SigningKey {
    SigningKey::from_private_jwk(kid, alg, &ED.private_jwk().unwrap()).unwrap()
}

/// The shared Ed25519 key's public JWK with `kid: "ed"` and the given `alg` member.
fn ed_public(alg: Option<&str>) -> Jwk {
    let mut public = ED.public_jwk().unwrap();
    public.kid = Some("ed".into());
    public.alg = alg.map(str::to_owned);
    public
}

fn header_of(token: &str) -> Value {
    let header = b64::decode(token.split('.').next().unwrap(), "header").unwrap();
    serde_json::from_slice(&header).unwrap()
}

#[test]
fn an_ed25519_signing_key_mints_under_the_header_name_ed25519() {
    let key = SigningKey::generate(Algorithm::Ed25519, "new-name").unwrap();
    assert_eq!(key.alg(), Algorithm::Ed25519);
    let token = key.sign(&claims()).unwrap();
    assert_eq!(
        header_of(&token),
        json!({"alg": "Ed25519", "kid": "new-name"})
    );
    // The key itself is an ordinary Ed25519 key: its public JWK is the same as EdDSA's.
    let public = key.public_jwk().unwrap();
    assert_eq!(
        (public.kty.as_str(), public.crv.as_deref()),
        ("OKP", Some("Ed25519"))
    );

    let verified = verify(&token, &ring_of(&[&key]), &both_names(), NOW).unwrap();
    assert_eq!(verified.alg, Algorithm::Ed25519);
    assert_eq!(verified.claims.sub(), "user-1");
}

#[test]
fn an_ed25519_jwk_verifies_both_header_names_whether_its_alg_is_eddsa_ed25519_or_absent() {
    let eddsa = ed_as(Algorithm::EdDSA, "ed").sign(&claims()).unwrap();
    let ed25519 = ed_as(Algorithm::Ed25519, "ed").sign(&claims()).unwrap();
    assert_eq!(header_of(&eddsa)["alg"], "EdDSA");
    assert_eq!(header_of(&ed25519)["alg"], "Ed25519");
    for alg in [Some("EdDSA"), Some("Ed25519"), None] {
        let ring = KeyRing::new(vec![VerifyingKey::from_jwk(&ed_public(alg), None).unwrap()]);
        let (ring_set, skipped) = KeyRing::from_jwks(&crate::JwkSet {
            keys: vec![ed_public(alg)],
        });
        assert!(skipped.is_empty(), "{alg:?}: {skipped:?}");
        for ring in [&ring, &ring_set] {
            let first = verify(&eddsa, ring, &both_names(), NOW).unwrap();
            assert_eq!(first.alg, Algorithm::EdDSA, "{alg:?}");
            let second = verify(&ed25519, ring, &both_names(), NOW).unwrap();
            assert_eq!(second.alg, Algorithm::Ed25519, "{alg:?}");
        }
    }
}

#[test]
fn a_key_loaded_with_an_expected_algorithm_still_verifies_the_other_ed25519_name() {
    let token = ed_as(Algorithm::Ed25519, "ed").sign(&claims()).unwrap();
    let key = VerifyingKey::from_jwk(&ed_public(None), Some(Algorithm::EdDSA)).unwrap();
    assert_eq!(key.alg(), Algorithm::EdDSA);
    assert!(verify(&token, &KeyRing::new(vec![key]), &both_names(), NOW).is_ok());
}

#[test]
fn the_allow_list_names_header_algorithms_so_each_ed25519_name_can_be_refused_alone() {
    let ring = KeyRing::new(vec![
        VerifyingKey::from_jwk(&ed_public(None), None).unwrap(),
    ]);
    let eddsa = ed_as(Algorithm::EdDSA, "ed").sign(&claims()).unwrap();
    let ed25519 = ed_as(Algorithm::Ed25519, "ed").sign(&claims()).unwrap();
    let only_eddsa = Validation::new([Algorithm::EdDSA]);
    assert!(verify(&eddsa, &ring, &only_eddsa, NOW).is_ok());
    assert_eq!(
        verify(&ed25519, &ring, &only_eddsa, NOW),
        Err(JwtError::UnsupportedAlgorithm)
    );
    let only_ed25519 = Validation::new([Algorithm::Ed25519]);
    assert!(verify(&ed25519, &ring, &only_ed25519, NOW).is_ok());
    assert_eq!(
        verify(&eddsa, &ring, &only_ed25519, NOW),
        Err(JwtError::UnsupportedAlgorithm)
    );
}

#[test]
fn renaming_the_header_alg_of_a_signed_token_breaks_its_signature() {
    // The header is signed: switching EdDSA for Ed25519 (or back) is a new token, not a bypass.
    let ring = KeyRing::new(vec![
        VerifyingKey::from_jwk(&ed_public(None), None).unwrap(),
    ]);
    for (from, to) in [(Algorithm::EdDSA, "Ed25519"), (Algorithm::Ed25519, "EdDSA")] {
        let token = ed_as(from, "ed").sign(&claims()).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let renamed = format!(
            "{}.{rest}",
            b64::encode(json!({"alg": to, "kid": "ed"}).to_string())
        );
        assert_eq!(
            verify(&renamed, &ring, &both_names(), NOW),
            Err(JwtError::BadSignature),
            "{from} → {to}"
        );
    }
}

#[test]
fn ed25519_is_never_bound_to_a_p256_rsa_ed448_or_symmetric_jwk() {
    let mut ec = EC.public_jwk().unwrap();
    ec.alg = Some("Ed25519".into());
    let mut rsa = RSA.public_jwk().unwrap();
    rsa.alg = Some("Ed25519".into());
    let ed448 = jwk(json!({
        "kty": "OKP", "crv": "Ed448", "alg": "Ed25519",
        "x": b64::encode([7u8; 57]),
    }));
    let oct = jwk(json!({"kty": "oct", "k": b64::encode(SECRET), "alg": "Ed25519"}));
    for bad in [&ec, &rsa, &ed448] {
        assert!(
            matches!(
                VerifyingKey::from_jwk(bad, None),
                Err(JwtError::InvalidKey(_))
            ),
            "{bad:?}"
        );
        assert!(matches!(
            VerifyingKey::from_jwk(bad, Some(Algorithm::Ed25519)),
            Err(JwtError::InvalidKey(_))
        ));
    }
    assert!(VerifyingKey::from_jwk(&oct, None).is_err());
    // No alg member, but the caller expects Ed25519: the key type decides, and refuses.
    let mut ec_plain = EC.public_jwk().unwrap();
    ec_plain.alg = None;
    assert!(matches!(
        VerifyingKey::from_jwk(&ec_plain, Some(Algorithm::Ed25519)),
        Err(JwtError::InvalidKey(_))
    ));
    // A private key of another type cannot be loaded to sign as Ed25519 either.
    assert!(
        SigningKey::from_private_jwk("x", Algorithm::Ed25519, &EC.private_jwk().unwrap()).is_err()
    );
    assert!(
        SigningKey::from_private_jwk("x", Algorithm::Ed25519, &RSA.private_jwk().unwrap()).is_err()
    );
}

#[test]
fn a_token_named_ed25519_is_refused_by_p256_rsa_and_hmac_keys_with_its_kid() {
    // Each forged token names Ed25519 and is signed by the key whose kid it carries, so only
    // the binding of that key to its own algorithm can refuse it.
    for key in [&*EC, &*RSA] {
        let kid = key.kid().unwrap();
        let token = forge(
            &json!({"alg": "Ed25519", "kid": kid}),
            &Value::Object(claims()),
            key,
        );
        assert_eq!(
            verify(&token, &ring_of(&[key]), &both_names(), NOW),
            Err(JwtError::AlgorithmMismatch),
            "{kid}"
        );
    }
    let (token, ring) = hs_token(
        json!({"alg": "Ed25519", "typ": "JWT"}),
        Value::Object(claims()),
    );
    assert_eq!(
        verify(&token, &ring, &both_names(), NOW),
        Err(JwtError::AlgorithmMismatch)
    );
    // And the reverse: an Ed25519 key under an ES256 header.
    let ring = KeyRing::new(vec![
        VerifyingKey::from_jwk(&ed_public(Some("Ed25519")), None).unwrap(),
    ]);
    let token = forge(
        &json!({"alg": "ES256", "kid": "ed"}),
        &Value::Object(claims()),
        &ED,
    );
    assert_eq!(
        verify(&token, &ring, &both_names(), NOW),
        Err(JwtError::AlgorithmMismatch)
    );
}

#[test]
fn a_jwk_whose_alg_disagrees_with_the_expected_name_is_still_refused() {
    // Binding stays exact: a caller that expects one name and a JWK that declares the other is
    // a configuration mismatch, reported rather than guessed at.
    assert_eq!(
        VerifyingKey::from_jwk(&ed_public(Some("EdDSA")), Some(Algorithm::Ed25519)).err(),
        Some(JwtError::AlgorithmMismatch)
    );
}
