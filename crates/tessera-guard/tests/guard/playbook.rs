//! The rest of the jwt_tool attack playbook (ticarpi/jwt_tool 2.2.7) against the guard: the
//! cases `attacks.rs`, `claims.rs`, `algorithms.rs` and `header.rs` leave out, and the ones they
//! cover only in one key mode. Already covered there, and not repeated here: a tampered payload
//! or signature, `alg: none` in five letter cases, an empty signature, the all-zero ES256
//! signature, HS256 keyed with the JWK/JWKS JSON and raw JWK members, an embedded `jwk`,
//! `jku`/`x5u`/`x5c` with a counting server and a static key set, `crit`/`zip`, fourteen `kid`
//! injection strings, a > 8 KiB token, bad base64 and part counts (attacks.rs); `exp`/`nbf`
//! windows, leeway, issuer/audience/subject and a first set of wrong claim types (claims.rs).
//!
//! Most tests use a "mixed" guard that trusts an Ed25519 and a P-256 key whose private halves
//! this file holds (so it can sign *any* header validly), the shared RSA key, and the kid-less
//! HS256 secret, all four algorithms allowed: the configuration where key confusion would bite.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use serde_json::{Map, Value, json};
use tessera_guard::keys::StaticKeys;
use tessera_guard::tessera_jwt::{Algorithm, Jwk, KeyRing, VerifyingKey};
use tessera_guard::{Guard, ManualClock};

use crate::helpers::*;

/// Key pairs whose private halves the playbook holds.
struct Own {
    ed: Ed25519KeyPair,
    ec: EcdsaKeyPair,
}

static OWN: LazyLock<Own> = LazyLock::new(|| {
    let rng = SystemRandom::new();
    let ec_pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    Own {
        ed: attacker_ed25519(),
        ec: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pkcs8.as_ref(), &rng)
            .unwrap(),
    }
});

/// Who signs a forged token.
#[derive(Clone, Copy)]
enum Signer<'a> {
    /// The trusted Ed25519 key `own-ed`.
    Ed,
    /// The trusted P-256 key `own-ec`.
    Ec,
    /// HMAC-SHA-256 under this secret ([`SECRET`] is the trusted one).
    Hs(&'a [u8]),
}

/// `base64url(header).base64url(payload).base64url(signature)` over the exact texts given, so
/// tests can send JSON no serialiser would write (duplicate members, `1e400`, raw NULs).
fn forge_raw(header: &str, payload: &str, signer: Signer<'_>) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = match signer {
        Signer::Ed => OWN.ed.sign(input.as_bytes()).as_ref().to_vec(),
        Signer::Ec => OWN
            .ec
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
        Signer::Hs(secret) => ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            input.as_bytes(),
        )
        .as_ref()
        .to_vec(),
    };
    format!("{input}.{}", b64(signature))
}

fn forge(header: &Value, claims: &Map<String, Value>, signer: Signer<'_>) -> String {
    forge_raw(
        &header.to_string(),
        &Value::Object(claims.clone()).to_string(),
        signer,
    )
}

/// The usual header of each trusted signer.
fn header_for(signer: Signer<'_>) -> Value {
    match signer {
        Signer::Ed => json!({ "alg": "EdDSA", "kid": "own-ed" }),
        Signer::Ec => json!({ "alg": "ES256", "kid": "own-ec" }),
        Signer::Hs(_) => json!({ "alg": "HS256", "typ": "JWT" }),
    }
}

const TRUSTED: [Signer<'static>; 3] = [Signer::Ed, Signer::Ec, Signer::Hs(SECRET)];

fn own_ed_jwk() -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(b64(OWN.ed.public_key().as_ref())),
        kid: Some("own-ed".into()),
        ..Jwk::default()
    }
}

fn own_ec_point() -> Vec<u8> {
    OWN.ec.public_key().as_ref().to_vec()
}

fn own_ec_jwk() -> Jwk {
    let point = own_ec_point();
    Jwk {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some(b64(&point[1..33])),
        y: Some(b64(&point[33..65])),
        kid: Some("own-ec".into()),
        ..Jwk::default()
    }
}

/// own-ed, own-ec, the shared RSA key and the kid-less HS256 secret; every algorithm allowed;
/// issuer and audience pinned.
fn mixed_guard(clock: &ManualClock) -> Guard {
    let ring = KeyRing::new(vec![
        VerifyingKey::from_jwk(&own_ed_jwk(), None).unwrap(),
        VerifyingKey::from_jwk(&own_ec_jwk(), None).unwrap(),
        VerifyingKey::from_signing_key(&RSA),
        VerifyingKey::hmac(None, SECRET),
    ]);
    Guard::builder(StaticKeys::new(ring))
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

fn mixed_app() -> Router {
    app(mixed_guard(&clock()))
}

/// Sends `token` to `/me` and says whether it got in (asserting the two possible answers).
async fn accepted(app: &Router, token: &str) -> bool {
    let reply = get_me(app, token).await;
    if reply.status == StatusCode::OK {
        true
    } else {
        reply.assert_invalid_token();
        false
    }
}

#[tokio::test]
async fn the_fixtures_of_this_file_are_accepted_when_untouched() {
    let app = mixed_app();
    for signer in TRUSTED {
        get_me(&app, &forge(&header_for(signer), &claims(), signer))
            .await
            .assert_accepted();
    }
    get_me(&app, &sign(&RSA, &claims())).await.assert_accepted();
}

#[tokio::test]
async fn pre_scan_tells_a_missing_token_from_a_broken_one_and_keeps_accepting_the_good_one() {
    // jwt_tool's pre-scan: original, no token, last four signature characters cut, original again.
    let app = mixed_app();
    let good = forge(&header_for(Signer::Ed), &claims(), Signer::Ed);
    get_me(&app, &good).await.assert_accepted();
    let missing = get_with(&app, "/me", None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.body,
        json!({ "detail": "Missing authorization header" })
    );
    get_me(&app, &good[..good.len() - 4])
        .await
        .assert_invalid_token();
    get_me(&app, &good).await.assert_accepted();
}

#[tokio::test]
async fn claims_and_header_members_are_never_used_before_the_signature_verifies() {
    // jwt_tool's claim-processing check (a marker must never be reflected) and `-M er` (every
    // member set to null/true/false/"jwt_tool"/0), all under the original signature.
    let app = mixed_app();
    let marker = "jwt_tool_marker_7f3a";
    let replacements = [
        json!(marker),
        json!(null),
        json!(true),
        json!(false),
        json!("jwt_tool"),
        json!(0),
    ];
    for signer in TRUSTED {
        let header = header_for(signer);
        let token = forge(&header, &claims(), signer);
        let signature = token.rsplit('.').next().unwrap();
        for replacement in &replacements {
            for (name, original) in claims() {
                if original == *replacement {
                    continue;
                }
                let mut changed = claims();
                changed.insert(name, replacement.clone());
                let tampered = format!(
                    "{}.{}.{signature}",
                    b64(header.to_string()),
                    b64(Value::Object(changed).to_string())
                );
                let reply = get_me(&app, &tampered).await;
                reply.assert_invalid_token();
                assert!(!reply.body.to_string().contains(marker));
                assert!(!reply.www_authenticate.unwrap_or_default().contains(marker));
            }
            for name in header.as_object().unwrap().keys() {
                if header[name] == *replacement {
                    continue;
                }
                let mut changed = header.clone();
                changed[name] = replacement.clone();
                let tampered = format!(
                    "{}.{}.{signature}",
                    b64(changed.to_string()),
                    b64(Value::Object(claims()).to_string())
                );
                get_me(&app, &tampered).await.assert_invalid_token();
            }
        }
    }
}

#[tokio::test]
async fn registered_claims_set_to_jwt_tool_values_fail_closed_even_when_validly_signed() {
    // `-M er`/`-M cc` with a valid signature: wrong JSON types are refused, never skipped
    // (jsonwebtoken CVE-2026-25537). Only values that are valid by RFC 7519 get through.
    let app = mixed_app();
    let url = "http://127.0.0.1:9/jwt_tool";
    for (claim, value, ok) in [
        ("exp", json!(null), false),
        ("exp", json!(true), false),
        ("exp", json!(false), false),
        ("exp", json!("jwt_tool"), false),
        ("exp", json!(0), false),
        ("exp", json!(url), false),
        ("nbf", json!(null), false),
        ("nbf", json!(true), false),
        ("nbf", json!("jwt_tool"), false),
        ("nbf", json!(0), true),
        ("iat", json!(null), false),
        ("iat", json!(false), false),
        ("iat", json!("jwt_tool"), false),
        ("iat", json!(0), true),
        ("iss", json!(null), false),
        ("iss", json!(true), false),
        ("iss", json!("jwt_tool"), false),
        ("iss", json!(0), false),
        ("iss", json!(url), false),
        ("aud", json!(null), false),
        ("aud", json!(false), false),
        ("aud", json!("jwt_tool"), false),
        ("aud", json!(0), false),
        ("aud", json!(url), false),
        ("sub", json!(null), false),
        ("sub", json!(true), false),
        ("sub", json!(0), false),
        ("sub", json!("jwt_tool"), true),
    ] {
        // Inserted as given: `claims_with` would read `null` as "remove".
        let mut changed = claims();
        changed.insert(claim.to_owned(), value.clone());
        for signer in TRUSTED {
            let token = forge(&header_for(signer), &changed, signer);
            assert_eq!(accepted(&app, &token).await, ok, "{claim} = {value}");
        }
    }
}

/// Secrets from public examples and defaults (jwt.io, tutorials, framework templates).
const COMMON_SECRETS: [&str; 16] = [
    "",
    "secret",
    "Secret",
    "password",
    "123456",
    "changeme",
    "key",
    "jwt",
    "test",
    "1",
    "null",
    "undefined",
    "your-256-bit-secret",
    "secretkey",
    "better-auth-secret",
    "a-string-secret-at-least-256-bits-long",
];

#[tokio::test]
async fn tokens_signed_with_blank_or_well_known_hmac_secrets_never_verify() {
    // jwt_tool's secret cracking, blank key `-X b` (CVE-2019-20933, CVE-2020-28637), common keys.
    let mixed = mixed_app();
    let hs = app(hs256_guard(&clock()));
    for secret in COMMON_SECRETS {
        for header in [
            json!({ "alg": "HS256", "typ": "JWT" }),
            json!({ "alg": "HS256" }),
            json!({ "alg": "HS256", "kid": "own-ed" }),
        ] {
            let token = forge(&header, &claims(), Signer::Hs(secret.as_bytes()));
            get_me(&mixed, &token).await.assert_invalid_token();
            get_me(&hs, &token).await.assert_invalid_token();
        }
        // And none under 32 bytes is even accepted as a guard's secret.
        if secret.len() < 32 {
            assert!(Guard::hs256([secret.as_bytes()]).is_err(), "{secret:?}");
        }
    }
}

#[tokio::test]
async fn a_kid_in_shared_secret_mode_finds_no_secret_even_when_signed_with_the_right_one() {
    // HS256 secrets are kid-less: a kid (injection string or not) matches nothing, so the
    // key lookup can never be steered, even by someone holding the secret.
    let hs = app(hs256_guard(&clock()));
    for kid in [
        "",
        "0",
        "../../../../dev/null",
        "x' UNION SELECT 'secret';--",
        "|id",
    ] {
        let token = forge(
            &json!({ "alg": "HS256", "kid": kid }),
            &claims(),
            Signer::Hs(SECRET),
        );
        get_me(&hs, &token).await.assert_invalid_token();
    }
}

/// DER length octets.
fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let mut content = bytes.to_vec();
    if content.first().is_some_and(|&b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    der(0x02, &content)
}

fn pem(label: &str, der: &[u8], line_end: &str) -> String {
    let text = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----{line_end}");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str(line_end);
    }
    out.push_str(&format!("-----END {label}-----{line_end}"));
    out
}

/// Every byte string an attacker could take for "the server's public key": SPKI DER and PEM
/// (LF, CRLF, no final newline), PKCS#1 PEM for RSA (CVE-2017-11424, fast-jwt
/// CVE-2023-48223), the raw key bytes and their base64url text.
fn public_key_encodings() -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    let ed_raw = OWN.ed.public_key().as_ref().to_vec();
    let ed_spki = [hex_bytes("302a300506032b6570032100"), ed_raw.clone()].concat();
    let ec_raw = own_ec_point();
    let ec_spki = [
        hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
        ec_raw.clone(),
    ]
    .concat();
    let rsa_jwk = public_jwk(&RSA);
    let n = unb64(rsa_jwk.n.as_deref().unwrap());
    let e = unb64(rsa_jwk.e.as_deref().unwrap());
    let pkcs1 = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
    let algorithm = der(
        0x30,
        &[hex_bytes("06092a864886f70d010101"), hex_bytes("0500")].concat(),
    );
    let rsa_spki = der(
        0x30,
        &[algorithm, der(0x03, &[vec![0], pkcs1.clone()].concat())].concat(),
    );
    let mut out = Vec::new();
    for (name, kid, raw, spki) in [
        ("Ed25519", "own-ed", ed_raw, ed_spki),
        ("P-256", "own-ec", ec_raw, ec_spki),
        ("RSA", "rsa-1", n.clone(), rsa_spki),
    ] {
        out.push((name, Some(kid), spki.clone()));
        for line_end in ["\n", "\r\n"] {
            let text = pem("PUBLIC KEY", &spki, line_end);
            out.push((name, Some(kid), text.clone().into_bytes()));
            out.push((name, Some(kid), text.trim_end().as_bytes().to_vec()));
        }
        out.push((name, Some(kid), b64(&raw).into_bytes()));
        out.push((name, Some(kid), raw));
    }
    out.push((
        "RSA",
        Some("rsa-1"),
        pem("RSA PUBLIC KEY", &pkcs1, "\n").into_bytes(),
    ));
    out.push(("RSA", Some("rsa-1"), pkcs1));
    out
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_hand_built_key_encodings_are_well_formed() {
    // The PKCS#1 form is what ring itself verifies RSA signatures with, so a signature by the
    // shared RSA key checks out under it; the SPKI forms have their standard sizes and embed
    // the key.
    let encodings = public_key_encodings();
    let pkcs1 = &encodings.last().unwrap().2;
    let token = sign(&RSA, &claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, pkcs1)
        .verify(input.as_bytes(), &unb64(signature))
        .expect("the PKCS#1 encoding is the RSA key");
    let rsa_n = unb64(public_jwk(&RSA).n.as_deref().unwrap());
    let rsa_spki = &encodings
        .iter()
        .find(|(name, _, bytes)| *name == "RSA" && bytes.first() == Some(&0x30))
        .unwrap()
        .2;
    assert!(rsa_spki.windows(rsa_n.len()).any(|w| w == rsa_n));
    assert_eq!(
        rsa_spki.len(),
        294,
        "a 2048-bit RSA SubjectPublicKeyInfo is 294 bytes"
    );
    assert_eq!(
        encodings[0].2.len(),
        44,
        "an Ed25519 SubjectPublicKeyInfo is 44 bytes"
    );
}

#[tokio::test]
async fn hs256_keyed_with_any_encoding_of_a_trusted_public_key_is_refused() {
    // jwt_tool's `-X k` (CVE-2016-10555), beyond attacks.rs's JWK forms: SPKI DER/PEM, PKCS#1,
    // raw bytes; with the key's kid and without; against the mixed guard, which does accept
    // HS256 (with its own secret) and so is where confusion would show.
    let mixed = mixed_app();
    for (name, kid, secret) in public_key_encodings() {
        for header in [
            json!({ "alg": "HS256", "kid": kid }),
            json!({ "alg": "HS256", "typ": "JWT" }),
            json!({ "alg": "HS256" }),
        ] {
            let token = forge(&header, &claims(), Signer::Hs(&secret));
            let reply = get_me(&mixed, &token).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name} {header}");
            reply.assert_invalid_token();
        }
    }
}

#[tokio::test]
async fn alg_names_in_other_letter_cases_or_with_padding_are_refused_despite_valid_signatures() {
    let app = mixed_app();
    let cases: [(Signer<'_>, Option<&str>, &[&str]); 3] = [
        (
            Signer::Ed,
            Some("own-ed"),
            &[
                "eddsa",
                "EDDSA",
                "Eddsa",
                "EdDsa",
                "EdDSA ",
                " EdDSA",
                "EdDSA\u{0}",
                "Ed25519",
                "ED25519",
                "EdDSA\u{200b}",
            ],
        ),
        (
            Signer::Ec,
            Some("own-ec"),
            &[
                "es256", "Es256", "eS256", "ES256 ", "ES256K", "ES384", "ECDSA",
            ],
        ),
        (
            Signer::Hs(SECRET),
            None,
            &[
                "hs256", "Hs256", "hS256", "HS256 ", "HS384", "HS512", "HMAC", "HS 256",
            ],
        ),
    ];
    for (signer, kid, names) in cases {
        for name in names {
            let mut header = json!({ "alg": name });
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let token = forge(&header, &claims(), signer);
            get_me(&app, &token).await.assert_invalid_token();
        }
    }
    // An alg that is not a string at all.
    for alg in [
        json!(["EdDSA"]),
        json!({ "name": "EdDSA" }),
        json!(null),
        json!(1),
    ] {
        let token = forge(
            &json!({ "alg": alg, "kid": "own-ed" }),
            &claims(),
            Signer::Ed,
        );
        get_me(&app, &token).await.assert_invalid_token();
    }
}

/// P-256 group order n.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/// `a - b` on 32-byte big-endian numbers (a ≥ b).
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

#[tokio::test]
async fn psychic_and_malformed_es256_signatures_are_refused() {
    // CVE-2022-21449 variants beyond r = s = 0 (attacks.rs): components equal to the group
    // order, zero with a valid partner, wrong lengths, and the DER form of a valid signature
    // (JWS requires the fixed 64-byte r||s form).
    let app = mixed_app();
    let token = forge(&header_for(Signer::Ec), &claims(), Signer::Ec);
    let signature = unb64(token.rsplit('.').next().unwrap());
    let (r, s) = signature.split_at(32);
    let n = hex_bytes(P256_N);
    let zero = [0u8; 32];
    let mut bad: Vec<Vec<u8>> = vec![
        [&zero[..], s].concat(),
        [r, &zero[..]].concat(),
        [&n[..], &n[..]].concat(),
        [&zero[..], &n[..]].concat(),
        [&n[..], &zero[..]].concat(),
        [r, &n[..]].concat(),
        [&n[..], s].concat(),
        vec![0; 32],
        vec![0; 63],
        vec![0; 65],
        vec![0; 96],
        [&signature[..], &[0]].concat(),
        signature[..63].to_vec(),
    ];
    bad.push(der(0x30, &[der_uint(r), der_uint(s)].concat()));
    for candidate in bad {
        get_me(&app, &with_part(&token, 2, &b64(&candidate)))
            .await
            .assert_invalid_token();
    }
    get_me(&app, &token).await.assert_accepted();
}

#[tokio::test]
async fn an_es256_signature_has_a_malleable_twin_so_nothing_may_key_on_the_token_string() {
    // ECDSA (r, s) and (r, n - s) both verify; RFC 7518 does not ask for low-s, and ring (like
    // jose) accepts both. So two different token strings carry the same verified claims:
    // deny-lists and replay checks must key on `sid`/`jti`, never on the token text or its hash.
    // docs/security.md records this; the test pins the behaviour.
    let app = mixed_app();
    let token = forge(&header_for(Signer::Ec), &claims(), Signer::Ec);
    let signature = unb64(token.rsplit('.').next().unwrap());
    let (r, s) = signature.split_at(32);
    let twin = [r, &sub_be(&hex_bytes(P256_N), s)[..]].concat();
    let twin_token = with_part(&token, 2, &b64(&twin));
    assert_ne!(twin_token, token);
    get_me(&app, &twin_token).await.assert_accepted();
}

#[tokio::test]
async fn numeric_dates_as_strings_fractions_or_huge_values_follow_rfc_7519() {
    // `exp` rounds down and `nbf` up (towards "less valid"); out-of-range numbers do not parse.
    // A huge `exp` is accepted: the guard trusts the issuer's lifetime (docs/security.md).
    let app = mixed_app();
    let base =
        "\"sub\":\"user-1\",\"iss\":\"http://localhost:3000\",\"aud\":\"http://localhost:3000\"";
    let now = NOW;
    let cases: Vec<(String, bool)> = vec![
        (format!("\"exp\":\"{}\"", now + 900), false),
        (format!("\"exp\":{}.9", now), false),
        (format!("\"exp\":{}.5", now + 60), true),
        (format!("\"exp\":{}", now - 1), false),
        ("\"exp\":1e300".into(), true),
        ("\"exp\":18446744073709551615".into(), true),
        ("\"exp\":-1e300".into(), false),
        ("\"exp\":-9223372036854775808".into(), false),
        ("\"exp\":1e400".into(), false),
        (format!("\"exp\":[{}]", now + 900), false),
        ("\"exp\":{\"$gt\":0}".into(), false),
        (format!("\"exp\":{},\"nbf\":{}.5", now + 900, now), false),
        (format!("\"exp\":{},\"nbf\":{}", now + 900, now), true),
        (format!("\"exp\":{},\"nbf\":1e300", now + 900), false),
        (format!("\"exp\":{},\"nbf\":-1e300", now + 900), true),
        (format!("\"exp\":{},\"nbf\":\"{}\"", now + 900, now), false),
        // `iat` is informational (RFC 7519 §4.1.6): one in the future is not a reason to
        // refuse; only its type is checked.
        (
            format!("\"exp\":{},\"iat\":{}", now + 900, now + 3600),
            true,
        ),
        (format!("\"exp\":{},\"iat\":1e300", now + 900), true),
        (format!("\"exp\":{},\"iat\":\"now\"", now + 900), false),
    ];
    for signer in TRUSTED {
        for (dates, ok) in &cases {
            let payload = format!("{{{base},{dates}}}");
            let token = forge_raw(&header_for(signer).to_string(), &payload, signer);
            assert_eq!(accepted(&app, &token).await, *ok, "{payload}");
        }
    }
}

#[tokio::test]
async fn claim_type_confusion_never_changes_who_the_caller_is() {
    let app = mixed_app();
    for change in [
        json!({ "sub": { "id": "user-1" } }),
        json!({ "sub": true }),
        json!({ "sub": 1.5 }),
        json!({ "aud": [ISSUER, 1] }),
        json!({ "aud": [[ISSUER]] }),
        json!({ "iss": [ISSUER] }),
        json!({ "iss": { "url": ISSUER } }),
    ] {
        for signer in TRUSTED {
            let token = forge(&header_for(signer), &claims_with(change.clone()), signer);
            get_me(&app, &token).await.assert_invalid_token();
        }
    }
    // Better Auth tokens also carry `id`: the caller is `sub`, whatever `id` says.
    let token = forge(
        &header_for(Signer::Ed),
        &claims_with(json!({ "id": "admin" })),
        Signer::Ed,
    );
    let reply = get_me(&app, &token).await;
    reply.assert_accepted();
    assert_eq!(
        get_with(&app, "/api/admin/things", Some(&format!("Bearer {token}")))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A non-string `email` is simply absent, never coerced.
    let token = forge(
        &header_for(Signer::Ed),
        &claims_with(json!({ "email": ["ada@example.com", "admin@example.com"] })),
        Signer::Ed,
    );
    let reply = get_me(&app, &token).await;
    reply.assert_accepted();
    assert_eq!(reply.body["email"], Value::Null);
}

#[tokio::test]
async fn duplicated_json_members_are_refused_even_under_a_valid_signature() {
    // RFC 7515 §5.2 / RFC 8725 §3.7: two parsers could disagree about which value counts.
    let app = mixed_app();
    let claims_text = Value::Object(claims()).to_string();
    let body = &claims_text[1..claims_text.len() - 1];
    let headers = [
        (r#"{"alg":"EdDSA","kid":"own-ed","alg":"none"}"#, Signer::Ed),
        (r#"{"alg":"none","kid":"own-ed","alg":"EdDSA"}"#, Signer::Ed),
        (
            r#"{"alg":"EdDSA","kid":"nobody","kid":"own-ed"}"#,
            Signer::Ed,
        ),
        (
            r#"{"alg":"EdDSA","kid":"own-ed","\u0061lg":"HS256"}"#,
            Signer::Ed,
        ),
        (
            r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
            Signer::Hs(SECRET),
        ),
    ];
    for (header, signer) in headers {
        let token = forge_raw(header, &claims_text, signer);
        get_me(&app, &token).await.assert_invalid_token();
    }
    for extra in [
        r#""sub":"admin""#,
        r#""s\u0075b":"admin""#,
        r#""exp":1"#,
        r#""aud":"http://other""#,
        r#""sub":"user-1""#,
    ] {
        for signer in TRUSTED {
            let payload = format!("{{{body},{extra}}}");
            let token = forge_raw(&header_for(signer).to_string(), &payload, signer);
            get_me(&app, &token).await.assert_invalid_token();
        }
    }
}

#[tokio::test]
async fn null_bytes_are_refused_in_the_header_and_kept_literal_in_claims() {
    let app = mixed_app();
    let claims_text = Value::Object(claims()).to_string();
    // A raw NUL is not JSON; escaped ones make names that match nothing.
    for header in [
        "{\"alg\":\"EdDSA\",\"kid\":\"own-ed\0\"}",
        "{\"alg\":\"EdDSA\0\",\"kid\":\"own-ed\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"own-ed\"}\0",
        r#"{"alg":"EdDSA","kid":"own-ed\u0000"}"#,
        r#"{"alg":"EdDSA\u0000","kid":"own-ed"}"#,
    ] {
        let token = forge_raw(header, &claims_text, Signer::Ed);
        get_me(&app, &token).await.assert_invalid_token();
    }
    // "jku\0" is not `jku`: an unknown member, ignored like any other (RFC 7515 §4) and never
    // followed, so the token is judged on its signature and claims alone.
    let (url, hits) = counting_listener().await;
    let header = format!(r#"{{"alg":"EdDSA","kid":"own-ed","jku\u0000":"{url}/jwks"}}"#);
    get_me(&app, &forge_raw(&header, &claims_text, Signer::Ed))
        .await
        .assert_accepted();
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // A NUL inside `sub` is part of the id: no C-style truncation to "user-1".
    let token = forge(
        &header_for(Signer::Ed),
        &claims_with(json!({ "sub": "user-1\u{0}admin" })),
        Signer::Ed,
    );
    let reply = get_me(&app, &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["user_id"], "user-1\u{0}admin");
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get_with(&app, "/api/user-1/things", Some(&bearer))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A raw NUL in the payload JSON is refused.
    let raw = forge_raw(
        &header_for(Signer::Ed).to_string(),
        &claims_text.replace("user-1", "user-1\0"),
        Signer::Ed,
    );
    get_me(&app, &raw).await.assert_invalid_token();
}

#[tokio::test]
async fn whitespace_or_percent_escapes_inside_the_token_are_refused() {
    let app = mixed_app();
    let token = forge(&header_for(Signer::Ed), &claims(), Signer::Ed);
    let first_dot = token.find('.').unwrap();
    let last_dot = token.rfind('.').unwrap();
    for at in [
        1,
        first_dot,
        first_dot + 1,
        first_dot + 5,
        last_dot,
        last_dot + 3,
        token.len() - 1,
    ] {
        for insert in [" ", "\t", "%20", "+", "="] {
            let mut changed = token.clone();
            changed.insert_str(at, insert);
            let request = Request::get("/me")
                .header(
                    header::AUTHORIZATION,
                    HeaderValue::from_str(&format!("Bearer {changed}")).unwrap(),
                )
                .body(Body::empty())
                .unwrap();
            send(&app, request).await.assert_invalid_token();
        }
    }
    get_me(&app, &token).await.assert_accepted();
}

#[tokio::test]
async fn the_size_cap_is_exactly_8_kib() {
    // 8192 bytes verify, 8193 do not (the cap is checked before any decoding).
    let app = app(hs256_guard(&clock()));
    let mut found = [None, None];
    'search: for header_pad in 0..3 {
        for payload_pad in 5600..6300 {
            let header = json!({ "alg": "HS256", "typ": "JWT", "p": "x".repeat(header_pad) });
            let claims = claims_with(json!({ "aud": null, "pad": "x".repeat(payload_pad) }));
            let token = forge(&header, &claims, Signer::Hs(SECRET));
            match token.len() {
                8192 if found[0].is_none() => found[0] = Some(token),
                8193 if found[1].is_none() => found[1] = Some(token),
                _ => {}
            }
            if found.iter().all(Option::is_some) {
                break 'search;
            }
        }
    }
    let [Some(at_cap), Some(over_cap)] = found else {
        panic!("no token of exactly 8192 and 8193 bytes was built");
    };
    get_me(&app, &at_cap).await.assert_accepted();
    get_me(&app, &over_cap).await.assert_invalid_token();
}

#[tokio::test]
async fn a_better_auth_email_verification_token_is_not_an_access_token() {
    // RFC 8725 §3.12: Better Auth signs its email-verification JWTs with the same shared
    // secret (`{email, iat, exp}`, no `sub`); the HS256 guard must not take one for an access
    // token. Requiring a non-empty `sub` is what keeps the kinds apart. The tokens carry the
    // pinned `iss`, so only the `sub` rule can refuse them (the guard pins its issuer, which
    // Better Auth's verification tokens lack: that alone would hide a missing `sub` check).
    let app = app(hs256_guard(&clock()));
    let with_sub = forge(
        &json!({ "alg": "HS256", "typ": "JWT" }),
        &object(
            json!({ "email": "ada@example.com", "iss": ISSUER, "sub": USER, "iat": NOW, "exp": NOW + 3600 }),
        ),
        Signer::Hs(SECRET),
    );
    get_me(&app, &with_sub).await.assert_accepted();
    let token = forge(
        &json!({ "alg": "HS256", "typ": "JWT" }),
        &object(
            json!({ "email": "ada@example.com", "iss": ISSUER, "iat": NOW, "exp": NOW + 3600 }),
        ),
        Signer::Hs(SECRET),
    );
    get_me(&app, &token).await.assert_invalid_token();
    let update = forge(
        &json!({ "alg": "HS256", "typ": "JWT" }),
        &object(
            json!({ "email": "ada@example.com", "updateTo": "evil@example.com", "iss": ISSUER, "sub": "", "iat": NOW, "exp": NOW + 3600 }),
        ),
        Signer::Hs(SECRET),
    );
    get_me(&app, &update).await.assert_invalid_token();
}

/// A listener that counts every connection attempt, HTTP or not.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let router = Router::new().fallback(get(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "{}" }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, hits)
}

#[tokio::test]
async fn urls_injected_into_every_header_member_and_claim_are_never_dereferenced() {
    // jwt_tool's forced external interaction and `-M cc`: a listener URL in each of the header
    // members jwt_tool tries and in common claims, validly signed.
    let app = mixed_app();
    let (url, hits) = counting_listener().await;
    for member in [
        "typ", "cty", "kid", "x5t", "x5t#S256", "jku", "x5u", "iss", "ref",
    ] {
        for signer in TRUSTED {
            let mut header = header_for(signer);
            header[member] = json!(format!("{url}/{member}"));
            let token = forge(&header, &claims(), signer);
            // Validly signed by a trusted key, so nothing but the header rules decides: `jku`
            // and `x5u` are refused outright, a URL as `kid` names no key, the rest is inert.
            let refused = matches!(member, "jku" | "x5u" | "kid");
            assert_eq!(accepted(&app, &token).await, !refused, "{member}");
        }
    }
    for claim in [
        "iss",
        "sub",
        "aud",
        "jti",
        "azp",
        "picture",
        "website",
        "profile",
        "jku",
        "x5u",
        "client_id",
        "scope",
        "nonce",
        "redirect_uri",
        "callbackURL",
        "image",
    ] {
        for signer in TRUSTED {
            let token = forge(
                &header_for(signer),
                &claims_with(json!({ claim: format!("{url}/{claim}") })),
                signer,
            );
            // Whatever is a plain claim may be carried; the pinned ones refuse a foreign URL.
            let pinned = claim == "iss" || claim == "aud";
            assert_eq!(accepted(&app, &token).await, !pinned, "{claim}");
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a URL from a token was fetched"
    );
}

#[cfg(feature = "remote")]
#[tokio::test]
async fn a_remote_jwks_guard_fetches_only_its_configured_url_whatever_tokens_point_at() {
    // With a remote key source there is a fetch path; jku/x5u/jwk tokens (and unknown kids
    // next to them) must neither reach the attacker's server nor trigger extra refetches.
    use std::time::Duration;
    use tessera_guard::keys::RemoteJwks;

    let (attacker_url, attacker_hits) = counting_listener().await;
    let jwks_hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&jwks_hits);
    let set = serde_json::to_value(jwks(&[&ED])).unwrap();
    let router = Router::new().route(
        "/jwks",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let set = set.clone();
            async move { axum::Json(set) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let clock = clock();
    let source = RemoteJwks::remote(&jwks_url)
        .unwrap()
        .with_cooldown(Duration::from_secs(10))
        .with_clock(clock.clone());
    let app = app(Guard::builder(source)
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .build());
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    assert_eq!(jwks_hits.load(Ordering::SeqCst), 1);

    let attacker = attacker_ed25519();
    let attacker_jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
        "x": b64(attacker.public_key().as_ref()),
    });
    for kid in ["ed-1", "attacker-key", "rotated-key-2"] {
        for (member, value) in [
            ("jku", json!(format!("{attacker_url}/jwks.json"))),
            ("x5u", json!(format!("{attacker_url}/cert.pem"))),
            ("jwk", attacker_jwk.clone()),
            ("x5c", json!([b64(b"not a certificate")])),
        ] {
            let header = json!({ "alg": "EdDSA", "kid": kid, member: value });
            get_me(&app, &eddsa_forged(&attacker, &header, &claims()))
                .await
                .assert_invalid_token();
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        attacker_hits.load(Ordering::SeqCst),
        0,
        "the attacker's URL was fetched"
    );
    assert_eq!(
        jwks_hits.load(Ordering::SeqCst),
        1,
        "tokens with key-location headers never trigger a refetch"
    );
}
