//! Where the guard's verifying keys come from.
//!
//! - [`StaticKeys`]: fixed keys — HS256 shared secret(s), or a JWKS known at start-up.
//! - [`SharedKeys`]: a snapshot the host process replaces whenever its own keys change.
//! - [`JwksCache`]: a JWKS fetched on demand and cached, refetched when a token names an
//!   unknown `kid` (rate-limited by a cooldown) and when `Cache-Control: max-age` runs out;
//!   the fetch is either HTTP ([`RemoteJwks`], feature `remote`) or any async function, e.g.
//!   an auth server in the same process producing its JWKS document directly.
//!
//! A source hands out immutable [`KeyRing`] snapshots; verification never holds a lock.

mod cache;
mod fixed;
#[cfg(feature = "remote")]
pub(crate) mod remote;
mod shared;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tessera_jwt::KeyRing;

pub use cache::{FetchError, FetchJwks, FetchedJwks, JwksCache};
pub use fixed::StaticKeys;
#[cfg(feature = "remote")]
pub use remote::{HttpJwksFetcher, HttpJwksFetcherBuilder, RemoteJwks};
pub use shared::SharedKeys;

/// A boxed, `Send` future: what [`KeySource`] and [`FetchJwks`] methods return, so both traits
/// stay object-safe without a macro crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A supplier of verifying keys.
pub trait KeySource: Send + Sync + 'static {
    /// The keys to verify with now. A caching source may refresh a stale set first (and keeps
    /// the last good set if that fails).
    fn keys(&self) -> BoxFuture<'_, Arc<KeyRing>>;

    /// Called when a token names a key that `seen` (the ring it was checked against) lacks.
    /// A refreshing source may fetch again, subject to its rate limit; it returns the ring to
    /// retry with if that differs from `seen`, or `None` when there is nothing new to try.
    fn refresh<'a>(&'a self, seen: &'a Arc<KeyRing>) -> BoxFuture<'a, Option<Arc<KeyRing>>> {
        let _ = seen;
        Box::pin(async { None })
    }
}

impl<T: KeySource + ?Sized> KeySource for Arc<T> {
    fn keys(&self) -> BoxFuture<'_, Arc<KeyRing>> {
        (**self).keys()
    }

    fn refresh<'a>(&'a self, seen: &'a Arc<KeyRing>) -> BoxFuture<'a, Option<Arc<KeyRing>>> {
        (**self).refresh(seen)
    }
}
