//! [`JwksCache`]: a JWKS fetched on demand, cached, refreshed on an unknown `kid` or when stale.
//!
//! Rules, in the spirit of jose's `createRemoteJWKSet`:
//! - the first verification fetches; later ones reuse the set until it is stale
//!   (`Cache-Control: max-age`, else a default, capped at a maximum);
//! - a token with an unknown `kid` triggers a refetch, so a rotated-in key is picked up
//!   without a restart;
//! - fetch *attempts* — successful or not, whatever triggered them — are at least `cooldown`
//!   apart, so garbage tokens with random `kid`s cost one fetch per cooldown, not one per
//!   request;
//! - fetches are single-flight: callers that need new keys (unknown `kid`, or no set yet) wait
//!   for the one in progress and use its result; callers holding a merely stale set go on
//!   with it meanwhile;
//! - a failed fetch keeps the last good set (a JWKS outage does not log everyone out).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tessera_jwt::{JwkSet, KeyRing};
use tokio::sync::Mutex;

use super::fixed::ring_from_jwks;
use super::{BoxFuture, KeySource};
use crate::{Clock, SystemClock};

/// A fetched key set and how long its publisher says it may be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedJwks {
    /// The keys.
    pub keys: JwkSet,
    /// `Cache-Control: max-age` (zero for `no-cache` / `no-store`); `None` when unspecified.
    pub max_age: Option<Duration>,
}

/// Why a fetch failed. The cache logs it and keeps its last good set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Connection refused, timed out, TLS failure, …
    #[error("request failed: {0}")]
    Transport(String),
    /// The server answered with a non-2xx status (redirects are not followed, so they land here).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The body exceeded the size cap.
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body is not a JWKS document.
    #[error("invalid JWKS document: {0}")]
    InvalidDocument(String),
    /// An in-process source failed.
    #[error("key source failed: {0}")]
    Source(String),
}

/// Fetches a JWKS. Implemented by [`super::HttpJwksFetcher`] and by any
/// `Fn() -> impl Future<Output = Result<FetchedJwks, FetchError>>` closure.
pub trait FetchJwks: Send + Sync + 'static {
    /// Fetches the current key set.
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedJwks, FetchError>>;
}

impl<F, Fut> FetchJwks for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<FetchedJwks, FetchError>> + Send + 'static,
{
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedJwks, FetchError>> {
        Box::pin(self())
    }
}

/// "No attempt yet" in [`JwksCache::last_attempt`].
const NEVER: i64 = i64::MIN;

/// A cached, self-refreshing JWKS over any [`FetchJwks`].
pub struct JwksCache<F> {
    fetcher: F,
    clock: Arc<dyn Clock>,
    cooldown: i64,
    default_max_age: i64,
    max_max_age: i64,
    snapshot: RwLock<Snapshot>,
    /// Start time of the last finished fetch attempt, or [`NEVER`]. Read without the gate so
    /// callers inside the cooldown never queue up on it.
    last_attempt: AtomicI64,
    /// Held for the whole of a fetch: the single-flight gate.
    gate: Mutex<()>,
}

#[derive(Clone)]
struct Snapshot {
    ring: Arc<KeyRing>,
    /// Unix second from which the set is stale; [`NEVER`] before the first successful fetch.
    fresh_until: i64,
}

impl<F: FetchJwks> JwksCache<F> {
    /// A cache over `fetcher`: cooldown 10 s, default max-age 5 min, max-age cap 1 day,
    /// system clock. Nothing is fetched until the first verification (or [`Self::prefetch`]).
    pub fn new(fetcher: F) -> Self {
        Self {
            fetcher,
            clock: Arc::new(SystemClock),
            cooldown: 10,
            default_max_age: 300,
            max_max_age: 86_400,
            snapshot: RwLock::new(Snapshot {
                ring: Arc::new(KeyRing::default()),
                fresh_until: NEVER,
            }),
            last_attempt: AtomicI64::new(NEVER),
            gate: Mutex::new(()),
        }
    }

    /// The least time between two fetch attempts (rounded down to whole seconds).
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = secs(cooldown);
        self
    }

    /// How long a set is fresh when its response names no `max-age`.
    pub fn with_default_max_age(mut self, max_age: Duration) -> Self {
        self.default_max_age = secs(max_age);
        self
    }

    /// The longest a set is considered fresh, whatever `max-age` says, so a key removed by
    /// its publisher stops verifying within this time.
    pub fn with_max_max_age(mut self, cap: Duration) -> Self {
        self.max_max_age = secs(cap);
        self
    }

    /// The time source (for cache ages and the cooldown).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    /// Fetches now unless the cooldown forbids it; returns the outcome of the attempt (or
    /// `Ok` without fetching inside the cooldown). Useful at start-up to log a bad URL early.
    ///
    /// A failed prefetch does not start the cooldown: an auth server that simply comes up a
    /// little after this process is fetched from on the first request, not a cooldown later.
    pub async fn prefetch(&self) -> Result<(), FetchError> {
        let _gate = self.gate.lock().await;
        let now = self.clock.unix_secs();
        if self.cooling_down(now) {
            return Ok(());
        }
        let before = self.last_attempt.load(Ordering::Acquire);
        let result = self.fetch_locked(now).await.map(drop);
        if result.is_err() {
            self.last_attempt.store(before, Ordering::Release);
        }
        result
    }

    /// The current ring, without refreshing.
    pub fn current(&self) -> Arc<KeyRing> {
        Arc::clone(&self.read().ring)
    }

    fn read(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn cooling_down(&self, now: i64) -> bool {
        let last = self.last_attempt.load(Ordering::Acquire);
        // A clock that went backwards ends the cooldown rather than extending it indefinitely.
        last != NEVER && now >= last && now - last < self.cooldown
    }

    /// Fetches unless someone else just did; returns the ring to use (new or last good).
    ///
    /// With `wait == false` a fetch already in flight is not waited for: the caller goes on
    /// with `seen` (stale-while-revalidate), so a slow JWKS server delays one request, not all.
    async fn refresh_from(&self, seen: &Arc<KeyRing>, wait: bool) -> Arc<KeyRing> {
        if self.cooling_down(self.clock.unix_secs()) {
            return self.current();
        }
        let _gate = if wait {
            self.gate.lock().await
        } else {
            match self.gate.try_lock() {
                Ok(gate) => gate,
                Err(_) => return self.current(),
            }
        };
        let current = self.current();
        if !Arc::ptr_eq(&current, seen) {
            // A fetch finished while we waited for the gate: use its result.
            return current;
        }
        let now = self.clock.unix_secs();
        if self.cooling_down(now) {
            return current;
        }
        self.fetch_locked(now).await.unwrap_or(current)
    }

    /// One fetch attempt; the caller holds the gate.
    async fn fetch_locked(&self, now: i64) -> Result<Arc<KeyRing>, FetchError> {
        let result = self.fetcher.fetch().await;
        self.last_attempt.store(now, Ordering::Release);
        match result {
            Ok(fetched) => {
                let ring = Arc::new(ring_from_jwks(&fetched.keys));
                let max_age = fetched
                    .max_age
                    .map_or(self.default_max_age, secs)
                    .min(self.max_max_age);
                *self
                    .snapshot
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Snapshot {
                    ring: Arc::clone(&ring),
                    fresh_until: now.saturating_add(max_age),
                };
                tracing::debug!(keys = ring.len(), max_age, "JWKS fetched");
                Ok(ring)
            }
            Err(err) => {
                tracing::warn!(error = %err, "JWKS fetch failed; keeping the last good key set");
                Err(err)
            }
        }
    }
}

impl<F: FetchJwks> KeySource for JwksCache<F> {
    fn keys(&self) -> BoxFuture<'_, Arc<KeyRing>> {
        Box::pin(async move {
            let snapshot = self.read();
            if self.clock.unix_secs() < snapshot.fresh_until {
                return snapshot.ring;
            }
            // Merely stale keys still verify while someone refreshes them; with no keys at all
            // there is nothing to go on, so wait for the fetch.
            let wait = snapshot.ring.is_empty();
            self.refresh_from(&snapshot.ring, wait).await
        })
    }

    fn refresh<'a>(&'a self, seen: &'a Arc<KeyRing>) -> BoxFuture<'a, Option<Arc<KeyRing>>> {
        Box::pin(async move {
            // A token naming an unknown key may be waiting for exactly this fetch.
            let ring = self.refresh_from(seen, true).await;
            (!Arc::ptr_eq(&ring, seen)).then_some(ring)
        })
    }
}

impl<F> fmt::Debug for JwksCache<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("cooldown", &self.cooldown)
            .field("default_max_age", &self.default_max_age)
            .finish_non_exhaustive()
    }
}

/// Whole seconds, saturating.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
