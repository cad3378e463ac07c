//! A valid token of every supported algorithm is accepted, and the allow-list narrows them.

use serde_json::json;
use tessera_guard::Guard;
use tessera_guard::keys::StaticKeys;
use tessera_guard::tessera_jwt::{Algorithm, KeyRing, SigningKey, VerifyingKey};

use crate::helpers::*;

#[tokio::test]
async fn a_valid_token_of_each_asymmetric_algorithm_is_accepted_with_its_claims() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for key in asymmetric_keys() {
        let reply = get_me(&app, &sign(key, &claims())).await;
        reply.assert_accepted();
        assert_eq!(reply.body["email"], "ada@example.com", "{}", key.alg());
        assert_eq!(reply.body["claims"]["name"], "Ada");
        assert_eq!(reply.body["claims"]["iss"], ISSUER);
    }
}

#[tokio::test]
async fn a_valid_hs256_token_is_accepted_in_shared_secret_mode() {
    let clock = clock();
    let app = app(hs256_guard(&clock));
    // Tessera's and the seed's HS256 tokens carry no audience.
    let reply = get_me(&app, &sign(&hs_key(), &claims_with(json!({ "aud": null })))).await;
    reply.assert_accepted();
    assert_eq!(reply.body["email"], "ada@example.com");
}

#[tokio::test]
async fn a_token_signed_with_a_retired_hs256_secret_verifies_while_it_is_still_configured() {
    let clock = clock();
    let old = b"an-older-secret-that-is-still-32-bytes-long".as_slice();
    let guard = Guard::hs256([SECRET, old])
        .unwrap()
        .clock(clock.clone())
        .build();
    let app = app(guard);
    let token = sign(&SigningKey::hmac(None, old), &claims());
    get_me(&app, &token).await.assert_accepted();
}

#[test]
fn hs256_secrets_shorter_than_32_bytes_or_an_empty_list_are_refused_at_start_up() {
    assert!(Guard::hs256([b"short".as_slice()]).is_err());
    assert!(Guard::hs256(Vec::<Vec<u8>>::new()).is_err());
    assert!(Guard::hs256([SECRET]).is_ok());
}

#[tokio::test]
async fn an_algorithm_outside_the_allow_list_is_refused_even_with_a_matching_key() {
    let clock = clock();
    let ring = KeyRing::new(
        asymmetric_keys()
            .iter()
            .map(|k| VerifyingKey::from_signing_key(k))
            .collect(),
    );
    let guard = Guard::builder(StaticKeys::new(ring))
        .algorithms([Algorithm::EdDSA])
        .clock(clock.clone())
        .build();
    let app = app(guard);
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    get_me(&app, &sign(&EC, &claims()))
        .await
        .assert_invalid_token();
    get_me(&app, &sign(&RSA, &claims()))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn an_hs256_token_is_refused_by_a_guard_that_allows_only_asymmetric_algorithms() {
    let clock = clock();
    let mut keys: Vec<VerifyingKey> = asymmetric_keys()
        .iter()
        .map(|k| VerifyingKey::from_signing_key(k))
        .collect();
    keys.push(VerifyingKey::hmac(None, SECRET));
    // Default algorithms of `Guard::builder`: EdDSA, ES256, RS256.
    let guard = Guard::builder(StaticKeys::new(KeyRing::new(keys)))
        .clock(clock.clone())
        .build();
    get_me(&app(guard), &sign(&hs_key(), &claims()))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn a_static_jwks_document_is_a_key_source() {
    let clock = clock();
    let json = serde_json::to_string(&jwks(&[&ED, &RSA])).unwrap();
    let guard = Guard::builder(StaticKeys::from_jwks_json(&json).unwrap())
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .build();
    let app = app(guard);
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    get_me(&app, &sign(&RSA, &claims())).await.assert_accepted();
    get_me(&app, &sign(&EC, &claims()))
        .await
        .assert_invalid_token();
    assert!(StaticKeys::from_jwks_json(r#"{"keys":[]}"#).is_err());
    assert!(StaticKeys::from_jwks_json("not json").is_err());
}

#[tokio::test]
async fn a_header_naming_another_allowed_algorithm_than_its_keys_is_refused() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    // Validly signed by `ed-1`, so only the key↔algorithm binding can refuse the renamed ones:
    // ES256 and RS256 are in this guard's allow-list, just not `ed-1`'s algorithm.
    let bound = json!({ "alg": "EdDSA", "kid": "ed-1" });
    get_me(&app, &eddsa_forged(&ED_PAIR, &bound, &claims()))
        .await
        .assert_accepted();
    for alg in ["ES256", "RS256"] {
        let renamed = json!({ "alg": alg, "kid": "ed-1" });
        get_me(&app, &eddsa_forged(&ED_PAIR, &renamed, &claims()))
            .await
            .assert_invalid_token();
    }
}
