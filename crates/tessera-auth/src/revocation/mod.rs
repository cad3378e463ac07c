//! Instant revocation, which Better Auth lacks: announcing ended sessions to the guards.
//!
//! Access tokens carry their session's id as `sid` ([`crate::AuthState::mint_jwt`]). Every
//! path that ends sessions — sign-out, revoke-session, revoke-sessions, revoke-other-sessions,
//! change-password with `revokeOtherSessions`, and the clean-up of an expired session — hands
//! the store a [`RevocationStamp`] with the deletion; the store writes one revocation record
//! per session it deleted ([`RevocationRecord`], table `revocation`) in the same transaction,
//! next to the audit row, and returns the ids, which are then published through
//! [`Revocations`]. Guards holding a revocation list refuse those sessions' tokens from then on,
//! instead of at their `exp`. Three ways reach them:
//!
//! - **in process** ([`Revocations::subscribe`]): `tessera serve` hands the ids straight to the
//!   bounded, self-expiring revocation set its own tasks guard consults (tessera-guard's
//!   `MemoryRevocations`), before the sign-out is even answered;
//! - **Redis** ([`RedisRevocationSink`], when `REDIS_URL` is set): a
//!   [`tessera_revocation::Message`] on the channel [`tessera_revocation::REDIS_KEY`] and the
//!   ids in the sorted set of the same name, so a guard that (re)connects catches up;
//! - **the HTTP feed** (`GET /api/auth/revocations?since=<cursor>`, see
//!   [`crate::AuthState::revocation_feed`]): read from the revocation records, so it needs no
//!   publisher at all and every auth server process sharing the database serves the same feed;
//!   guards poll it.
//!
//! The formats, names and rules are the `tessera-revocation` crate's, shared with the guards.
//! An id is only worth announcing while tokens minted for it can still be valid: for the
//! retention horizon ([`tessera_revocation::retention_secs`]: the JWT lifetime plus a minute of
//! leeway). Every form of the announcement carries it, and records past it are pruned.

mod feed;
mod record;
mod redis;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use prometheus_client::metrics::counter::Counter;

pub use record::{RevocationRecord, RevocationStamp};
pub use redis::RedisRevocationSink;

/// How long one sink may take to accept a publication before it is given up (logged).
const PUBLISH_TIMEOUT: StdDuration = StdDuration::from_secs(2);

/// Why a sink could not take a publication.
#[derive(Debug, thiserror::Error)]
#[error("revocation not published: {0}")]
pub struct RevocationError(#[from] ::redis::RedisError);

/// A destination for ended session ids.
#[async_trait]
pub trait RevocationSink: Send + Sync + 'static {
    /// Announces that the sessions `sids` ended at `at`, and that their tokens must be refused
    /// until `until` (both Unix seconds).
    async fn publish(&self, sids: &[String], at: i64, until: i64) -> Result<(), RevocationError>;
}

/// An in-process subscriber: a plain function of the ids and their `until`.
struct InProcess(Subscriber);

#[async_trait]
impl RevocationSink for InProcess {
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
    /// The in-process subscribers among the sinks, also told of what other processes ended
    /// ([`Self::deliver_locally`]).
    local: RwLock<Vec<Subscriber>>,
    /// Sessions announced so far (`tessera_revocations_published_total`).
    published: Counter,
}

/// An in-process subscriber: held both as a sink and in the local list.
type Subscriber = Arc<dyn Fn(&[String], i64) + Send + Sync>;

impl Revocations {
    /// Announcements that matter for the retention horizon of `jwt_lifetime`; no sink yet.
    pub fn new(jwt_lifetime: Duration) -> Self {
        let lifetime = u64::try_from(jwt_lifetime.num_seconds()).unwrap_or(0);
        let keep = i64::try_from(tessera_revocation::retention_secs(lifetime)).unwrap_or(i64::MAX);
        Self {
            keep: Duration::seconds(keep),
            sinks: RwLock::new(Vec::new()),
            local: RwLock::new(Vec::new()),
            published: Counter::default(),
        }
    }

    /// The count of ended sessions announced so far (shared: it goes on counting).
    pub fn published(&self) -> Counter {
        self.published.clone()
    }

    /// How long after a session ends its id still matters: the JWT lifetime plus leeway.
    pub fn keep(&self) -> Duration {
        self.keep
    }

    /// The stamp of sessions ending at `now`: refused until the horizon.
    pub fn stamp(&self, now: DateTime<Utc>) -> RevocationStamp {
        RevocationStamp {
            at: now,
            until: now + self.keep,
        }
    }

    /// Calls `subscriber` with every batch of ended session ids and the Unix second until
    /// which they must be refused, synchronously, before the request that ended them is
    /// answered. For a guard in the same process; it must not block.
    /// It is also called with the sessions other processes ended ([`Self::deliver_locally`]).
    pub fn subscribe(&self, subscriber: impl Fn(&[String], i64) + Send + Sync + 'static) {
        let subscriber: Subscriber = Arc::new(subscriber);
        self.local
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Arc::clone(&subscriber));
        self.add_sink(Arc::new(InProcess(subscriber)));
    }

    /// Hands sessions another process ended (read back from the revocation records) to the
    /// in-process subscribers only: the other process announced them to Redis itself, or
    /// could not, and republishing here would only echo.
    pub fn deliver_locally(&self, sids: &[String], until: i64) {
        if sids.is_empty() {
            return;
        }
        let local = self
            .local
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for subscriber in local {
            subscriber(sids, until);
        }
    }

    /// Adds a sink (e.g. [`RedisRevocationSink`]).
    pub fn add_sink(&self, sink: Arc<dyn RevocationSink>) {
        self.sinks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(sink);
    }

    /// Announces that `sids` ended as `stamp` says, to each sink in the order they were added.
    /// Never fails: the sessions are already gone from the database and their revocation
    /// records written (the HTTP feed reads them); a sink that fails or takes longer than two
    /// seconds is logged and skipped.
    pub async fn publish(&self, sids: &[String], stamp: RevocationStamp) {
        if sids.is_empty() {
            return;
        }
        self.published
            .inc_by(u64::try_from(sids.len()).unwrap_or(u64::MAX));
        let at = stamp.at.timestamp();
        let until = stamp.until.timestamp();
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
        let stamp = revocations.stamp(Utc.timestamp_opt(1_800_000_000, 0).unwrap());
        revocations.publish(&[], stamp).await;
        revocations.publish(&["a".into(), "b".into()], stamp).await;
        assert_eq!(
            *seen.lock().unwrap(),
            [(
                vec!["a".to_owned(), "b".to_owned()],
                1_800_000_000 + 900 + 60
            )]
        );
    }
}
