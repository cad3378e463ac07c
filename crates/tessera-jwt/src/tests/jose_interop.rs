//! Keys and tokens produced by the JavaScript `jose` library (what Better Auth uses) and a
//! private key sealed by `@noble/ciphers` exactly as Better Auth's `symmetricEncrypt` does.
//! Generated once with jose 6 / @noble/ciphers 1 on Node 20; see `testdata/jose.json`.

use serde::Deserialize;

use super::*;
use crate::{Jwk, sealed};

#[derive(Deserialize)]
struct Vectors {
    #[serde(rename = "EdDSA")]
    eddsa: KeyVector,
    #[serde(rename = "ES256")]
    es256: KeyVector,
    #[serde(rename = "RS256")]
    rs256: KeyVector,
    sealed: SealedVector,
}

#[derive(Deserialize)]
struct KeyVector {
    /// `JSON.stringify(await exportJWK(privateKey))`
    #[serde(rename = "priv")]
    private: String,
    /// `JSON.stringify(await exportJWK(publicKey))`
    #[serde(rename = "pub")]
    public: String,
    /// `new SignJWT(…).setProtectedHeader({alg, kid: "ba-<alg>"})…` with sub "user-1",
    /// iat 1700000000, exp 4102444800, iss/aud "http://localhost:3000".
    token: String,
}

#[derive(Deserialize)]
struct SealedVector {
    secret: String,
    plaintext: String,
    hex: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../testdata/jose.json")).unwrap()
}

fn cases() -> [(Algorithm, KeyVector); 3] {
    let v = vectors();
    [
        (Algorithm::EdDSA, v.eddsa),
        (Algorithm::ES256, v.es256),
        (Algorithm::RS256, v.rs256),
    ]
}

fn better_auth_validation() -> Validation {
    any_alg()
        .with_issuer("http://localhost:3000")
        .with_audience("http://localhost:3000")
}

#[test]
fn tokens_signed_by_jose_verify_against_the_jose_public_jwk() {
    for (alg, v) in cases() {
        let mut public: Jwk = serde_json::from_str(&v.public).unwrap();
        // Better Auth's /jwks adds alg and kid around jose's public JWK.
        public.kid = Some(format!("ba-{alg}"));
        public.alg = Some(alg.as_str().to_owned());
        let ring = KeyRing::new(vec![VerifyingKey::from_jwk(&public, None).unwrap()]);
        let verified = verify(&v.token, &ring, &better_auth_validation(), NOW).unwrap();
        assert_eq!(verified.alg, alg);
        assert_eq!(verified.claims.sub(), "user-1");
        assert_eq!(verified.claims.email(), Some("ada@example.com"));
    }
}

#[test]
fn private_jwks_exported_by_jose_load_and_sign_tokens_their_public_jwk_verifies() {
    for (alg, v) in cases() {
        let private: Jwk = serde_json::from_str(&v.private).unwrap();
        let key = SigningKey::from_private_jwk("ba-key", alg, &private).unwrap();
        let public: Jwk = serde_json::from_str(&v.public).unwrap();
        assert_eq!(key.public_jwk(), Some(public.clone()));
        // Writing the key back gives jose's member values exactly (member order aside).
        assert_eq!(key.private_jwk(), Some(private));

        let public = Jwk {
            kid: Some("ba-key".into()),
            ..public
        };
        let ring = KeyRing::new(vec![VerifyingKey::from_jwk(&public, Some(alg)).unwrap()]);
        assert!(check(&key.sign(&claims()).unwrap(), &ring).is_ok());
    }
}

#[test]
fn a_private_key_sealed_by_better_auth_opens_and_loads() {
    let v = vectors().sealed;
    let plaintext = sealed::open(&v.secret, &v.hex).unwrap();
    assert_eq!(plaintext, v.plaintext);
    let jwk: Jwk = serde_json::from_str(&plaintext).unwrap();
    assert!(SigningKey::from_private_jwk("ba-EdDSA", Algorithm::EdDSA, &jwk).is_ok());
    assert_eq!(
        sealed::open("another-secret", &v.hex),
        Err(JwtError::Decrypt)
    );
}

/// A Better Auth email-verification token, minted by jose 6 as `signJWT` does
/// (`new SignJWT({email, updateTo: undefined, userId}).setProtectedHeader({alg: "HS256"})`,
/// `iat` 1700000000, `exp` one hour later) over this secret.
const JOSE_HS256_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFkYUBleGFtcGxlLmNvbSIsInVzZXJJZCI6InVzZXItMSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.egHIz-3tZBNJSl-WRCnEtanTqLFA2CXEAqNfixKZ0ds";
const JOSE_HS256_SECRET: &[u8] = b"better-auth-secret-for-tests-0123456789";

#[test]
fn an_alg_only_hmac_key_mints_jose_s_hs256_token_byte_for_byte_from_an_ordered_struct() {
    #[derive(serde::Serialize)]
    struct Ordered<'a> {
        email: &'a str,
        #[serde(rename = "userId")]
        user_id: &'a str,
        iat: i64,
        exp: i64,
    }
    let claims = Ordered {
        email: "ada@example.com",
        user_id: "user-1",
        iat: 1_700_000_000,
        exp: 1_700_003_600,
    };
    let token = SigningKey::hmac_alg_only(JOSE_HS256_SECRET)
        .sign(&claims)
        .unwrap();
    assert_eq!(token, JOSE_HS256_TOKEN);
}

#[test]
fn a_subject_less_jose_token_verifies_only_when_the_subject_is_not_required() {
    let ring = KeyRing::new(vec![VerifyingKey::hmac(None, JOSE_HS256_SECRET)]);
    let required = Validation::new([Algorithm::HS256]);
    assert_eq!(
        verify(JOSE_HS256_TOKEN, &ring, &required, 1_700_000_001).unwrap_err(),
        JwtError::MissingClaim("sub")
    );
    let verified = verify(
        JOSE_HS256_TOKEN,
        &ring,
        &required.without_subject(),
        1_700_000_001,
    )
    .unwrap();
    assert_eq!(verified.claims.sub(), "");
    assert_eq!(verified.claims.email(), Some("ada@example.com"));
}
