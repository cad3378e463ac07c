//! Published test vectors.

use super::*;
use crate::Jwk;

/// RFC 7515 appendix A.1 (HS256). Its header contains CRLF whitespace and `typ`, it has no
/// `sub`, and it expires at 1300819380.
const RFC7515_A1: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7515_A1_KEY: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/// RFC 8037 appendix A.1/A.4 (Ed25519): key, and the JWS over "Example of Ed25519 signing".
const RFC8037_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const RFC8037_A4: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn rfc7515_ring() -> KeyRing {
    let secret = b64::decode(RFC7515_A1_KEY, "k").unwrap();
    KeyRing::new(vec![VerifyingKey::hmac(None, &secret)])
}

#[test]
fn the_rfc7515_a1_hs256_example_passes_signature_checks_and_stops_only_at_its_missing_sub() {
    let before_expiry = 1_300_819_000;
    let validation = Validation::new([Algorithm::HS256]).with_issuer("joe");
    assert_eq!(
        verify(RFC7515_A1, &rfc7515_ring(), &validation, before_expiry).unwrap_err(),
        JwtError::MissingClaim("sub")
    );
}

#[test]
fn the_rfc7515_a1_example_is_expired_today_and_fails_with_another_secret() {
    let v = Validation::new([Algorithm::HS256]);
    assert_eq!(
        verify(RFC7515_A1, &rfc7515_ring(), &v, NOW).unwrap_err(),
        JwtError::Expired
    );
    let wrong = KeyRing::new(vec![VerifyingKey::hmac(None, b"another secret")]);
    assert_eq!(
        verify(RFC7515_A1, &wrong, &v, 1_300_819_000).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn the_rfc8037_ed25519_key_reproduces_the_published_signature() {
    let jwk: Jwk = serde_json::from_str(RFC8037_JWK).unwrap();
    let key = SigningKey::from_private_jwk("rfc8037", Algorithm::EdDSA, &jwk).unwrap();
    let (input, signature) = RFC8037_A4.rsplit_once('.').unwrap();
    let produced = key.private_key().sign(input.as_bytes()).unwrap();
    assert_eq!(b64::encode(produced), signature);
}

#[test]
fn the_rfc8037_signature_verifies_and_then_fails_only_because_its_payload_is_not_json() {
    let mut public: Jwk = serde_json::from_str(RFC8037_JWK).unwrap();
    public.d = None;
    let ring = KeyRing::new(vec![VerifyingKey::from_jwk(&public, None).unwrap()]);
    assert_eq!(
        check(RFC8037_A4, &ring).unwrap_err(),
        JwtError::Malformed("payload is not a JSON object")
    );
    let tampered = RFC8037_A4.replace(
        "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
        "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmd",
    );
    assert_eq!(check(&tampered, &ring).unwrap_err(), JwtError::BadSignature);
}
