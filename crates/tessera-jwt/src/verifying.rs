//! [`VerifyingKey`]: a public key (or HMAC secret) bound to exactly one algorithm.

use std::fmt;

use ring::hmac;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, KeyPair as _, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};

use crate::jwk::{MAX_KID_CHARS, bind_algorithm, fixed_member, member, strip_leading_zeros};
use crate::private_key::{PrivateKey, p256_point};
use crate::{Algorithm, Jwk, JwtError, SigningKey};

/// Smallest RSA modulus accepted (RFC 7518 §3.3 requires at least 2048 bits).
const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus ring's `RSA_PKCS1_2048_8192_SHA256` verifies.
const MAX_RSA_BITS: usize = 8192;

/// A key that can check signatures of one algorithm, optionally named by a `kid`.
///
/// The algorithm is fixed when the key is built and the verifier requires the token header to
/// name the same one (RFC 8725 §3.1), which is what defeats `alg` substitution and
/// RS256/ES256/EdDSA→HS256 key confusion: an asymmetric key never acts as an HMAC secret.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    alg: Algorithm,
    key: PublicKey,
}

#[derive(Clone)]
enum PublicKey {
    /// 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
    /// Uncompressed P-256 point, 65 bytes.
    P256(Vec<u8>),
    /// Minimal big-endian modulus and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Hmac(hmac::Key),
}

impl VerifyingKey {
    /// Builds a verifying key from a public JWK (e.g. one entry of a JWKS).
    ///
    /// The algorithm is the JWK's `alg` member (which must equal `expected_alg` when both are
    /// given), else `expected_alg`, else inferred from an unambiguous key type (OKP/Ed25519 →
    /// EdDSA, EC/P-256 → ES256, RSA → RS256). A key bound to `EdDSA` or `Ed25519` verifies
    /// tokens under either name (one scheme, see [`Algorithm::same_scheme`]). Rejected:
    /// `kty: "oct"` (symmetric keys never come from a JWK), unknown curves, `use` other than
    /// `sig`, RSA moduli outside 2048–8192 bits, and `kid`s longer than 256 characters. Private
    /// members, if present, are ignored.
    pub fn from_jwk(jwk: &Jwk, expected_alg: Option<Algorithm>) -> Result<Self, JwtError> {
        let alg = bind_algorithm(jwk, expected_alg)?;
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(JwtError::InvalidKey("key use is not sig".into()));
        }
        if jwk
            .kid
            .as_ref()
            .is_some_and(|kid| kid.chars().count() > MAX_KID_CHARS)
        {
            return Err(JwtError::InvalidKey(
                "kid longer than 256 characters".into(),
            ));
        }
        let key = match alg {
            Algorithm::EdDSA | Algorithm::Ed25519 => {
                PublicKey::Ed25519(fixed_member(jwk.x.as_ref(), "x", 32)?)
            }
            Algorithm::ES256 => PublicKey::P256(p256_point(jwk)?),
            Algorithm::RS256 => rsa_public_key(jwk)?,
            // `bind_algorithm` never binds a JWK to HS256; kept total rather than panicking.
            Algorithm::HS256 => return Err(JwtError::UnsupportedAlgorithm),
        };
        Ok(Self {
            kid: jwk.kid.clone(),
            alg,
            key,
        })
    }

    /// An HS256 verifying key from a shared secret. With `kid: None` it verifies tokens that
    /// carry no `kid`; several kid-less secrets in one ring are tried in order (rotation).
    ///
    /// The caller must enforce secret strength (at least [`crate::MIN_HMAC_SECRET_BYTES`]).
    pub fn hmac(kid: Option<String>, secret: &[u8]) -> Self {
        Self {
            kid,
            alg: Algorithm::HS256,
            key: PublicKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        }
    }

    /// The verifying half of a signing key, with the same `kid` and algorithm.
    pub fn from_signing_key(signing_key: &SigningKey) -> Self {
        let key = match signing_key.private_key() {
            PrivateKey::Ed25519 { pair, .. } => {
                PublicKey::Ed25519(pair.public_key().as_ref().to_vec())
            }
            PrivateKey::P256 { pair, .. } => PublicKey::P256(pair.public_key().as_ref().to_vec()),
            PrivateKey::Rsa { parts, .. } => PublicKey::Rsa {
                n: parts.n.clone(),
                e: parts.e.clone(),
            },
            PrivateKey::Hmac(key) => PublicKey::Hmac(key.clone()),
        };
        Self {
            kid: signing_key.kid().map(str::to_owned),
            alg: signing_key.alg(),
            key,
        }
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Checks a raw `signature` over an arbitrary `message` with exactly the primitive [`verify`]
    /// uses for this key. For published test vectors (Wycheproof, `tests/wycheproof.rs`), whose
    /// messages are not JWS signing inputs; tokens must always go through [`verify`].
    ///
    /// [`verify`]: crate::verify
    #[doc(hidden)]
    pub fn verify_raw_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifies(message, signature)
    }

    /// Checks `signature` over `message` (constant time in ring, including the HMAC compare).
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            PublicKey::Ed25519(x) => UnparsedPublicKey::new(&ED25519, x)
                .verify(message, signature)
                .is_ok(),
            // ring requires the fixed 64-byte r||s form and 1 ≤ r, s < n, so all-zero
            // "psychic signatures" (CVE-2022-21449) fail.
            PublicKey::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            PublicKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            PublicKey::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Validates `n` and `e` up front (ring would only fail later, at every verification).
fn rsa_public_key(jwk: &Jwk) -> Result<PublicKey, JwtError> {
    let n = strip_leading_zeros(&member(jwk.n.as_ref(), "n")?).to_vec();
    let e = strip_leading_zeros(&member(jwk.e.as_ref(), "e")?).to_vec();
    let bits = n.first().map_or(0, |&top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    if bits < MIN_RSA_BITS {
        return Err(JwtError::InvalidKey(
            "RSA modulus shorter than 2048 bits".into(),
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(JwtError::InvalidKey(
            "RSA modulus longer than 8192 bits".into(),
        ));
    }
    // ring accepts odd exponents 3 ≤ e < 2^33; anything else is a broken key.
    let exponent = if e.len() <= 5 {
        e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    } else {
        0
    };
    if !(3..1 << 33).contains(&exponent) || exponent % 2 == 0 {
        return Err(JwtError::InvalidKey(
            "unsupported RSA public exponent".into(),
        ));
    }
    Ok(PublicKey::Rsa { n, e })
}
