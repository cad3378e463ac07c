//! [`verify`]: the full RFC 8725 verification pipeline for compact JWS tokens.

use serde_json::{Map, Value};

use crate::{Algorithm, Claims, JwtError, KeyRing, Validation, b64, json};

/// Tokens longer than this are rejected before any decoding (bounds work per request).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Longest `kid` header accepted, in characters.
const MAX_KID_CHARS: usize = crate::jwk::MAX_KID_CHARS;

/// Header members that point at keys elsewhere or change how the token must be processed.
/// None are ever honoured, so a token carrying any of them is refused outright rather than
/// having them silently ignored: `crit` must be understood or rejected (RFC 7515 §4.1.11);
/// `jku`/`x5u` invite SSRF, `jwk`/`x5c` embed attacker keys (CVE-2018-0114); `zip` is
/// compression (RFC 8725 §3.6).
const FORBIDDEN_HEADERS: [&str; 6] = ["crit", "jku", "x5u", "x5c", "jwk", "zip"];

/// The outcome of a successful [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The header `kid` (equal to the verifying key's id).
    pub kid: Option<String>,
    /// The algorithm the signature was verified with.
    pub alg: Algorithm,
    /// The verified claims.
    pub claims: Claims,
}

/// Verifies a compact JWS `token` against `ring` and `validation` at time `now_unix` (seconds).
///
/// Checks, in order: size; three parts; strict base64url; header is a JSON object without
/// duplicate members; `alg` is a string and not `none` (any case); no
/// `crit`/`jku`/`x5u`/`x5c`/`jwk`/`zip`; `kid` a string of at most 256 characters; `alg` is ours
/// and in the allow-list; a key with that `kid` (or a kid-less key for a kid-less token) bound
/// to the header's algorithm; non-empty signature that verifies; then the claims (see
/// [`Claims`]): `exp`, `nbf`, `iat`, `iss`, `aud`, `sub`. No claim is read before the signature
/// has been verified.
pub fn verify(
    token: &str,
    ring: &KeyRing,
    validation: &Validation,
    now_unix: i64,
) -> Result<VerifiedToken, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("token must have exactly three parts"));
    };
    if ![header_b64, payload_b64, signature_b64]
        .iter()
        .all(|part| b64::is_alphabet(part))
    {
        return Err(JwtError::Malformed("token is not unpadded base64url"));
    }

    let header = b64::decode(header_b64, "header is not base64url")?;
    let header =
        json::parse_object(&header).ok_or(JwtError::Malformed("header is not a JSON object"))?;
    let alg_name = header_alg(&header)?;
    let kid = header_kid(&header)?;
    let alg = allowed_alg(alg_name, validation)?;

    let mut keys = ring.candidates(kid, alg)?;
    if signature_b64.is_empty() {
        return Err(JwtError::EmptySignature);
    }
    let signature = b64::decode(signature_b64, "signature is not base64url")?;
    // The signing input is the ASCII text of the first two parts, exactly as received.
    let signing_input = token
        .as_bytes()
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(JwtError::Malformed("token must have exactly three parts"))?;
    if !keys.any(|key| key.verifies(signing_input, &signature)) {
        return Err(JwtError::BadSignature);
    }

    let payload = b64::decode(payload_b64, "payload is not base64url")?;
    let claims =
        json::parse_object(&payload).ok_or(JwtError::Malformed("payload is not a JSON object"))?;
    let claims = Claims::validate(claims, validation, now_unix)?;
    Ok(VerifiedToken {
        kid: kid.map(str::to_owned),
        alg,
        claims,
    })
}

/// The header `alg` text, after the type, `none` and forbidden-member checks.
fn header_alg(header: &Map<String, Value>) -> Result<&str, JwtError> {
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(JwtError::Malformed("alg is not a string")),
        None => return Err(JwtError::Malformed("alg is missing")),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgorithmNone);
    }
    if let Some(name) = FORBIDDEN_HEADERS
        .into_iter()
        .find(|name| header.contains_key(*name))
    {
        return Err(JwtError::ForbiddenHeader(name));
    }
    Ok(alg)
}

/// The named algorithm, if it is one of ours and in the caller's allow-list.
fn allowed_alg(name: &str, validation: &Validation) -> Result<Algorithm, JwtError> {
    let alg: Algorithm = name.parse()?;
    if !validation.algorithms.contains(&alg) {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    Ok(alg)
}

/// The header `kid`, if present: a string of at most [`MAX_KID_CHARS`] characters.
fn header_kid(header: &Map<String, Value>) -> Result<Option<&str>, JwtError> {
    match header.get("kid") {
        None => Ok(None),
        Some(Value::String(kid)) if kid.chars().count() <= MAX_KID_CHARS => Ok(Some(kid)),
        Some(Value::String(_)) => Err(JwtError::Malformed("kid is too long")),
        Some(_) => Err(JwtError::Malformed("kid is not a string")),
    }
}
