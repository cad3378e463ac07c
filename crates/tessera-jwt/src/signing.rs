//! [`SigningKey`]: mints compact JWS tokens.

use std::fmt;

use ring::hmac;
use serde::Serialize;

use crate::jwk::{bind_algorithm, check_kid};
use crate::private_key::PrivateKey;
use crate::{Algorithm, Jwk, JwtError, b64};

/// A private signing key bound to one algorithm and (for key pairs) one `kid`.
///
/// `Debug` prints only the `kid` and algorithm, never key material.
pub struct SigningKey {
    kid: Option<String>,
    /// The header name: kept apart from the key because one Ed25519 key can be configured to
    /// sign as `EdDSA` or as `Ed25519`.
    alg: Algorithm,
    key: PrivateKey,
    /// The base64url protected header, fixed per key.
    header: String,
}

/// The protected header. Field order is the serialisation order: `alg` first, like jose.
#[derive(Serialize)]
struct Header<'a> {
    alg: Algorithm,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'static str>,
}

impl SigningKey {
    /// Generates a new key pair for `EdDSA` or `Ed25519` (an Ed25519 key whose tokens carry that
    /// header name), `ES256` (P-256) or `RS256` (RSA-2048, e = 65537). `HS256` is refused:
    /// shared secrets come from configuration, see [`Self::hmac`].
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<Self, JwtError> {
        let kid = kid.into();
        check_kid(&kid)?;
        Ok(Self::build(Some(kid), alg, PrivateKey::generate(alg)?))
    }

    /// An HS256 key from a shared secret. With `kid: None` tokens carry the header
    /// `{"alg":"HS256","typ":"JWT"}` (the seed's python-jose setup).
    ///
    /// The caller must enforce secret strength (at least [`crate::MIN_HMAC_SECRET_BYTES`] random
    /// bytes; RFC 8725 §3.5) and a `kid` of at most 256 characters, or the verifier refuses it.
    pub fn hmac(kid: Option<String>, secret: &[u8]) -> Self {
        Self::build(
            kid,
            Algorithm::HS256,
            PrivateKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        )
    }

    /// An HS256 key whose tokens carry the bare header `{"alg":"HS256"}`, as jose's
    /// `new SignJWT(…).setProtectedHeader({ alg: "HS256" })` writes it (Better Auth's `signJWT`,
    /// which mints its email-verification tokens). The same strength rule as [`Self::hmac`].
    pub fn hmac_alg_only(secret: &[u8]) -> Self {
        let mut key = Self::hmac(None, secret);
        key.header = b64::encode(br#"{"alg":"HS256"}"#);
        key
    }

    /// Loads a private JWK as `jose`'s `exportJWK` writes it (what Better Auth stores in
    /// `jwks.privateKey`). A JWK `alg` member, if present, must equal `alg`; the key type and
    /// curve must fit `alg`; public and private halves must belong together.
    pub fn from_private_jwk(
        kid: impl Into<String>,
        alg: Algorithm,
        jwk: &Jwk,
    ) -> Result<Self, JwtError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let alg = bind_algorithm(jwk, Some(alg))?;
        Ok(Self::build(Some(kid), alg, PrivateKey::from_jwk(alg, jwk)?))
    }

    fn build(kid: Option<String>, alg: Algorithm, key: PrivateKey) -> Self {
        let header = encode_header(alg, kid.as_deref());
        Self {
            kid,
            alg,
            key,
            header,
        }
    }

    /// The private JWK in jose `exportJWK` layout, with no `kid`/`alg` members (Better Auth
    /// keeps those in separate columns). `None` for HMAC keys.
    pub fn private_jwk(&self) -> Option<Jwk> {
        self.key.private_jwk()
    }

    /// The public JWK with no private members and no `kid`/`alg` (the caller adds them when
    /// publishing). `None` for HMAC keys.
    pub fn public_jwk(&self) -> Option<Jwk> {
        self.key.public_jwk()
    }

    /// The key id written into every token's header, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key signs with (its tokens' header `alg`).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Signs `claims` as a compact JWS: `base64url(header).base64url(claims).base64url(sig)`.
    /// `claims` is a [`serde_json::Map`] (members in name order) or any struct that serialises to a JSON
    /// object, whose fields keep their declared order (to match another minter byte for byte).
    pub fn sign<C: Serialize + ?Sized>(&self, claims: &C) -> Result<String, JwtError> {
        let payload = serde_json::to_vec(claims).map_err(|_| JwtError::Malformed("claims"))?;
        let mut token = format!("{}.{}", self.header, b64::encode(payload));
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64::encode(signature));
        Ok(token)
    }

    pub(crate) fn private_key(&self) -> &PrivateKey {
        &self.key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

/// `{"alg":…,"kid":…}`, or `{"alg":"HS256","typ":"JWT"}` for a kid-less key.
fn encode_header(alg: Algorithm, kid: Option<&str>) -> String {
    let header = Header {
        alg,
        kid,
        typ: kid.is_none().then_some("JWT"),
    };
    // Serialising a struct of strings into a Vec cannot fail.
    let json = serde_json::to_vec(&header).unwrap_or_default();
    b64::encode(json)
}
