//! Instant revocation, which Better Auth lacks: announcing ended sessions to the guards.
//!
//! Access tokens carry their session's id as `sid` ([`crate::AuthState::mint_jwt`]). Every
//! path that ends sessions — sign-out, revoke-session, revoke-sessions, revoke-other-sessions,
//! change-password with `revokeOtherSessions`, and the clean-up of an expired session — learns
//! from the store which ids it deleted, commits them with their audit row, and then publishes
//! them through [`Revocations`]. Guards holding a revocation list refuse those sessions' tokens
//! from then on, instead of at their `exp`. Three ways reach them:
//!
//! - **in process** ([`Revocations::subscribe`]): `tessera serve` hands the ids straight to the
//!   bounded, self-expiring revocation set its own tasks guard consults (tessera-guard's
//!   `MemoryRevocations`), before the sign-out is even answered;
//! - **Redis** ([`RedisRevocationSink`], when `REDIS_URL` is set): `PUBLISH` on the channel
//!   [`REDIS_CHANNEL`] and `ZADD` to the sorted set of the same name (score: the Unix second
//!   until which the id matters), so a guard that (re)connects catches up on what it missed;
//! - **the HTTP feed** (`GET /api/auth/revocations?since=<cursor>`, see
//!   [`crate::AuthState::revocation_feed`]): built from the audit log, so it needs no publisher
//!   at all and every auth server process sharing the database serves the same feed; guards
//!   poll it.
//!
//! An id is only worth announcing while tokens minted for it can still be valid: for the JWT
//! lifetime plus [`LEEWAY_SECS`] (the largest clock-skew leeway a guard accepts). Every form of
//! the announcement carries that horizon, and everything older is forgotten.

mod feed;
mod redis;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use feed::RevocationFeed;
pub use redis::RedisRevocationSink;

/// The Redis channel revocations are published on, and the name of the sorted set kept for
/// catching up (Redis keeps channels and keys apart). A message is JSON
/// `{"revoked": ["<sid>", …], "until": <unix seconds>}`.
pub const REDIS_CHANNEL: &str = "tessera:revocations";

/// Clock-skew leeway a guard may grant after `exp` (tessera-guard caps it at 60 seconds): a
/// revoked id is kept this much longer than the token lifetime.
pub const LEEWAY_SECS: i64 = 60;

/// How long one sink may take to accept a publication before it is given up (logged).
const PUBLISH_TIMEOUT: StdDuration = StdDuration::from_secs(2);

/// Why a sink could not take a publication.
#[derive(Debug, thiserror::Error)]
#[error("revocation not published: {0}")]
pub struct RevocationError(pub String);

/// A destination for ended session ids.
#[async_trait]
pub trait RevocationSink: Send + Sync + 'static {
    /// Announces that the sessions `sids` ended at `at`, and that their tokens must be refused
    /// until `until` (both Unix seconds).
    async fn publish(&self, sids: &[String], at: i64, until: i64) -> Result<(), RevocationError>;
}

/// An in-process subscriber: a plain function of the ids and their `until`.
struct InProcess<F>(F);

#[async_trait]
impl<F> RevocationSink for InProcess<F>
where
    F: Fn(&[String], i64) + Send + Sync + 'static,
{
    async fn publish(&self, sids: &[String], _at: i64, until: i64) -> Result<(), RevocationError> {
        (self.0)(sids, until);
        Ok(())
    }
}

/// Where the auth server announces ended sessions: any number of sinks, added at start-up
/// (the state is built first, the tasks guard and Redis are attached to it afterwards).
pub struct Revocations {
    keep: Duration,
    sinks: RwLock<Vec<Arc<dyn RevocationSink>>>,
}

impl Revocations {
    /// Announcements that matter for `jwt_lifetime` plus [`LEEWAY_SECS`]; no sink yet.
    pub fn new(jwt_lifetime: Duration) -> Self {
        Self {
            keep: jwt_lifetime + Duration::seconds(LEEWAY_SECS),
            sinks: RwLock::new(Vec::new()),
        }
    }

    /// How long after a session ends its id still matters: the JWT lifetime plus leeway.
    pub fn keep(&self) -> Duration {
        self.keep
    }

    /// Calls `subscriber` with every batch of ended session ids and the Unix second until
    /// which they must be refused, synchronously, before the request that ended them is
    /// answered. For a guard in the same process; it must not block.
    pub fn subscribe(&self, subscriber: impl Fn(&[String], i64) + Send + Sync + 'static) {
        self.add_sink(Arc::new(InProcess(subscriber)));
    }

    /// Adds a sink (e.g. [`RedisRevocationSink`]).
    pub fn add_sink(&self, sink: Arc<dyn RevocationSink>) {
        self.sinks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(sink);
    }

    /// Announces that `sids` ended at `now`, to each sink in the order they were added. Never
    /// fails: the sessions are already gone from the database (and the HTTP feed reads them
    /// from there); a sink that fails or takes longer than two seconds is logged and skipped.
    pub async fn publish(&self, sids: &[String], now: DateTime<Utc>) {
        if sids.is_empty() {
            return;
        }
        let at = now.timestamp();
        let until = (now + self.keep).timestamp();
        let sinks = self
            .sinks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for sink in sinks {
            match tokio::time::timeout(PUBLISH_TIMEOUT, sink.publish(sids, at, until)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(%error, count = sids.len(), "ended sessions not announced to a revocation sink");
                }
                Err(_) => {
                    tracing::error!(
                        count = sids.len(),
                        "revocation sink timed out; ended sessions not announced to it"
                    );
                }
            }
        }
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sinks = self
            .sinks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        f.debug_struct("Revocations")
            .field("keep", &self.keep)
            .field("sinks", &sinks)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone as _;

    use super::*;

    #[tokio::test]
    async fn subscribers_get_each_batch_with_the_token_lifetime_plus_leeway() {
        let revocations = Revocations::new(Duration::minutes(15));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        revocations.subscribe(move |sids, until| sink.lock().unwrap().push((sids.to_vec(), until)));
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        revocations.publish(&[], now).await;
        revocations.publish(&["a".into(), "b".into()], now).await;
        assert_eq!(
            *seen.lock().unwrap(),
            [(
                vec!["a".to_owned(), "b".to_owned()],
                1_800_000_000 + 900 + 60
            )]
        );
    }
}
