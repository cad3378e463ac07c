//! RFC 9864: the guard takes `Ed25519` as well as `EdDSA` as the header name for Ed25519 keys,
//! whichever way the JWKS labels them, and never for any other key type.

use serde_json::json;
use tessera_guard::keys::StaticKeys;
use tessera_guard::tessera_jwt::{Algorithm, Jwk, JwkSet, SigningKey};
use tessera_guard::{ConfigError, Guard};

use crate::helpers::*;

/// The shared Ed25519 test key, loaded again to sign under the header name `alg`.
fn ed_named(alg: Algorithm) -> SigningKey {
    SigningKey::from_private_jwk(ED.kid().unwrap(), alg, &ED.private_jwk().unwrap()).unwrap()
}

/// The Ed25519 key as a JWKS entry with the given `alg` member (or none).
fn ed_entry(alg: Option<&str>) -> Jwk {
    let mut jwk = public_jwk(&ED);
    jwk.alg = alg.map(str::to_owned);
    jwk
}

fn guard_over(keys: Vec<Jwk>, clock: &tessera_guard::ManualClock) -> Guard {
    let json = serde_json::to_string(&JwkSet { keys }).unwrap();
    Guard::builder(StaticKeys::from_jwks_json(&json).unwrap())
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .build()
}

fn header_alg(token: &str) -> String {
    let header: serde_json::Value =
        serde_json::from_slice(&unb64(token.split('.').next().unwrap())).unwrap();
    header["alg"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_default_guard_accepts_both_names_whether_the_jwks_says_eddsa_ed25519_or_nothing() {
    let clock = clock();
    let eddsa = sign(&ed_named(Algorithm::EdDSA), &claims());
    let ed25519 = sign(&ed_named(Algorithm::Ed25519), &claims());
    assert_eq!(
        (header_alg(&eddsa), header_alg(&ed25519)),
        ("EdDSA".into(), "Ed25519".into())
    );
    for label in [Some("EdDSA"), Some("Ed25519"), None] {
        let app = app(guard_over(vec![ed_entry(label)], &clock));
        for token in [&eddsa, &ed25519] {
            let reply = get_me(&app, token).await;
            reply.assert_accepted();
            assert_eq!(reply.body["email"], "ada@example.com", "{label:?}");
        }
    }
}

#[tokio::test]
async fn a_guard_narrowed_to_eddsa_refuses_the_name_ed25519_and_the_reverse() {
    let clock = clock();
    let eddsa = sign(&ed_named(Algorithm::EdDSA), &claims());
    let ed25519 = sign(&ed_named(Algorithm::Ed25519), &claims());
    let json = serde_json::to_string(&jwks(&[&ED])).unwrap();
    for (allowed, accepted, refused) in [
        (Algorithm::EdDSA, &eddsa, &ed25519),
        (Algorithm::Ed25519, &ed25519, &eddsa),
    ] {
        let guard = Guard::builder(StaticKeys::from_jwks_json(&json).unwrap())
            .algorithms([allowed])
            .clock(clock.clone())
            .build();
        let app = app(guard);
        get_me(&app, accepted).await.assert_accepted();
        get_me(&app, refused).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn an_ed25519_header_naming_a_p256_or_rsa_key_is_refused() {
    let clock = clock();
    let app = app(guard_over(vec![public_jwk(&EC), public_jwk(&RSA)], &clock));
    // Validly Ed25519-signed (by the test's own key) but naming the P-256 or RSA key's kid:
    // those keys are bound to ES256 and RS256, so neither Ed25519 name can select them.
    let signer = attacker_ed25519();
    for kid in [EC.kid().unwrap(), RSA.kid().unwrap()] {
        for alg in ["Ed25519", "EdDSA"] {
            let token = eddsa_forged(&signer, &json!({"alg": alg, "kid": kid}), &claims());
            get_me(&app, &token).await.assert_invalid_token();
        }
    }
    // The keys themselves still work under their own algorithms.
    get_me(&app, &sign(&EC, &claims())).await.assert_accepted();
    get_me(&app, &sign(&RSA, &claims())).await.assert_accepted();
}

#[test]
fn a_jwks_entry_that_labels_a_p256_rsa_or_ed448_key_ed25519_is_never_used() {
    let mut ec = public_jwk(&EC);
    ec.alg = Some("Ed25519".into());
    let mut rsa = public_jwk(&RSA);
    rsa.alg = Some("Ed25519".into());
    let ed448: Jwk = serde_json::from_value(json!({
        "kty": "OKP", "crv": "Ed448", "alg": "Ed25519", "kid": "ed448", "x": b64([9u8; 57]),
    }))
    .unwrap();
    for bad in [ec, rsa, ed448] {
        let json = serde_json::to_string(&JwkSet {
            keys: vec![bad.clone()],
        })
        .unwrap();
        // The only entry is unusable, so the set holds no key at all.
        assert!(
            matches!(
                StaticKeys::from_jwks_json(&json),
                Err(ConfigError::NoUsableKey)
            ),
            "{bad:?}"
        );
    }
}
