//! [`KeyRing`]: the immutable set of keys a verifier trusts.

use crate::{Algorithm, JwkSet, JwtError, VerifyingKey};

/// An immutable set of verifying keys. Rotate by building a new ring and swapping it in.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<VerifyingKey>,
}

/// A JWKS entry that [`KeyRing::from_jwks`] left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position of the entry in the set's `keys` array.
    pub index: usize,
    /// The entry's `kid`, if it had one. Publisher-controlled text: sanitise before logging.
    pub kid: Option<String>,
    /// Why the entry could not be used.
    pub error: JwtError,
}

impl KeyRing {
    /// A ring of the given keys, searched in order.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self { keys }
    }

    /// Builds a ring from a JWKS. Unusable entries (unknown algorithm or curve, `oct`, weak RSA,
    /// bad encoding, …) are skipped and reported, so one bad key cannot poison the others.
    pub fn from_jwks(set: &JwkSet) -> (Self, Vec<SkippedKey>) {
        let mut keys = Vec::with_capacity(set.keys.len());
        let mut skipped = Vec::new();
        for (index, jwk) in set.keys.iter().enumerate() {
            match VerifyingKey::from_jwk(jwk, None) {
                Ok(key) => keys.push(key),
                Err(error) => skipped.push(SkippedKey {
                    index,
                    kid: jwk.kid.clone(),
                    error,
                }),
            }
        }
        (Self { keys }, skipped)
    }

    /// True if some key carries exactly this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid() == Some(kid))
    }

    /// True if the ring holds no keys (and therefore verifies nothing).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys, in search order.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The keys allowed to verify a token with this header `kid` and `alg`: those with that `kid`
    /// whose bound algorithm is the same scheme as `alg`.
    ///
    /// A `kid` is only ever compared for equality with in-memory ids (never used as a path,
    /// query or command), so injection strings simply find nothing. A token without `kid` is
    /// matched only against kid-less keys, so it cannot be tried against every key in a JWKS.
    pub(crate) fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<impl Iterator<Item = &VerifyingKey>, JwtError> {
        let mut named = self
            .keys
            .iter()
            .filter(move |key| key.kid() == kid)
            .peekable();
        if named.peek().is_none() {
            return Err(JwtError::UnknownKey);
        }
        // One key, one signature scheme (RFC 8725 §3.1): a key bound to `EdDSA` or `Ed25519`
        // verifies either name, the same Ed25519 computation; see `Algorithm::same_scheme`.
        let mut bound = named
            .filter(move |key| key.alg().same_scheme(alg))
            .peekable();
        if bound.peek().is_none() {
            return Err(JwtError::AlgorithmMismatch);
        }
        Ok(bound)
    }
}
