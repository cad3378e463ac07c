//! [`StaticKeys`]: keys fixed at start-up.

use std::sync::Arc;

use tessera_jwt::{JwkSet, KeyRing, MIN_HMAC_SECRET_BYTES, VerifyingKey};

use super::{BoxFuture, KeySource};
use crate::ConfigError;

/// A key ring that never changes: HS256 shared secrets, or a JWKS known in advance.
#[derive(Debug, Clone)]
pub struct StaticKeys(Arc<KeyRing>);

impl StaticKeys {
    /// Exactly these keys. No strength checks: prefer [`Self::hs256`] for secrets.
    pub fn new(ring: KeyRing) -> Self {
        Self(Arc::new(ring))
    }

    /// HS256 shared secrets, newest first. Tokens without a `kid` (Better Auth's and the
    /// seed's HS256 tokens) are tried against each in turn, so a token signed with a retired
    /// secret keeps verifying while both are configured.
    ///
    /// Refuses an empty list and any secret shorter than
    /// [`MIN_HMAC_SECRET_BYTES`] (RFC 8725 §3.5): short secrets fall to offline guessing.
    pub fn hs256<I, S>(secrets: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut keys = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(ConfigError::WeakSecret);
            }
            keys.push(VerifyingKey::hmac(None, secret));
        }
        if keys.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        Ok(Self::new(KeyRing::new(keys)))
    }

    /// The public keys of a JWKS. Entries the guard cannot use are skipped with a warning;
    /// a set with no usable key at all is refused.
    pub fn from_jwks(set: &JwkSet) -> Result<Self, ConfigError> {
        let ring = ring_from_jwks(set);
        if ring.is_empty() {
            return Err(ConfigError::NoUsableKey);
        }
        Ok(Self::new(ring))
    }

    /// Like [`Self::from_jwks`], from the JSON text of a JWKS document.
    pub fn from_jwks_json(json: &str) -> Result<Self, ConfigError> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| ConfigError::InvalidJwks(e.to_string()))?;
        Self::from_jwks(&set)
    }

    /// The ring.
    pub fn ring(&self) -> &Arc<KeyRing> {
        &self.0
    }
}

impl KeySource for StaticKeys {
    fn keys(&self) -> BoxFuture<'_, Arc<KeyRing>> {
        let ring = Arc::clone(&self.0);
        Box::pin(async move { ring })
    }
}

/// Builds a ring from a JWKS, logging (never failing on) the entries it has to leave out.
pub(crate) fn ring_from_jwks(set: &JwkSet) -> KeyRing {
    let (ring, skipped) = KeyRing::from_jwks(set);
    for entry in skipped {
        // The kid is publisher-controlled text: log its position, not its value.
        tracing::warn!(index = entry.index, error = %entry.error, "JWKS entry skipped");
    }
    ring
}
