//! Key construction, JWK import/export and algorithm binding.

use serde_json::{Value, json};

use super::*;
use crate::{Jwk, JwkSet};

fn jwk(value: Value) -> Jwk {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_private_jwk_written_by_tessera_loads_back_and_verifies_with_the_original_public_jwk() {
    for key in every_key() {
        let private = key.private_jwk().unwrap();
        let reloaded = SigningKey::from_private_jwk("reloaded", key.alg(), &private).unwrap();
        assert_eq!(reloaded.public_jwk(), key.public_jwk());
        assert_eq!(reloaded.private_jwk(), Some(private));

        let mut public = key.public_jwk().unwrap();
        public.kid = Some("reloaded".into());
        let ring = KeyRing::new(vec![VerifyingKey::from_jwk(&public, None).unwrap()]);
        assert!(check(&reloaded.sign(&claims()).unwrap(), &ring).is_ok());
    }
}

#[test]
fn exported_jwks_use_the_jose_member_set_without_kid_or_alg() {
    let expected_private: [(&SigningKey, &[&str]); 3] = [
        (&ED, &["crv", "d", "kty", "x"]),
        (&EC, &["crv", "d", "kty", "x", "y"]),
        (&RSA, &["d", "dp", "dq", "e", "kty", "n", "p", "q", "qi"]),
    ];
    for (key, members) in expected_private {
        let private = serde_json::to_value(key.private_jwk().unwrap()).unwrap();
        let mut names: Vec<&str> = private
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, members);

        let public = key.public_jwk().unwrap();
        assert!(!public.has_private_members());
        assert_eq!((public.kid, public.alg, public.use_), (None, None, None));
    }
    assert_eq!(ED.public_jwk().unwrap().crv.as_deref(), Some("Ed25519"));
    assert_eq!(EC.public_jwk().unwrap().crv.as_deref(), Some("P-256"));
    assert_eq!(RSA.public_jwk().unwrap().e.as_deref(), Some("AQAB"));
}

#[test]
fn generated_rsa_keys_have_a_2048_bit_modulus() {
    let n = b64::decode(RSA.public_jwk().unwrap().n.as_deref().unwrap(), "n").unwrap();
    assert_eq!(n.len(), 256);
    assert!(n[0] & 0x80 != 0);
}

#[test]
fn hmac_keys_have_no_jwk_form() {
    assert_eq!(hs().public_jwk(), None);
    assert_eq!(hs().private_jwk(), None);
    assert_eq!(hs().kid(), None);
    assert_eq!(hs().alg(), Algorithm::HS256);
}

#[test]
fn hs256_key_pairs_cannot_be_generated_or_loaded_from_a_jwk() {
    assert!(matches!(
        SigningKey::generate(Algorithm::HS256, "k"),
        Err(JwtError::InvalidKey(_))
    ));
    let oct = jwk(json!({"kty": "oct", "k": "c2VjcmV0"}));
    assert!(matches!(
        SigningKey::from_private_jwk("k", Algorithm::HS256, &oct),
        Err(JwtError::InvalidKey(_))
    ));
}

#[test]
fn an_empty_or_overlong_kid_is_refused_when_building_a_signing_key() {
    for kid in [String::new(), "k".repeat(257)] {
        assert!(matches!(
            SigningKey::generate(Algorithm::EdDSA, kid),
            Err(JwtError::InvalidKey(_))
        ));
    }
}

#[test]
fn a_private_jwk_whose_halves_do_not_belong_together_is_rejected() {
    let other = SigningKey::generate(Algorithm::EdDSA, "other").unwrap();
    let mismatched = Jwk {
        x: other.public_jwk().unwrap().x,
        ..ED.private_jwk().unwrap()
    };
    assert!(matches!(
        SigningKey::from_private_jwk("k", Algorithm::EdDSA, &mismatched),
        Err(JwtError::InvalidKey(_))
    ));

    let ec_other = SigningKey::generate(Algorithm::ES256, "other").unwrap();
    let mismatched = Jwk {
        d: ec_other.private_jwk().unwrap().d,
        ..EC.private_jwk().unwrap()
    };
    assert!(matches!(
        SigningKey::from_private_jwk("k", Algorithm::ES256, &mismatched),
        Err(JwtError::InvalidKey(_))
    ));

    let mut rsa = RSA.private_jwk().unwrap();
    std::mem::swap(&mut rsa.dp, &mut rsa.dq);
    rsa.qi = rsa.dp.clone();
    assert!(SigningKey::from_private_jwk("k", Algorithm::RS256, &rsa).is_err());
}

#[test]
fn a_private_jwk_missing_a_member_is_rejected() {
    let mut ed = ED.private_jwk().unwrap();
    ed.d = None;
    assert!(matches!(
        SigningKey::from_private_jwk("k", Algorithm::EdDSA, &ed),
        Err(JwtError::InvalidKey(_))
    ));
    let mut rsa = RSA.private_jwk().unwrap();
    rsa.qi = None;
    assert!(matches!(
        SigningKey::from_private_jwk("k", Algorithm::RS256, &rsa),
        Err(JwtError::InvalidKey(_))
    ));
}

#[test]
fn a_private_jwk_is_bound_to_the_requested_algorithm() {
    let ed = ED.private_jwk().unwrap();
    assert!(matches!(
        SigningKey::from_private_jwk("k", Algorithm::ES256, &ed),
        Err(JwtError::InvalidKey(_))
    ));
    let labelled = Jwk {
        alg: Some("ES256".into()),
        ..ed
    };
    assert_eq!(
        SigningKey::from_private_jwk("k", Algorithm::EdDSA, &labelled).unwrap_err(),
        JwtError::AlgorithmMismatch
    );
}

#[test]
fn a_verifying_jwk_takes_its_algorithm_from_alg_then_expected_then_key_type() {
    let public = ED.public_jwk().unwrap();
    assert_eq!(
        VerifyingKey::from_jwk(&public, None).unwrap().alg(),
        Algorithm::EdDSA
    );
    assert_eq!(
        VerifyingKey::from_jwk(&public, Some(Algorithm::EdDSA))
            .unwrap()
            .alg(),
        Algorithm::EdDSA
    );
    assert!(matches!(
        VerifyingKey::from_jwk(&public, Some(Algorithm::ES256)),
        Err(JwtError::InvalidKey(_))
    ));
    let labelled = Jwk {
        alg: Some("EdDSA".into()),
        ..public
    };
    assert_eq!(
        VerifyingKey::from_jwk(&labelled, Some(Algorithm::RS256)).unwrap_err(),
        JwtError::AlgorithmMismatch
    );
    let wrong_label = Jwk {
        alg: Some("RS256".into()),
        ..labelled.clone()
    };
    assert!(matches!(
        VerifyingKey::from_jwk(&wrong_label, None),
        Err(JwtError::InvalidKey(_))
    ));
    // `Ed25519` is a known name since RFC 9864 (tests/rfc9864.rs); Ed448 is not ours.
    let unknown_label = Jwk {
        alg: Some("Ed448".into()),
        ..labelled
    };
    assert_eq!(
        VerifyingKey::from_jwk(&unknown_label, None).unwrap_err(),
        JwtError::UnsupportedAlgorithm
    );
}

#[test]
fn symmetric_keys_are_never_taken_from_a_jwks() {
    let oct = jwk(json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "h"}));
    for expected in [None, Some(Algorithm::HS256)] {
        assert!(matches!(
            VerifyingKey::from_jwk(&oct, expected),
            Err(JwtError::InvalidKey(_))
        ));
    }
    let ed = ED.public_jwk().unwrap();
    assert!(matches!(
        VerifyingKey::from_jwk(&ed, Some(Algorithm::HS256)),
        Err(JwtError::InvalidKey(_))
    ));
}

#[test]
fn unknown_curves_and_key_types_are_rejected() {
    let x = ED.public_jwk().unwrap().x;
    let ec = EC.public_jwk().unwrap();
    for bad in [
        Jwk {
            crv: Some("X25519".into()),
            ..ED.public_jwk().unwrap()
        },
        Jwk {
            crv: Some("Ed448".into()),
            ..ED.public_jwk().unwrap()
        },
        Jwk {
            crv: Some("P-384".into()),
            ..ec.clone()
        },
        Jwk {
            crv: Some("secp256k1".into()),
            ..ec.clone()
        },
        Jwk { crv: None, ..ec },
        Jwk {
            kty: "OKP".into(),
            x,
            ..Jwk::default()
        },
        Jwk {
            kty: "DSA".into(),
            ..Jwk::default()
        },
    ] {
        assert!(
            matches!(
                VerifyingKey::from_jwk(&bad, None),
                Err(JwtError::InvalidKey(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn rsa_moduli_under_2048_bits_and_bad_exponents_are_rejected() {
    let good = RSA.public_jwk().unwrap();
    let n = b64::decode(good.n.as_deref().unwrap(), "n").unwrap();
    let short = Jwk {
        n: Some(b64::encode(&n[..128])),
        ..good.clone()
    };
    assert!(matches!(
        VerifyingKey::from_jwk(&short, None),
        Err(JwtError::InvalidKey(_))
    ));
    // 2047 bits: the top bit cleared.
    let mut n2047 = n.clone();
    n2047[0] &= 0x7f;
    let short = Jwk {
        n: Some(b64::encode(&n2047)),
        ..good.clone()
    };
    assert!(matches!(
        VerifyingKey::from_jwk(&short, None),
        Err(JwtError::InvalidKey(_))
    ));
    // Leading zero bytes do not count towards the size.
    let mut padded = vec![0u8; 4];
    padded.extend_from_slice(&n[..128]);
    let short = Jwk {
        n: Some(b64::encode(&padded)),
        ..good.clone()
    };
    assert!(matches!(
        VerifyingKey::from_jwk(&short, None),
        Err(JwtError::InvalidKey(_))
    ));

    for e in ["AQAA", "Ag", "AQ", "", "AQAAAAAB"] {
        let bad = Jwk {
            e: Some(e.into()),
            ..good.clone()
        };
        assert!(
            matches!(
                VerifyingKey::from_jwk(&bad, None),
                Err(JwtError::InvalidKey(_))
            ),
            "{e}"
        );
    }
    // A leading zero byte before a valid modulus is tolerated and verification still works.
    let mut zero_n = vec![0u8];
    zero_n.extend_from_slice(&n);
    let lenient = Jwk {
        n: Some(b64::encode(&zero_n)),
        kid: Some("rsa-1".into()),
        ..good
    };
    let ring = KeyRing::new(vec![VerifyingKey::from_jwk(&lenient, None).unwrap()]);
    assert!(check(&RSA.sign(&claims()).unwrap(), &ring).is_ok());
}

#[test]
fn points_and_keys_of_the_wrong_length_are_rejected() {
    let ed = ED.public_jwk().unwrap();
    let short = Jwk {
        x: Some(b64::encode([7u8; 31])),
        ..ed.clone()
    };
    let padded = Jwk {
        x: Some(format!("{}=", ed.x.as_deref().unwrap())),
        ..ed
    };
    let ec = EC.public_jwk().unwrap();
    let no_y = Jwk {
        y: None,
        ..ec.clone()
    };
    let long_y = Jwk {
        y: Some(b64::encode([7u8; 33])),
        ..ec
    };
    for bad in [short, padded, no_y, long_y] {
        assert!(
            matches!(
                VerifyingKey::from_jwk(&bad, None),
                Err(JwtError::InvalidKey(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_key_whose_use_is_not_sig_is_rejected() {
    let enc = Jwk {
        use_: Some("enc".into()),
        ..ED.public_jwk().unwrap()
    };
    assert!(matches!(
        VerifyingKey::from_jwk(&enc, None),
        Err(JwtError::InvalidKey(_))
    ));
    let sig = Jwk {
        use_: Some("sig".into()),
        ..ED.public_jwk().unwrap()
    };
    assert!(VerifyingKey::from_jwk(&sig, None).is_ok());
}

#[test]
fn one_bad_key_in_a_jwks_does_not_poison_the_others() {
    let mut good = ED.public_jwk().unwrap();
    good.kid = Some("ed-1".into());
    good.alg = Some("EdDSA".into());
    let set: JwkSet = serde_json::from_value(json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"},
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521", "alg": "ES512"},
        {"kty": "OKP", "crv": "Ed25519", "x": "not base64!", "kid": "broken"},
        good,
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},
    ]}))
    .unwrap();
    let (ring, skipped) = KeyRing::from_jwks(&set);
    assert_eq!(ring.len(), 1);
    assert!(ring.contains_kid("ed-1"));
    let indexes: Vec<usize> = skipped.iter().map(|s| s.index).collect();
    assert_eq!(indexes, [0, 1, 2, 4]);
    assert_eq!(skipped[1].kid.as_deref(), Some("p521"));
    assert_eq!(skipped[1].error, JwtError::UnsupportedAlgorithm);
    assert!(check(&ED.sign(&claims()).unwrap(), &ring).is_ok());
}

#[test]
fn a_verifying_key_built_from_a_signing_key_keeps_its_kid_and_algorithm() {
    for key in every_key() {
        let verifying = VerifyingKey::from_signing_key(key);
        assert_eq!(verifying.kid(), key.kid());
        assert_eq!(verifying.alg(), key.alg());
    }
    let hmac = VerifyingKey::hmac(Some("h".into()), SECRET);
    assert_eq!((hmac.kid(), hmac.alg()), (Some("h"), Algorithm::HS256));
}

#[test]
fn debug_output_of_keys_shows_no_key_material() {
    for key in every_key() {
        let shown = format!("{key:?} {:?}", VerifyingKey::from_signing_key(key));
        let private = key.private_jwk().unwrap();
        for secret in [private.d, private.p, private.q].into_iter().flatten() {
            assert!(!shown.contains(&secret), "{shown}");
        }
        assert!(shown.contains(key.kid().unwrap()));
    }
    let shown = format!("{:?} {:?}", hs(), VerifyingKey::hmac(None, SECRET));
    assert!(!shown.contains("tessera-test-secret"), "{shown}");
}
