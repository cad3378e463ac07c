//! [`RedisRevocations`]: revocations pushed through Redis pub/sub (feature `redis`).
//!
//! Tessera auth servers with `REDIS_URL` publish every ended session on the channel
//! [`REDIS_KEY`] and add it to the sorted set of the same name (score: the Unix second until
//! which it must stay revoked). A subscriber first subscribes, then reads the sorted set, so
//! nothing published between the two is missed; it does both again after every reconnection,
//! which recovers whatever was published while it was away. A ping every few seconds notices a
//! connection that died silently.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::protocol::{Message, REDIS_KEY};
use super::{MemoryRevocations, RevocationList};
use crate::ConfigError;

/// Settings of a [`RedisRevocations`].
#[must_use]
pub struct RedisRevocationsBuilder {
    url: String,
    list: Option<Arc<MemoryRevocations>>,
    connect_timeout: Duration,
    ping_interval: Duration,
}

/// Follows the revocation channel in a background task and answers from a
/// [`MemoryRevocations`]. The task ends when the last handle is dropped.
pub struct RedisRevocations {
    list: Arc<MemoryRevocations>,
    synced: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl RedisRevocations {
    /// Settings for the Redis at `url` (`redis://…` or `rediss://…`): connect timeout 3 s, a
    /// liveness ping every 5 s.
    pub fn builder(url: &str) -> RedisRevocationsBuilder {
        RedisRevocationsBuilder {
            url: url.to_owned(),
            list: None,
            connect_timeout: Duration::from_secs(3),
            ping_interval: Duration::from_secs(5),
        }
    }

    /// The list this subscriber fills.
    pub fn list(&self) -> &Arc<MemoryRevocations> {
        &self.list
    }

    /// Whether the subscriber is connected, subscribed and caught up right now.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the subscriber is subscribed and caught up, at most `timeout`; returns
    /// whether it is. For start-up logs and tests: the guard works (from what it knows) either
    /// way.
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        let mut synced = self.synced.clone();
        tokio::time::timeout(timeout, synced.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for RedisRevocations {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RevocationList for RedisRevocations {
    fn is_revoked(&self, sid: &str) -> bool {
        self.list.is_revoked(sid)
    }
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("synced", &self.is_synced())
            .finish_non_exhaustive()
    }
}

impl RedisRevocationsBuilder {
    /// Fills `list` instead of a new one (to share it with other sources).
    pub fn list(mut self, list: Arc<MemoryRevocations>) -> Self {
        self.list = Some(list);
        self
    }

    /// Time allowed to connect to Redis.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Starts the subscriber on the current Tokio runtime. Fails only on a malformed URL:
    /// an unreachable Redis is retried in the background (with a warning), and tokens are
    /// judged on what the list already holds meanwhile.
    pub fn spawn(self) -> Result<RedisRevocations, ConfigError> {
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| ConfigError::Redis(e.to_string()))?;
        let list = self.list.unwrap_or_default();
        let (synced_tx, synced) = watch::channel(false);
        let follower = Follower {
            client,
            list: Arc::clone(&list),
            synced: synced_tx,
            connect_timeout: self.connect_timeout,
            ping_interval: self.ping_interval,
        };
        let task = tokio::spawn(follower.run());
        Ok(RedisRevocations { list, synced, task })
    }
}

impl fmt::Debug for RedisRevocationsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocationsBuilder")
            .finish_non_exhaustive()
    }
}

/// The background task.
struct Follower {
    client: redis::Client,
    list: Arc<MemoryRevocations>,
    synced: watch::Sender<bool>,
    connect_timeout: Duration,
    ping_interval: Duration,
}

impl Follower {
    async fn run(self) {
        let mut backoff = Duration::from_millis(100);
        let mut failing = false;
        loop {
            let outcome = match self.connect().await {
                Ok((sink, stream)) => {
                    if failing {
                        tracing::info!(target: "tessera_guard", "Redis revocation channel reachable again");
                    }
                    failing = false;
                    backoff = Duration::from_millis(100);
                    self.synced.send_replace(true);
                    let outcome = self.follow(sink, stream).await;
                    self.synced.send_replace(false);
                    outcome
                }
                Err(error) => Err(error),
            };
            match outcome {
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(
                        target: "tessera_guard",
                        %error,
                        "Redis revocation channel unreachable; known revocations still apply, reconnecting"
                    );
                }
                Err(error) => {
                    tracing::debug!(target: "tessera_guard", %error, "Redis still unreachable");
                }
                Ok(()) => {}
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Subscribes, then catches up from the sorted set.
    async fn connect(&self) -> Result<(PubSubSink, PubSubStream), String> {
        let timeout = self.connect_timeout;
        let within = |what: &'static str| move |_| format!("{what}: timed out");
        let pubsub = tokio::time::timeout(timeout, self.client.get_async_pubsub())
            .await
            .map_err(within("connect"))?
            .map_err(|e| e.to_string())?;
        let (mut sink, stream) = pubsub.split();
        tokio::time::timeout(timeout, sink.subscribe(REDIS_KEY))
            .await
            .map_err(within("subscribe"))?
            .map_err(|e| e.to_string())?;
        let mut conn =
            tokio::time::timeout(timeout, self.client.get_multiplexed_async_connection())
                .await
                .map_err(within("connect"))?
                .map_err(|e| e.to_string())?;
        let now = self.list.until(Duration::ZERO);
        let held: Vec<(String, i64)> = tokio::time::timeout(
            timeout,
            redis::cmd("ZRANGEBYSCORE")
                .arg(REDIS_KEY)
                .arg(format!("({now}"))
                .arg("+inf")
                .arg("WITHSCORES")
                .query_async(&mut conn),
        )
        .await
        .map_err(within("catch-up"))?
        .map_err(|e| e.to_string())?;
        let mut added = 0;
        for (sid, until) in &held {
            added += self.list.revoke_many([sid], *until);
        }
        tracing::debug!(target: "tessera_guard", held = held.len(), added, "caught up on revocations from Redis");
        Ok((sink, stream))
    }

    /// Applies messages until the connection ends or stops answering pings.
    async fn follow(&self, mut sink: PubSubSink, mut stream: PubSubStream) -> Result<(), String> {
        let mut ping = tokio::time::interval(self.ping_interval);
        ping.tick().await;
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else {
                        return Err("connection closed".into());
                    };
                    self.apply(message.get_payload_bytes());
                }
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(self.connect_timeout, sink.ping::<redis::Value>()).await;
                    match pong {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(e.to_string()),
                        Err(_) => return Err("ping timed out".into()),
                    }
                }
            }
        }
    }

    /// A [`Message`]; anything else is ignored.
    fn apply(&self, payload: &[u8]) {
        match Message::decode(payload) {
            Some(message) => {
                self.list.revoke_many(&message.revoked, message.until);
            }
            None => {
                tracing::debug!(target: "tessera_guard", "ignored a malformed revocation message")
            }
        }
    }
}
