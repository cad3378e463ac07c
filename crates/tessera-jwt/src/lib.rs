//! Pure token layer of Tessera: no I/O, no HTTP, no async.
//!
//! Signs and verifies compact JWS tokens with EdDSA (Ed25519), ES256, RS256 and HS256 — the
//! formats Better Auth's `jwt` plugin produces — holds JWK/JWKS types in `jose`'s layout, and
//! applies every RFC 8725 check in [`verify`]. All cryptography is ring's; the `rsa` crate only
//! generates RSA keys. [`sealed`] is Better Auth's encryption of stored private keys.
#![forbid(unsafe_code)]

mod alg;
mod b64;
mod claims;
mod error;
mod json;
mod jwk;
mod keyring;
mod private_key;
pub mod sealed;
mod signing;
mod validation;
mod verify;
mod verifying;

#[cfg(test)]
mod tests;

pub use alg::Algorithm;
pub use claims::Claims;
pub use error::JwtError;
pub use jwk::{Jwk, JwkSet};
pub use keyring::{KeyRing, SkippedKey};
pub use signing::SigningKey;
pub use validation::{MAX_LEEWAY_SECS, Validation};
pub use verify::{MAX_TOKEN_BYTES, VerifiedToken, verify};
pub use verifying::VerifyingKey;

/// Shortest HS256 secret a deployment should accept (RFC 7518 §3.2: at least the hash size;
/// RFC 8725 §3.5). Key constructors do not enforce it; configuration loading must.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;
