//! The revocation lists of the guards `tessera` runs (instant revocation).
//!
//! `tessera serve`: always on ([`GuardRevocations::local`]). The auth server hands every ended
//! session straight to its tasks guard's list, in process, before answering the request that
//! ended it; with `REDIS_URL` the guard also follows the Redis channel, so sessions ended by
//! *other* processes sharing the database are refused too.
//!
//! `tessera api`: opt-in, with `--revocations-url` (the auth server's HTTP feed, polled every
//! 500 ms) and/or `--redis-url` (pub/sub). Without either, tokens stay valid until their `exp`.

use std::sync::Arc;
use std::time::Duration;

use tessera_guard::RevocationList;
use tessera_guard::revocation::{MemoryRevocations, RedisRevocations, RevocationPoller};

use crate::ApiError;

/// One guard's revocation sources, all filling one list, which answers the guard.
pub struct GuardRevocations {
    list: Arc<MemoryRevocations>,
    /// Held so the polling loop (which only keeps a weak handle) runs as long as the guard.
    _poller: Option<Arc<RevocationPoller>>,
    /// Held so the subscriber task runs as long as the guard.
    _redis: Option<RedisRevocations>,
}

impl RevocationList for GuardRevocations {
    fn is_revoked(&self, sid: &str) -> bool {
        self.list.is_revoked(sid)
    }
}

impl GuardRevocations {
    /// `tessera serve`'s: fed in process through [`Self::list`] by the auth server it runs
    /// beside, and by Redis when `redis_url` is set.
    ///
    /// # Errors
    /// When `redis_url` is not a Redis URL.
    pub fn local(redis_url: Option<&str>) -> Result<Self, ApiError> {
        let list = Arc::new(MemoryRevocations::new());
        let redis = redis_url
            .map(|url| {
                RedisRevocations::builder(url)
                    .list(Arc::clone(&list))
                    .spawn()
                    .map_err(|source| ApiError::Guard {
                        setting: "REDIS_URL",
                        source,
                    })
            })
            .transpose()?;
        Ok(Self {
            list,
            _poller: None,
            _redis: redis,
        })
    }

    /// The list itself, for an in-process source to revoke into.
    pub fn list(&self) -> Arc<MemoryRevocations> {
        Arc::clone(&self.list)
    }

    /// `tessera api`'s: `None` unless a feed URL or a Redis URL is given. Waits briefly for
    /// the first poll / subscription so start-up can say whether they work; a source that is
    /// down is not fatal (the auth server may start later), it is retried in the background.
    ///
    /// # Errors
    /// When a URL is not usable (not http(s), plain http to a remote host, not Redis).
    pub async fn remote(
        feed_url: Option<&str>,
        allow_insecure_http: bool,
        redis_url: Option<&str>,
    ) -> Result<Option<Self>, ApiError> {
        if feed_url.is_none() && redis_url.is_none() {
            return Ok(None);
        }
        let list = Arc::new(MemoryRevocations::new());
        let poller = match feed_url {
            Some(url) => {
                let poller = Arc::new(
                    RevocationPoller::builder(url)
                        .allow_insecure_http(allow_insecure_http)
                        .list(Arc::clone(&list))
                        .build()
                        .map_err(|source| ApiError::Guard {
                            setting: "--revocations-url",
                            source,
                        })?,
                );
                if let Err(error) = poller.poll_once().await {
                    tracing::warn!(%error, %url, "could not read the revocation feed yet; retrying every 500 ms");
                }
                poller.spawn();
                Some(poller)
            }
            None => None,
        };
        let redis = match redis_url {
            Some(url) => {
                let redis = RedisRevocations::builder(url)
                    .list(Arc::clone(&list))
                    .spawn()
                    .map_err(|source| ApiError::Guard {
                        setting: "--redis-url",
                        source,
                    })?;
                if !redis.wait_synced(Duration::from_secs(3)).await {
                    tracing::warn!("could not subscribe to revocations in Redis yet; retrying");
                }
                Some(redis)
            }
            None => None,
        };
        Ok(Some(Self {
            list,
            _poller: poller,
            _redis: redis,
        }))
    }
}
