//! The jwt_tool attack playbook (ticarpi/jwt_tool 2.2.7) and RFC 8725 §3 through the guard:
//! every forged, tampered or malformed token is a 401 `Invalid or expired token`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use tessera_guard::keys::StaticKeys;
use tessera_guard::tessera_jwt::{Algorithm, KeyRing, VerifyingKey};
use tessera_guard::{Guard, ManualClock};

use crate::helpers::*;

/// Flips one character of a base64url text to another alphabet character.
fn flip_char(text: &str, index: usize) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let clock = clock();
    let asymmetric = app(asymmetric_guard(&clock));
    for key in asymmetric_keys() {
        let token = sign(key, &claims());
        // Same signature over a payload naming another user.
        let forged = claims_with(json!({ "sub": "admin", "id": "admin" }));
        let tampered = with_part(&token, 1, &b64(Value::Object(forged).to_string()));
        get_me(&asymmetric, &tampered).await.assert_invalid_token();
    }
    let token = sign(&hs_key(), &claims());
    let tampered = with_part(
        &token,
        1,
        &b64(Value::Object(claims_with(json!({ "sub": "admin" }))).to_string()),
    );
    get_me(&app(hs256_guard(&clock)), &tampered)
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn a_tampered_or_truncated_signature_is_refused() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for key in asymmetric_keys() {
        let token = sign(key, &claims());
        let signature = token.rsplit('.').next().unwrap();
        get_me(&app, &with_part(&token, 2, &flip_char(signature, 5)))
            .await
            .assert_invalid_token();
        // jwt_tool's pre-scan: the last four signature characters cut.
        get_me(
            &app,
            &with_part(&token, 2, &signature[..signature.len() - 4]),
        )
        .await
        .assert_invalid_token();
    }
}

#[tokio::test]
async fn alg_none_is_refused_in_every_letter_case_signed_or_not() {
    let clock = clock();
    for guard in [asymmetric_guard(&clock), hs256_guard(&clock)] {
        let app = app(guard);
        for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
            for kid in [None, Some("ed-1")] {
                let mut header = json!({ "alg": alg, "typ": "JWT" });
                if let Some(kid) = kid {
                    header["kid"] = json!(kid);
                }
                let unsigned = format!(
                    "{}.{}.",
                    b64(header.to_string()),
                    b64(Value::Object(claims()).to_string())
                );
                get_me(&app, &unsigned).await.assert_invalid_token();
                let signed = hs256_forged(SECRET, &header, &claims());
                get_me(&app, &signed).await.assert_invalid_token();
            }
        }
    }
}

#[tokio::test]
async fn a_token_with_an_empty_signature_is_refused() {
    let clock = clock();
    let asymmetric = app(asymmetric_guard(&clock));
    for key in asymmetric_keys() {
        let token = sign(key, &claims());
        get_me(&asymmetric, &with_part(&token, 2, ""))
            .await
            .assert_invalid_token();
    }
    let token = sign(&hs_key(), &claims());
    get_me(&app(hs256_guard(&clock)), &with_part(&token, 2, ""))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn an_all_zero_es256_psychic_signature_is_refused() {
    let clock = clock();
    let token = sign(&EC, &claims());
    let zero = with_part(&token, 2, &b64([0u8; 64]));
    get_me(&app(asymmetric_guard(&clock)), &zero)
        .await
        .assert_invalid_token();
}

/// A guard where key confusion could bite: the three asymmetric keys *and* the kid-less HS256
/// secret in one ring, all four algorithms allowed (a deployment migrating between modes).
fn asymmetric_and_hs256_guard(clock: &ManualClock) -> Guard {
    let mut keys: Vec<VerifyingKey> = asymmetric_keys()
        .iter()
        .map(|k| VerifyingKey::from_signing_key(k))
        .collect();
    keys.push(VerifyingKey::hmac(None, SECRET));
    Guard::builder(StaticKeys::new(KeyRing::new(keys)))
        .algorithms([
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::RS256,
            Algorithm::HS256,
        ])
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .build()
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_servers_public_key_is_refused() {
    // RS/ES/EdDSA→HS256 key confusion (CVE-2016-10555): the attacker HMACs with every public
    // form of the key they can get from the JWKS. The guard allows HS256 and holds a shared
    // secret, so an HS256 token is verified, not refused by the allow-list: only the rule that
    // an asymmetric key never acts as an HMAC secret stands in the way.
    let clock = clock();
    let app = app(asymmetric_and_hs256_guard(&clock));
    let genuine = hs256_forged(SECRET, &json!({ "alg": "HS256", "typ": "JWT" }), &claims());
    get_me(&app, &genuine).await.assert_accepted();
    for key in asymmetric_keys() {
        get_me(&app, &sign(key, &claims())).await.assert_accepted();
        let jwk = public_jwk(key);
        let mut secrets = vec![
            serde_json::to_vec(&jwk).unwrap(),
            serde_json::to_vec(&jwks(&[key])).unwrap(),
        ];
        for member in [&jwk.x, &jwk.y, &jwk.n].into_iter().flatten() {
            secrets.push(member.as_bytes().to_vec());
            secrets.push(unb64(member));
        }
        for secret in &secrets {
            for header in [
                json!({ "alg": "HS256", "kid": key.kid() }),
                json!({ "alg": "HS256", "typ": "JWT" }),
            ] {
                get_me(&app, &hs256_forged(secret, &header, &claims()))
                    .await
                    .assert_invalid_token();
            }
        }
    }
}

#[tokio::test]
async fn a_token_carrying_its_own_jwk_is_refused() {
    // CVE-2018-0114: the attacker embeds their public key and signs with its private half.
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let attacker = attacker_ed25519();
    let attacker_jwk = json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64(ring::signature::KeyPair::public_key(&attacker).as_ref()),
    });
    for header in [
        json!({ "alg": "EdDSA", "kid": "ed-1", "jwk": attacker_jwk }),
        json!({ "alg": "EdDSA", "jwk": attacker_jwk }),
    ] {
        get_me(&app, &eddsa_forged(&attacker, &header, &claims()))
            .await
            .assert_invalid_token();
    }
    // The same headers under a valid signature of the trusted key: the signature cannot be
    // what refuses these, only the rule that a header never carries a key.
    let trusted_jwk = serde_json::to_value(public_jwk(&ED)).unwrap();
    let plain = json!({ "alg": "EdDSA", "kid": "ed-1" });
    get_me(&app, &eddsa_forged(&ED_PAIR, &plain, &claims()))
        .await
        .assert_accepted();
    for jwk in [attacker_jwk, trusted_jwk] {
        let mut header = plain.clone();
        header["jwk"] = jwk;
        get_me(&app, &eddsa_forged(&ED_PAIR, &header, &claims()))
            .await
            .assert_invalid_token();
    }
}

/// A server counting how often anything asks it for a key set.
async fn counting_key_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let attacker = attacker_ed25519();
    let jwks = json!({ "keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
        "x": b64(ring::signature::KeyPair::public_key(&attacker).as_ref()),
    }]});
    let router = Router::new().fallback(get(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let jwks = jwks.clone();
        async move { axum::Json(jwks) }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, hits)
}

#[tokio::test]
async fn jku_and_x5u_headers_are_refused_and_never_fetched() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let (url, hits) = counting_key_server().await;
    let locations = [
        ("jku", json!(format!("{url}/jwks.json"))),
        ("x5u", json!(format!("{url}/cert.pem"))),
        ("x5c", json!(["MIIB"])),
    ];
    // Validly signed by the trusted key `ed-1`: without its key-location member each token
    // gets in, so only the header rule can refuse it.
    let plain = json!({ "alg": "EdDSA", "kid": "ed-1" });
    get_me(&app, &eddsa_forged(&ED_PAIR, &plain, &claims()))
        .await
        .assert_accepted();
    for (member, value) in &locations {
        let mut header = plain.clone();
        header[*member] = value.clone();
        get_me(&app, &eddsa_forged(&ED_PAIR, &header, &claims()))
            .await
            .assert_invalid_token();
    }
    // The attack as sent: signed with the key the attacker's URL would serve.
    let attacker = attacker_ed25519();
    for header in [
        json!({ "alg": "EdDSA", "kid": "ed-1", "jku": format!("{url}/jwks.json") }),
        json!({ "alg": "EdDSA", "jku": format!("{url}/jwks.json") }),
        json!({ "alg": "EdDSA", "kid": "ed-1", "x5u": format!("{url}/cert.pem") }),
    ] {
        get_me(&app, &eddsa_forged(&attacker, &header, &claims()))
            .await
            .assert_invalid_token();
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a URL from a token header was dereferenced"
    );
}

#[tokio::test]
async fn a_crit_or_zip_header_is_refused() {
    let clock = clock();
    let app = app(hs256_guard(&clock));
    for header in [
        json!({ "alg": "HS256", "crit": ["exp"], "exp": NOW + 60 }),
        json!({ "alg": "HS256", "zip": "DEF" }),
    ] {
        get_me(&app, &hs256_forged(SECRET, &header, &claims()))
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn unknown_kids_and_injection_strings_in_kid_find_no_key() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let too_long = "k".repeat(300);
    let kids = [
        "unknown",
        "",
        "ED-1",
        "ed-1 ",
        "ed-1\u{0}",
        "../../../../../../dev/null",
        "/dev/null",
        "/invalid_path",
        "|sleep 10",
        "| curl http://127.0.0.1:1/",
        "x' UNION SELECT '1';--",
        "\" OR \"1\"=\"1",
        "${jndi:ldap://127.0.0.1/a}",
        too_long.as_str(),
    ];
    for kid in kids {
        // jwt_tool signs these with an empty key, with "1", and with the real algorithms.
        for secret in [b"".as_slice(), b"1", SECRET] {
            let token = hs256_forged(secret, &json!({ "alg": "HS256", "kid": kid }), &claims());
            get_me(&app, &token).await.assert_invalid_token();
        }
        let attacker = attacker_ed25519();
        let token = eddsa_forged(&attacker, &json!({ "alg": "EdDSA", "kid": kid }), &claims());
        get_me(&app, &token).await.assert_invalid_token();
    }
    // A kid that is not a string at all.
    for kid in [
        json!(1),
        json!(null),
        json!(["ed-1"]),
        json!({ "kid": "ed-1" }),
    ] {
        let token = eddsa_forged(
            &attacker_ed25519(),
            &json!({ "alg": "EdDSA", "kid": kid }),
            &claims(),
        );
        get_me(&app, &token).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn a_token_over_8_kib_is_refused_even_when_validly_signed() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let big = sign(
        &ED,
        &claims_with(json!({ "padding": "x".repeat(8 * 1024) })),
    );
    assert!(big.len() > 8 * 1024);
    get_me(&app, &big).await.assert_invalid_token();
    // Just under the limit is still fine: the cap is on size, not on content.
    let fits = sign(
        &ED,
        &claims_with(json!({ "padding": "x".repeat(5 * 1024) })),
    );
    assert!(fits.len() < 8 * 1024);
    get_me(&app, &fits).await.assert_accepted();
}

#[tokio::test]
async fn bad_base64_or_a_wrong_number_of_parts_is_refused() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&ED, &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut bad = vec![
        // Standard-alphabet and padding characters are not base64url.
        with_part(&token, 0, &format!("{}+", parts[0])),
        with_part(&token, 1, &format!("{}=", parts[1])),
        with_part(&token, 2, &format!("{}/", parts[2])),
        with_part(&token, 1, "!!!!"),
        // An impossible base64 length.
        with_part(&token, 1, &format!("{}A", parts[1])),
        // Header that is not JSON, or not an object.
        with_part(&token, 0, &b64("not json")),
        with_part(&token, 0, &b64("[\"EdDSA\"]")),
        "".to_owned(),
        ".".to_owned(),
        "..".to_owned(),
        "a.b".to_owned(),
        format!("{token}.extra"),
        parts[..2].join("."),
        "not-a-jwt".to_owned(),
    ];
    bad.push(format!("{}.{}.{}", parts[0], parts[1], "é"));
    for token in bad {
        get_me(&app, &token).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn a_token_validly_signed_by_a_trusted_key_but_naming_another_kid_finds_no_key() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    // Signed by the trusted key `ed-1`, so only the kid lookup can refuse these.
    let plain = json!({ "alg": "EdDSA", "kid": "ed-1" });
    get_me(&app, &eddsa_forged(&ED_PAIR, &plain, &claims()))
        .await
        .assert_accepted();
    for kid in [
        "ED-1",
        "ed-1 ",
        "ed-1\u{0}",
        " ed-1",
        "ed-",
        "unknown",
        "",
        "ec-1",
    ] {
        let header = json!({ "alg": "EdDSA", "kid": kid });
        get_me(&app, &eddsa_forged(&ED_PAIR, &header, &claims()))
            .await
            .assert_invalid_token();
    }
    // Without a kid it is matched only against kid-less keys, and this ring has none.
    let kidless = json!({ "alg": "EdDSA" });
    get_me(&app, &eddsa_forged(&ED_PAIR, &kidless, &claims()))
        .await
        .assert_invalid_token();
}
