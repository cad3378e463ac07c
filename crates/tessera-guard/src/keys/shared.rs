//! [`SharedKeys`]: a key ring the host process swaps when its own keys change.

use std::sync::{Arc, RwLock};

use tessera_jwt::{JwkSet, KeyRing};

use super::fixed::ring_from_jwks;
use super::{BoxFuture, KeySource};

/// A replaceable key ring. Clones share it: keep one clone where the keys are managed and give
/// another to the guard, then call [`Self::replace`] after every rotation.
///
/// Readers take a snapshot (`Arc<KeyRing>`) and verify without holding the lock, so a
/// replacement never waits for, or disturbs, verifications in flight.
#[derive(Debug, Clone, Default)]
pub struct SharedKeys(Arc<RwLock<Arc<KeyRing>>>);

impl SharedKeys {
    /// Starts with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(ring))))
    }

    /// The current snapshot.
    pub fn current(&self) -> Arc<KeyRing> {
        // A poisoned lock still holds a whole `Arc` (assignment cannot tear), so use it.
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Replaces the ring for every later verification.
    pub fn replace(&self, ring: KeyRing) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
    }

    /// Replaces the ring with the usable public keys of `set`.
    pub fn replace_with_jwks(&self, set: &JwkSet) {
        self.replace(ring_from_jwks(set));
    }
}

impl KeySource for SharedKeys {
    fn keys(&self) -> BoxFuture<'_, Arc<KeyRing>> {
        let ring = self.current();
        Box::pin(async move { ring })
    }

    fn refresh<'a>(&'a self, seen: &'a Arc<KeyRing>) -> BoxFuture<'a, Option<Arc<KeyRing>>> {
        // The ring may have been replaced between the caller's snapshot and now.
        let ring = self.current();
        Box::pin(async move { (!Arc::ptr_eq(&ring, seen)).then_some(ring) })
    }
}
