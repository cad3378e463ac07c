//! JSON Web Key (RFC 7517) types, in the member layout `jose`'s `exportJWK` produces.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Algorithm, JwtError, b64};

/// One JSON Web Key. Every member but `kty` is optional; unknown members are ignored on input.
///
/// `Debug` is redacted: the private members (`d`, `p`, `q`, `dp`, `dq`, `qi`) print only whether
/// they are present, so a logged key never leaks its secret half.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `"OKP"`, `"EC"`, `"RSA"` (or `"oct"`, which Tessera never accepts from a JWKS).
    pub kty: String,
    /// Curve: `"Ed25519"` for OKP, `"P-256"` for EC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate (EC) or public key (OKP), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (EC), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url big-endian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url big-endian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private scalar (EC), seed (OKP) or private exponent (RSA). Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// RSA first prime factor. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// RSA second prime factor. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// RSA `d mod (p-1)`. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// RSA `d mod (q-1)`. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// RSA `q^-1 mod p`. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    /// The algorithm this key is bound to, if the publisher says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id; tokens name their key with the header `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Public key use (`"sig"` or `"enc"`); the JSON member is `use`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

impl Jwk {
    /// True if any private member is present.
    pub fn has_private_members(&self) -> bool {
        [&self.d, &self.p, &self.q, &self.dp, &self.dq, &self.qi]
            .iter()
            .any(|m| m.is_some())
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("use", &self.use_)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("n", &self.n)
            .field("e", &self.e)
            .field(
                "private",
                &if self.has_private_members() {
                    "<redacted>"
                } else {
                    "none"
                },
            )
            .finish()
    }
}

/// A JWK Set (`{"keys":[…]}`), as served at Better Auth's `/api/auth/jwks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, in publication order.
    pub keys: Vec<Jwk>,
}

/// Longest `kid` accepted anywhere (headers, JWKs, key constructors).
pub(crate) const MAX_KID_CHARS: usize = 256;

/// Decides which algorithm a JWK is bound to (RFC 8725 §3.1: one key, one algorithm).
///
/// The JWK's own `alg` wins; it must agree with `expected` when both are given. Without `alg`,
/// `expected` is used; with neither, the algorithm is inferred only where the key type admits
/// exactly one of ours (an Ed25519 key without `alg` is bound to `EdDSA`, which verifies tokens
/// under either Ed25519 name, see [`Algorithm::same_scheme`]). The result is checked against the
/// key type either way, so an RSA key can never be bound to EdDSA or Ed25519, and nothing from a
/// JWK is ever bound to HS256.
pub(crate) fn bind_algorithm(
    jwk: &Jwk,
    expected: Option<Algorithm>,
) -> Result<Algorithm, JwtError> {
    if jwk.kty == "oct" {
        // A symmetric key in a key set would let whoever can read the set forge tokens.
        return Err(JwtError::InvalidKey(
            "symmetric (oct) keys are never taken from a JWK".into(),
        ));
    }
    let declared = jwk
        .alg
        .as_deref()
        .map(str::parse::<Algorithm>)
        .transpose()?;
    let alg = match (declared, expected) {
        (Some(declared), Some(expected)) if declared != expected => {
            return Err(JwtError::AlgorithmMismatch);
        }
        (Some(alg), _) | (None, Some(alg)) => alg,
        (None, None) => match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
            ("EC", Some("P-256")) => Algorithm::ES256,
            ("RSA", _) => Algorithm::RS256,
            _ => return Err(JwtError::InvalidKey("unsupported key type or curve".into())),
        },
    };
    let fits = match alg {
        // Both names only on an Ed25519 key: never Ed448, never another key type.
        Algorithm::EdDSA | Algorithm::Ed25519 => {
            jwk.kty == "OKP" && jwk.crv.as_deref() == Some("Ed25519")
        }
        Algorithm::ES256 => jwk.kty == "EC" && jwk.crv.as_deref() == Some("P-256"),
        Algorithm::RS256 => jwk.kty == "RSA",
        Algorithm::HS256 => false,
    };
    if fits {
        Ok(alg)
    } else {
        Err(JwtError::InvalidKey(format!(
            "key type or curve does not fit {alg}"
        )))
    }
}

/// Checks a key id for use in a header: non-empty and at most [`MAX_KID_CHARS`] characters.
pub(crate) fn check_kid(kid: &str) -> Result<(), JwtError> {
    if kid.is_empty() || kid.chars().count() > MAX_KID_CHARS {
        return Err(JwtError::InvalidKey(
            "kid must be 1 to 256 characters".into(),
        ));
    }
    Ok(())
}

/// Decodes a required base64url member of a JWK.
pub(crate) fn member(value: Option<&String>, name: &'static str) -> Result<Vec<u8>, JwtError> {
    let text = value.ok_or_else(|| JwtError::InvalidKey(format!("missing member {name}")))?;
    b64::decode(text, name)
        .map_err(|_| JwtError::InvalidKey(format!("member {name} is not base64url")))
}

/// Decodes a required member that must have exactly `len` bytes (curve points and scalars are
/// fixed-length per RFC 7518 §6.2.1 and RFC 8037 §2).
pub(crate) fn fixed_member(
    value: Option<&String>,
    name: &'static str,
    len: usize,
) -> Result<Vec<u8>, JwtError> {
    let bytes = member(value, name)?;
    if bytes.len() != len {
        return Err(JwtError::InvalidKey(format!(
            "member {name} must be {len} bytes"
        )));
    }
    Ok(bytes)
}

/// Drops leading zero bytes of a big-endian integer (ring rejects non-minimal encodings).
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_members_are_tolerated_and_use_is_renamed() {
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"OKP","crv":"Ed25519","x":"abc","use":"sig","key_ops":["verify"],"ext":true}"#,
        )
        .unwrap();
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        assert_eq!(
            serde_json::to_string(&jwk).unwrap(),
            r#"{"kty":"OKP","crv":"Ed25519","x":"abc","use":"sig"}"#
        );
    }

    #[test]
    fn debug_output_never_contains_private_members() {
        let jwk = Jwk {
            kty: "OKP".into(),
            d: Some("SECRET-SEED".into()),
            qi: Some("SECRET-QI".into()),
            ..Jwk::default()
        };
        let shown = format!("{jwk:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn a_jwk_without_kty_is_rejected() {
        assert!(serde_json::from_str::<Jwk>(r#"{"crv":"Ed25519","x":"abc"}"#).is_err());
    }
}
