//! jwt_tool 2.2.7's playbook and the RFC 8725 header checks.

use proptest::prelude::*;
use ring::hmac;
use serde_json::{Value, json};

use super::*;

fn payload() -> Value {
    Value::Object(claims())
}

/// Signs `input` with HS256 under an arbitrary secret (the attacker's view of "a key").
fn hs256_with(secret: &[u8], header: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(payload().to_string())
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64::encode(tag))
}

/// Replaces one of the three parts of a token.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

#[test]
fn a_token_with_alg_none_is_rejected_in_any_letter_case() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let (token, ring) = hs_token(json!({"alg": alg}), payload());
        assert_eq!(
            check(&token, &ring).unwrap_err(),
            JwtError::AlgorithmNone,
            "{alg}"
        );
        let unsigned = with_part(&token, 2, "");
        assert_eq!(
            check(&unsigned, &ring).unwrap_err(),
            JwtError::AlgorithmNone,
            "{alg}"
        );
    }
}

#[test]
fn a_token_with_a_crit_header_is_rejected() {
    let (token, ring) = hs_token(
        json!({"alg": "HS256", "crit": ["exp"], "exp": 1}),
        payload(),
    );
    assert_eq!(
        check(&token, &ring).unwrap_err(),
        JwtError::ForbiddenHeader("crit")
    );
}

#[test]
fn key_location_headers_jku_x5u_x5c_and_jwk_are_rejected_never_followed() {
    let embedded = ED.public_jwk().unwrap();
    let cases = [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("jwk", serde_json::to_value(&embedded).unwrap()),
    ];
    for (name, value) in cases {
        let mut header = json!({"alg": "EdDSA", "kid": "ed-1"});
        header[name] = value;
        // Signed by the trusted key itself: the header alone must cause the rejection.
        let token = forge(&header, &payload(), &ED);
        assert_eq!(
            check(&token, &ring_of(&[&ED])).unwrap_err(),
            JwtError::ForbiddenHeader(name)
        );
    }
}

#[test]
fn an_embedded_jwk_with_the_attackers_own_key_is_not_used_for_verification() {
    let attacker = SigningKey::generate(Algorithm::EdDSA, "ed-1").unwrap();
    let header = json!({"alg": "EdDSA", "kid": "ed-1", "jwk": attacker.public_jwk().unwrap()});
    let token = forge(&header, &payload(), &attacker);
    assert_eq!(
        check(&token, &ring_of(&[&ED])).unwrap_err(),
        JwtError::ForbiddenHeader("jwk")
    );
}

#[test]
fn a_zip_header_is_rejected() {
    let (token, ring) = hs_token(json!({"alg": "HS256", "zip": "DEF"}), payload());
    assert_eq!(
        check(&token, &ring).unwrap_err(),
        JwtError::ForbiddenHeader("zip")
    );
}

#[test]
fn kid_injection_strings_find_no_key() {
    let ring = ring_of(&[&ED, &hs()]);
    for kid in [
        "../../../../../../dev/null",
        "/dev/null",
        "/invalid_path",
        "' OR 1=1--",
        "x' UNION SELECT '1';--",
        "|sleep 10",
        "| curl http://127.0.0.1:1/",
        "",
        "ed-1\u{0}",
        "ED-1",
    ] {
        // Signed with an empty key and with "1", as jwt_tool does.
        for secret in [&b""[..], b"1"] {
            let token = hs256_with(secret, &json!({"alg": "HS256", "kid": kid}));
            assert_eq!(
                check(&token, &ring).unwrap_err(),
                JwtError::UnknownKey,
                "{kid:?}"
            );
        }
    }
}

#[test]
fn a_kid_that_is_not_a_string_or_is_too_long_is_malformed() {
    for kid in [
        json!(1),
        json!(null),
        json!(["ed-1"]),
        json!({"a": 1}),
        json!("k".repeat(257)),
    ] {
        let (token, ring) = hs_token(json!({"alg": "HS256", "kid": kid}), payload());
        assert!(matches!(
            check(&token, &ring).unwrap_err(),
            JwtError::Malformed(_)
        ));
    }
    let (token, _) = hs_token(json!({"alg": "HS256", "kid": "é".repeat(256)}), payload());
    assert_eq!(
        check(&token, &KeyRing::default()).unwrap_err(),
        JwtError::UnknownKey
    );
}

#[test]
fn hs256_tokens_keyed_with_a_public_key_never_verify() {
    // RS/ES/EdDSA→HS256 confusion (CVE-2016-10555): HMAC keyed with every public form of the
    // key an attacker could obtain. The key is bound to its own algorithm, so the HS256 header
    // can only ever reach an algorithm mismatch.
    for key in every_key() {
        let jwk = key.public_jwk().unwrap();
        let mut secrets: Vec<Vec<u8>> = vec![serde_json::to_vec(&jwk).unwrap()];
        for text in [&jwk.x, &jwk.y, &jwk.n].into_iter().flatten() {
            secrets.push(text.as_bytes().to_vec());
            secrets.push(b64::decode(text, "m").unwrap());
        }
        let ring = ring_of(&[key]);
        for secret in secrets {
            let header = json!({"alg": "HS256", "kid": key.kid()});
            let token = hs256_with(&secret, &header);
            assert_eq!(
                check(&token, &ring).unwrap_err(),
                JwtError::AlgorithmMismatch
            );
        }
    }
}

#[test]
fn a_token_claiming_another_asymmetric_algorithm_than_its_key_is_rejected() {
    // An ES256 header naming the EdDSA key's kid (and vice versa) must not be attempted.
    for (signer, victim) in [(&*EC, &*ED), (&*ED, &*RSA), (&*RSA, &*EC)] {
        let header = json!({"alg": signer.alg(), "kid": victim.kid()});
        let token = forge(&header, &payload(), signer);
        assert_eq!(
            check(&token, &ring_of(&[victim])).unwrap_err(),
            JwtError::AlgorithmMismatch
        );
    }
}

#[test]
fn an_algorithm_outside_the_allow_list_is_rejected_before_key_lookup() {
    let token = ED.sign(&claims()).unwrap();
    let only_es = Validation::new([Algorithm::ES256]);
    assert_eq!(
        verify(&token, &ring_of(&[&ED]), &only_es, NOW).unwrap_err(),
        JwtError::UnsupportedAlgorithm
    );
    assert_eq!(
        verify(&token, &ring_of(&[&ED]), &Validation::new([]), NOW).unwrap_err(),
        JwtError::UnsupportedAlgorithm
    );
}

#[test]
fn unknown_or_miscased_algorithm_names_are_unsupported() {
    for alg in ["HS512", "PS256", "ES512", "hs256", "Ed25519", ""] {
        let (token, ring) = hs_token(json!({"alg": alg}), payload());
        assert_eq!(
            check(&token, &ring).unwrap_err(),
            JwtError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
}

#[test]
fn a_missing_or_non_string_alg_is_malformed() {
    for header in [
        json!({}),
        json!({"alg": null}),
        json!({"alg": ["HS256"]}),
        json!({"alg": 256}),
    ] {
        let (token, ring) = hs_token(header, payload());
        assert!(matches!(
            check(&token, &ring).unwrap_err(),
            JwtError::Malformed(_)
        ));
    }
}

#[test]
fn a_kid_less_token_is_not_tried_against_keys_that_have_a_kid() {
    let header = json!({"alg": "EdDSA"});
    let token = forge(&header, &payload(), &ED);
    assert_eq!(
        check(&token, &ring_of(&[&ED])).unwrap_err(),
        JwtError::UnknownKey
    );
    // …and a token with a kid is not tried against kid-less secrets.
    let keyed = SigningKey::hmac(Some("k".into()), SECRET);
    let token = keyed.sign(&claims()).unwrap();
    assert_eq!(
        check(&token, &ring_of(&[&hs()])).unwrap_err(),
        JwtError::UnknownKey
    );
}

#[test]
fn a_tampered_payload_fails_signature_verification() {
    for key in [&*ED, &*EC, &*RSA, &hs()] {
        let token = key.sign(&claims()).unwrap();
        let mut forged = claims();
        forged.insert("sub".into(), json!("admin"));
        let tampered = with_part(&token, 1, &b64::encode(Value::Object(forged).to_string()));
        assert_eq!(
            check(&tampered, &ring_of(&[key])).unwrap_err(),
            JwtError::BadSignature
        );
    }
}

#[test]
fn a_tampered_or_truncated_signature_fails() {
    for key in [&*ED, &*EC, &*RSA, &hs()] {
        let token = key.sign(&claims()).unwrap();
        let signature = token.rsplit('.').next().unwrap();
        let mut bytes = b64::decode(signature, "s").unwrap();
        bytes[0] ^= 1;
        let flipped = with_part(&token, 2, &b64::encode(&bytes));
        assert_eq!(
            check(&flipped, &ring_of(&[key])).unwrap_err(),
            JwtError::BadSignature
        );
        // jwt_tool's pre-scan cuts the last 4 characters; depending on the length the rest is
        // either a shorter signature or base64url with non-canonical trailing bits.
        let truncated = &token[..token.len() - 4];
        let err = check(truncated, &ring_of(&[key])).unwrap_err();
        assert!(
            matches!(
                err,
                JwtError::BadSignature | JwtError::Malformed("signature is not base64url")
            ),
            "{err:?}"
        );
    }
}

#[test]
fn an_empty_signature_is_rejected() {
    for key in [&*ED, &*EC, &*RSA, &hs()] {
        let token = key.sign(&claims()).unwrap();
        let unsigned = with_part(&token, 2, "");
        assert_eq!(
            check(&unsigned, &ring_of(&[key])).unwrap_err(),
            JwtError::EmptySignature
        );
    }
}

#[test]
fn an_all_zero_es256_psychic_signature_is_rejected() {
    // CVE-2022-21449: r = s = 0.
    let token = EC.sign(&claims()).unwrap();
    let zeros = with_part(&token, 2, &b64::encode([0u8; 64]));
    assert_eq!(
        check(&zeros, &ring_of(&[&EC])).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn characters_outside_unpadded_base64url_are_rejected_in_every_part() {
    let token = hs().sign(&claims()).unwrap();
    let ring = ring_of(&[&hs()]);
    for index in 0..3 {
        let part = token.split('.').nth(index).unwrap();
        for bad in [
            format!("{part}="),
            format!("{part}=="),
            format!("+{part}"),
            format!("/{part}"),
            format!(" {part}"),
            format!("{part}\n"),
            format!("{part}%3D"),
        ] {
            let mangled = with_part(&token, index, &bad);
            assert_eq!(
                check(&mangled, &ring).unwrap_err(),
                JwtError::Malformed("token is not unpadded base64url"),
                "part {index}: {bad:?}"
            );
        }
    }
}

#[test]
fn base64url_with_an_impossible_length_or_trailing_bits_is_malformed() {
    let token = hs().sign(&claims()).unwrap();
    let ring = ring_of(&[&hs()]);
    let header = token.split('.').next().unwrap();
    let mangled = with_part(&token, 0, &format!("{header}A"));
    assert!(matches!(
        check(&mangled, &ring).unwrap_err(),
        JwtError::Malformed(_)
    ));
    let mangled = with_part(&token, 2, "AB");
    assert!(matches!(
        check(&mangled, &ring).unwrap_err(),
        JwtError::Malformed(_)
    ));
}

#[test]
fn a_token_over_8_kib_is_rejected_before_decoding() {
    let ring = ring_of(&[&hs()]);
    let oversize = "!".repeat(crate::MAX_TOKEN_BYTES + 1);
    assert_eq!(check(&oversize, &ring).unwrap_err(), JwtError::TooLarge);
    let mut big = claims();
    big.insert("pad".into(), json!("x".repeat(crate::MAX_TOKEN_BYTES)));
    let token = hs().sign(&big).unwrap();
    assert_eq!(check(&token, &ring).unwrap_err(), JwtError::TooLarge);
}

#[test]
fn a_token_without_exactly_three_parts_is_malformed() {
    let token = hs().sign(&claims()).unwrap();
    let ring = ring_of(&[&hs()]);
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        String::new(),
        parts[0].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{token}."),
        "..".to_owned(),
    ] {
        let err = check(&bad, &ring).unwrap_err();
        assert!(matches!(err, JwtError::Malformed(_)), "{bad:?}: {err:?}");
    }
}

#[test]
fn a_header_that_is_not_a_json_object_or_repeats_a_member_is_malformed() {
    let ring = ring_of(&[&hs()]);
    let body = b64::encode(payload().to_string());
    for header in [
        "[\"HS256\"]",
        "\"HS256\"",
        "not json",
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"none","alg":"HS256"}"#,
        "{\"alg\":\"HS256\"",
    ] {
        let token = format!("{}.{body}.c2ln", b64::encode(header));
        assert_eq!(
            check(&token, &ring).unwrap_err(),
            JwtError::Malformed("header is not a JSON object"),
            "{header}"
        );
    }
}

#[test]
fn a_validly_signed_payload_that_is_not_a_json_object_is_malformed() {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    for payload in [json!([1]), json!("sub"), json!(null)] {
        let (token, ring) = hs_token(header.clone(), payload);
        assert_eq!(
            check(&token, &ring).unwrap_err(),
            JwtError::Malformed("payload is not a JSON object")
        );
    }
}

#[test]
fn a_payload_with_a_duplicated_claim_is_malformed_even_when_signed() {
    let key = hs();
    let input = format!(
        "{}.{}",
        b64::encode(r#"{"alg":"HS256"}"#),
        b64::encode(format!(
            r#"{{"sub":"user-1","exp":{},"sub":"admin"}}"#,
            NOW + 60
        ))
    );
    let signature = key.private_key().sign(input.as_bytes()).unwrap();
    let token = format!("{input}.{}", b64::encode(signature));
    assert_eq!(
        check(&token, &ring_of(&[&key])).unwrap_err(),
        JwtError::Malformed("payload is not a JSON object")
    );
}

#[test]
fn an_empty_key_ring_verifies_nothing() {
    let token = hs().sign(&claims()).unwrap();
    assert_eq!(
        check(&token, &KeyRing::default()).unwrap_err(),
        JwtError::UnknownKey
    );
}

#[test]
fn error_messages_never_contain_the_token_or_key_material() {
    let token = ED.sign(&claims()).unwrap();
    let private = ED.private_jwk().unwrap().d.unwrap();
    for err in [
        check(&token, &KeyRing::default()).unwrap_err(),
        check(&with_part(&token, 2, "AAAA"), &ring_of(&[&ED])).unwrap_err(),
        check(&format!("{token}="), &ring_of(&[&ED])).unwrap_err(),
    ] {
        let text = format!("{err} {err:?}");
        for part in token.split('.') {
            assert!(!text.contains(part), "{text}");
        }
        assert!(!text.contains(&private));
    }
    assert!(!format!("{:?}", *ED).contains(&private));
}

proptest! {
    #[test]
    fn verification_never_panics_on_arbitrary_input(token in ".{0,300}") {
        let _ = check(&token, &ring_of(&[&ED, &hs()]));
    }

    #[test]
    fn verification_never_panics_on_arbitrary_base64url_parts(
        header in prop::collection::vec(any::<u8>(), 0..64),
        payload in prop::collection::vec(any::<u8>(), 0..64),
        signature in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let token = format!("{}.{}.{}", b64::encode(&header), b64::encode(&payload), b64::encode(&signature));
        prop_assert!(check(&token, &ring_of(&[&ED, &EC, &RSA, &hs()])).is_err());
    }

    #[test]
    fn verification_never_panics_on_arbitrary_headers_over_a_valid_signature(
        alg in prop_oneof![Just(json!("HS256")), Just(json!("EdDSA")), any::<String>().prop_map(Value::from), any::<i64>().prop_map(Value::from)],
        kid in prop::option::of(any::<String>()),
    ) {
        let mut header = json!({"alg": alg});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let (token, ring) = hs_token(header, payload());
        let _ = check(&token, &ring);
    }
}
