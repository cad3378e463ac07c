use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

#[test]
fn every_algorithm_signs_a_token_that_verifies_with_its_own_public_key() {
    let hs = hs();
    let keyed_hs = SigningKey::hmac(Some("hs-1".into()), SECRET);
    for key in [&*ED, &*EC, &*RSA, &hs, &keyed_hs] {
        let token = key.sign(&claims()).unwrap();
        let verified = check(&token, &ring_of(&[key])).unwrap();
        assert_eq!(verified.alg, key.alg());
        assert_eq!(verified.kid.as_deref(), key.kid());
        assert_eq!(verified.claims.raw(), &claims());
    }
}

#[test]
fn a_token_verifies_with_the_public_jwk_a_jwks_would_publish() {
    for key in every_key() {
        let mut jwk = key.public_jwk().unwrap();
        jwk.kid = key.kid().map(str::to_owned);
        jwk.alg = Some(key.alg().as_str().to_owned());
        let (ring, skipped) = KeyRing::from_jwks(&crate::JwkSet { keys: vec![jwk] });
        assert!(skipped.is_empty());
        let token = key.sign(&claims()).unwrap();
        assert_eq!(check(&token, &ring).unwrap().alg, key.alg());
    }
}

#[test]
fn the_protected_header_is_exactly_alg_and_kid_like_better_auth() {
    let expectations = [
        (&*ED, r#"{"alg":"EdDSA","kid":"ed-1"}"#),
        (&*EC, r#"{"alg":"ES256","kid":"ec-1"}"#),
        (&*RSA, r#"{"alg":"RS256","kid":"rsa-1"}"#),
    ];
    for (key, header) in expectations {
        let token = key.sign(&claims()).unwrap();
        let first = token.split('.').next().unwrap();
        assert_eq!(b64::decode(first, "h").unwrap(), header.as_bytes());
    }
}

#[test]
fn a_kid_less_hmac_key_writes_the_typ_jwt_header_python_jose_expects() {
    let token = hs().sign(&claims()).unwrap();
    let first = token.split('.').next().unwrap();
    assert_eq!(
        b64::decode(first, "h").unwrap(),
        br#"{"alg":"HS256","typ":"JWT"}"#
    );
}

#[test]
fn a_kid_with_json_special_characters_is_escaped_in_the_header() {
    let key = SigningKey::generate(Algorithm::EdDSA, "a\"b\\c").unwrap();
    let token = key.sign(&claims()).unwrap();
    let verified = check(&token, &ring_of(&[&key])).unwrap();
    assert_eq!(verified.kid.as_deref(), Some("a\"b\\c"));
}

#[test]
fn es256_signatures_use_the_fixed_64_byte_jws_form_and_rs256_the_modulus_length() {
    for (key, len) in [(&*ED, 64), (&*EC, 64), (&*RSA, 256)] {
        let token = key.sign(&claims()).unwrap();
        let signature = token.rsplit('.').next().unwrap();
        assert_eq!(
            b64::decode(signature, "s").unwrap().len(),
            len,
            "{:?}",
            key.alg()
        );
    }
}

#[test]
fn claims_accessors_expose_the_verified_values() {
    let token = ED.sign(&claims()).unwrap();
    let claims = check(&token, &ring_of(&[&ED])).unwrap().claims;
    assert_eq!(claims.sub(), "user-1");
    assert_eq!(claims.email(), Some("ada@example.com"));
    assert_eq!(claims.sid(), Some("session-1"));
    assert_eq!(claims.iss(), Some("http://localhost:3000"));
    assert_eq!(claims.exp(), NOW + 900);
    assert_eq!(claims.into_raw()["name"], "Ada");
}

#[test]
fn several_kid_less_hmac_secrets_are_tried_in_order_for_rotation() {
    let old = SigningKey::hmac(None, b"old-secret-0123456789-0123456789-xx");
    let new = hs();
    let ring = ring_of(&[&new, &old]);
    for key in [&old, &new] {
        assert!(check(&key.sign(&claims()).unwrap(), &ring).is_ok());
    }
    let retired = SigningKey::hmac(None, b"retired-secret-0123456789-0123456789");
    assert_eq!(
        check(&retired.sign(&claims()).unwrap(), &ring).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn a_multi_key_ring_picks_the_key_named_by_kid() {
    let ring = ring_of(&[&ED, &EC, &RSA]);
    for key in every_key() {
        let verified = check(&key.sign(&claims()).unwrap(), &ring).unwrap();
        assert_eq!(verified.kid.as_deref(), key.kid());
    }
    assert!(ring.contains_kid("ec-1"));
    assert!(!ring.contains_kid("ec-2"));
    assert!(!ring.is_empty());
    assert!(KeyRing::default().is_empty());
}

#[test]
fn two_generated_keys_of_the_same_algorithm_are_different() {
    let other = SigningKey::generate(Algorithm::EdDSA, "ed-1").unwrap();
    assert_ne!(other.public_jwk(), ED.public_jwk());
    let token = other.sign(&claims()).unwrap();
    assert_eq!(
        check(&token, &ring_of(&[&ED])).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn keys_and_rings_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<SigningKey>();
    shareable::<VerifyingKey>();
    shareable::<KeyRing>();
}

/// JSON values that survive a serde_json round trip exactly (floats are restricted to values
/// with short exact decimal forms; serde_json's default float parser is not always exact).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|i| Value::from(f64::from(i) / 4.0)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_claims_round_trip_unchanged_through_sign_and_verify(
        extra in prop::collection::btree_map(any::<String>(), json_value(), 0..12),
        sub in "[^\u{0}]{1,40}",
    ) {
        let mut claims: Map<String, Value> = extra.into_iter().collect();
        for registered in ["exp", "nbf", "iat", "iss", "aud"] {
            claims.remove(registered);
        }
        claims.insert("sub".into(), json!(sub));
        claims.insert("exp".into(), json!(NOW + 60));
        for key in [&*ED, &hs()] {
            let token = key.sign(&claims).unwrap();
            prop_assume!(token.len() <= crate::MAX_TOKEN_BYTES);
            let verified = check(&token, &ring_of(&[key])).unwrap();
            prop_assert_eq!(verified.claims.raw(), &claims);
            prop_assert_eq!(verified.claims.sub(), sub.as_str());
        }
    }
}
