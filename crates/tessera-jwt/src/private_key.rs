//! Private key material behind [`crate::SigningKey`]: generation, jose-JWK import/export, signing.
//!
//! Every private operation runs in ring. The `rsa` crate is used only to *generate* RSA primes,
//! because its private-key operations are exposed to the Marvin timing attack (RUSTSEC-2023-0071)
//! and ring cannot generate RSA keys.

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use ring::{hmac, rsa as ring_rsa};

use crate::jwk::{fixed_member, member, strip_leading_zeros};
use crate::{Algorithm, Jwk, JwtError, b64};

/// Ed25519 seeds, P-256 scalars and coordinates are all 32 bytes.
const LEN_32: usize = 32;
/// Modulus size of generated RSA keys (Better Auth's default `modulusLength`).
const RSA_BITS: usize = 2048;

/// A private key, always of exactly one algorithm.
pub(crate) enum PrivateKey {
    /// Ring cannot export an Ed25519 seed, so the seed is kept for `private_jwk`.
    Ed25519 { pair: Ed25519KeyPair, seed: Vec<u8> },
    /// Ring cannot export a P-256 scalar either; kept for `private_jwk`.
    P256 { pair: EcdsaKeyPair, d: Vec<u8> },
    /// CRT components are kept for `private_jwk`.
    Rsa { pair: RsaKeyPair, parts: RsaParts },
    /// An HMAC-SHA-256 shared secret.
    Hmac(hmac::Key),
}

/// Big-endian, minimal RSA private components in JWK order.
pub(crate) struct RsaParts {
    pub(crate) n: Vec<u8>,
    pub(crate) e: Vec<u8>,
    d: Vec<u8>,
    p: Vec<u8>,
    q: Vec<u8>,
    dp: Vec<u8>,
    dq: Vec<u8>,
    qi: Vec<u8>,
}

impl RsaParts {
    fn to_ring(&self) -> Result<RsaKeyPair, JwtError> {
        let components = ring_rsa::KeyPairComponents {
            public_key: ring_rsa::PublicKeyComponents {
                n: &self.n,
                e: &self.e,
            },
            d: &self.d,
            p: &self.p,
            q: &self.q,
            dP: &self.dp,
            dQ: &self.dq,
            qInv: &self.qi,
        };
        // ring validates the components (p·q = n, qInv, sizes, 2048 ≤ bits ≤ 4096, e ≥ 65537).
        RsaKeyPair::from_components(&components)
            .map_err(|e| JwtError::InvalidKey(format!("RSA key rejected: {e}")))
    }
}

impl PrivateKey {
    /// Generates a fresh key for an asymmetric algorithm.
    pub(crate) fn generate(alg: Algorithm) -> Result<Self, JwtError> {
        let rng = SystemRandom::new();
        match alg {
            Algorithm::EdDSA | Algorithm::Ed25519 => {
                let mut seed = vec![0u8; LEN_32];
                rng.fill(&mut seed).map_err(|_| JwtError::Crypto)?;
                let pair =
                    Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| JwtError::Crypto)?;
                Ok(Self::Ed25519 { pair, seed })
            }
            Algorithm::ES256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| JwtError::Crypto)?;
                let d = p256_scalar_from_pkcs8(pkcs8.as_ref()).ok_or(JwtError::Crypto)?;
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8.as_ref(),
                    &rng,
                )
                .map_err(|_| JwtError::Crypto)?;
                Ok(Self::P256 {
                    pair,
                    d: d.to_vec(),
                })
            }
            Algorithm::RS256 => {
                let parts = generate_rsa_parts()?;
                let pair = parts.to_ring()?;
                Ok(Self::Rsa { pair, parts })
            }
            Algorithm::HS256 => Err(JwtError::InvalidKey(
                "HS256 keys are shared secrets, not generated key pairs".into(),
            )),
        }
    }

    /// Loads a private JWK in `jose` `exportJWK` form; `alg` has already been bound to the key type.
    pub(crate) fn from_jwk(alg: Algorithm, jwk: &Jwk) -> Result<Self, JwtError> {
        match alg {
            Algorithm::EdDSA | Algorithm::Ed25519 => {
                let seed = fixed_member(jwk.d.as_ref(), "d", LEN_32)?;
                let x = fixed_member(jwk.x.as_ref(), "x", LEN_32)?;
                // Checks that x really is the public key of d: a mismatched pair would sign
                // tokens that the published JWKS can never verify.
                let pair = Ed25519KeyPair::from_seed_and_public_key(&seed, &x)
                    .map_err(|e| JwtError::InvalidKey(format!("Ed25519 key rejected: {e}")))?;
                Ok(Self::Ed25519 { pair, seed })
            }
            Algorithm::ES256 => {
                let d = fixed_member(jwk.d.as_ref(), "d", LEN_32)?;
                let point = p256_point(jwk)?;
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &d,
                    &point,
                    &SystemRandom::new(),
                )
                .map_err(|e| JwtError::InvalidKey(format!("P-256 key rejected: {e}")))?;
                Ok(Self::P256 { pair, d })
            }
            Algorithm::RS256 => {
                let int = |value: Option<&String>, name| -> Result<Vec<u8>, JwtError> {
                    Ok(strip_leading_zeros(&member(value, name)?).to_vec())
                };
                let parts = RsaParts {
                    n: int(jwk.n.as_ref(), "n")?,
                    e: int(jwk.e.as_ref(), "e")?,
                    d: int(jwk.d.as_ref(), "d")?,
                    p: int(jwk.p.as_ref(), "p")?,
                    q: int(jwk.q.as_ref(), "q")?,
                    dp: int(jwk.dp.as_ref(), "dp")?,
                    dq: int(jwk.dq.as_ref(), "dq")?,
                    qi: int(jwk.qi.as_ref(), "qi")?,
                };
                let pair = parts.to_ring()?;
                Ok(Self::Rsa { pair, parts })
            }
            Algorithm::HS256 => Err(JwtError::InvalidKey(
                "symmetric keys are never taken from a JWK".into(),
            )),
        }
    }

    /// The public JWK in jose member layout, without `kid`/`alg`; `None` for HMAC.
    pub(crate) fn public_jwk(&self) -> Option<Jwk> {
        match self {
            Self::Ed25519 { pair, .. } => Some(Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64::encode(pair.public_key())),
                ..Jwk::default()
            }),
            Self::P256 { pair, .. } => {
                // ring's P-256 public key is the uncompressed point 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..)?.split_at_checked(LEN_32)?;
                Some(Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(b64::encode(x)),
                    y: Some(b64::encode(y)),
                    ..Jwk::default()
                })
            }
            Self::Rsa { parts, .. } => Some(Jwk {
                kty: "RSA".into(),
                n: Some(b64::encode(&parts.n)),
                e: Some(b64::encode(&parts.e)),
                ..Jwk::default()
            }),
            Self::Hmac(_) => None,
        }
    }

    /// The private JWK in jose member layout, without `kid`/`alg`; `None` for HMAC.
    pub(crate) fn private_jwk(&self) -> Option<Jwk> {
        let public = self.public_jwk()?;
        Some(match self {
            Self::Ed25519 { seed, .. } => Jwk {
                d: Some(b64::encode(seed)),
                ..public
            },
            Self::P256 { d, .. } => Jwk {
                d: Some(b64::encode(d)),
                ..public
            },
            Self::Rsa { parts, .. } => Jwk {
                d: Some(b64::encode(&parts.d)),
                p: Some(b64::encode(&parts.p)),
                q: Some(b64::encode(&parts.q)),
                dp: Some(b64::encode(&parts.dp)),
                dq: Some(b64::encode(&parts.dq)),
                qi: Some(b64::encode(&parts.qi)),
                ..public
            },
            Self::Hmac(_) => return None,
        })
    }

    /// Signs `message`, returning the raw JWS signature bytes.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JwtError> {
        match self {
            Self::Ed25519 { pair, .. } => Ok(pair.sign(message).as_ref().to_vec()),
            Self::P256 { pair, .. } => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| JwtError::Crypto),
            Self::Rsa { pair, .. } => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| JwtError::Crypto)?;
                Ok(sig)
            }
            Self::Hmac(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }
}

/// The uncompressed P-256 point `0x04 || x || y` from a JWK's `x` and `y`.
pub(crate) fn p256_point(jwk: &Jwk) -> Result<Vec<u8>, JwtError> {
    let x = fixed_member(jwk.x.as_ref(), "x", LEN_32)?;
    let y = fixed_member(jwk.y.as_ref(), "y", LEN_32)?;
    let mut point = Vec::with_capacity(1 + 2 * LEN_32);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}

/// Generates an RSA-2048 key (e = 65537) with the `rsa` crate and takes its components.
fn generate_rsa_parts() -> Result<RsaParts, JwtError> {
    use rsa::BigUint;
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};

    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
        .map_err(|_| JwtError::Crypto)?;
    let [p, q] = key.primes() else {
        return Err(JwtError::Crypto);
    };
    let one = BigUint::from(1u8);
    let dp = key.d() % (p - &one);
    let dq = key.d() % (q - &one);
    let qi = key.crt_coefficient().ok_or(JwtError::Crypto)?;
    Ok(RsaParts {
        n: key.n().to_bytes_be(),
        e: key.e().to_bytes_be(),
        d: key.d().to_bytes_be(),
        p: p.to_bytes_be(),
        q: q.to_bytes_be(),
        dp: dp.to_bytes_be(),
        dq: dq.to_bytes_be(),
        qi: qi.to_bytes_be(),
    })
}

/// Extracts the private scalar from the PKCS#8 document ring generates for P-256:
/// `SEQ { INT 0, SEQ { OID, OID }, OCTET STRING { SEQ { INT 1, OCTET STRING d, … } } }`.
/// Only ever applied to ring's own output; malformed input yields `None`, never a panic.
fn p256_scalar_from_pkcs8(doc: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;

    let (outer, _) = der_element(doc, SEQUENCE)?;
    let (_version, rest) = der_element(outer, INTEGER)?;
    let (_algorithm, rest) = der_element(rest, SEQUENCE)?;
    let (ec_private_key, _) = der_element(rest, OCTET_STRING)?;
    let (ec_fields, _) = der_element(ec_private_key, SEQUENCE)?;
    let (_ec_version, rest) = der_element(ec_fields, INTEGER)?;
    let (d, _) = der_element(rest, OCTET_STRING)?;
    (d.len() == LEN_32).then_some(d)
}

/// Reads one DER element with the expected tag: returns (contents, remaining input).
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&actual, rest) = input.split_first()?;
    if actual != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0x00..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&len, rest) = rest.split_first()?;
            (usize::from(len), rest)
        }
        0x82 => {
            let (bytes, rest) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*bytes)), rest)
        }
        _ => return None,
    };
    rest.split_at_checked(len)
}
