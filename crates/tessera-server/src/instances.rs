//! Several `tessera serve` processes on one database and one Redis act as one service: each
//! follows what the others announce in Redis and drops its in-memory copies of what changed.
//!
//! - [`REDIS_KEY`] (the revocation channel every auth server already publishes ended sessions
//!   on, for guards): the ids leave this process's session cache and minted-token cache
//!   ([`AuthState::sessions_ended_elsewhere`]), so a session ended on one instance is refused by
//!   every other one at once instead of after the cache TTL;
//! - [`KEYS_CHANNEL`] (published by `tessera keys rotate`): the key ring is re-read at once
//!   ([`AuthState::keys_rotated_elsewhere`]), instead of at the next 30 s re-check, which stays
//!   as the fallback.
//!
//! Revocations are delayed, never lost: every ended session is also a record in the shared
//! database (table `revocation`, what the HTTP feed serves). The follower keeps the feed cursor
//! of the last records it applied; whenever the subscription is (re)established it reads the
//! records since then and applies them as a Redis message would
//! ([`AuthState::catch_up_revocations`]: session cache, minted-token cache, tasks guard), and
//! while Redis cannot be reached it reads them every [`POLL_INTERVAL`], so another instance's
//! sign-out is seen within that, however long the outage. On (re)subscription the whole session
//! cache is dropped too and the signing key re-read at its next use; while Redis is down the
//! periodic key re-check bounds how long a rotation goes unseen. A ping every few seconds
//! notices a connection that died silently.

use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::{PubSubSink, PubSubStream};
use tessera_auth::AuthState;
use tessera_revocation::{Cursor, KEYS_CHANNEL, Message, REDIS_KEY};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Time allowed to connect and subscribe, and for a ping to be answered.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a quiet subscription is pinged.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// The longest wait between two attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the revocation records are read while Redis cannot be reached: the longest an
/// ended session goes unseen by this instance during an outage.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The follower's task; stopped when dropped (with the application).
pub struct Follower(JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows the other instances' announcements in the Redis at `url` for `state`, in the
/// background; an unreachable Redis is retried (with one warning) until it answers.
///
/// # Errors
/// When `url` is not a Redis URL.
pub fn follow(state: AuthState, url: &str) -> Result<Follower, redis::RedisError> {
    let client = redis::Client::open(url)?;
    Ok(Follower(tokio::spawn(run(client, state))))
}

async fn run(client: redis::Client, state: AuthState) {
    let mut caught_up = CaughtUp::new();
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let subscribed = if failing {
            caught_up.polling(&state, subscribe(&client)).await
        } else {
            subscribe(&client).await
        };
        let outcome = match subscribed {
            Ok((sink, stream)) => {
                if failing {
                    tracing::info!("Redis reachable again; following the other instances");
                }
                failing = false;
                backoff = Duration::from_millis(100);
                state.announcements_missed().await;
                // Subscribed first, so nothing ended from now on is missed; then what was.
                caught_up.apply(&state).await;
                follow_until_lost(&state, sink, stream).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            if failing {
                tracing::debug!(%error, "Redis still unreachable");
            } else {
                failing = true;
                tracing::warn!(
                    %error,
                    "Redis unreachable: sessions ended by other instances are read from the \
                     database every second, keys they rotate seen at the key re-check; reconnecting"
                );
            }
        }
        caught_up.polling(&state, tokio::time::sleep(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Where this instance is in the revocation records, and when it reads them next while Redis
/// is away.
struct CaughtUp {
    /// The cursor after the last records applied (`None` before the first read: everything
    /// still within the horizon is applied then).
    cursor: Option<Cursor>,
    /// One schedule across every wait and attempt of an outage, so the short first backoffs
    /// do not each restart it. Its ticks pile up while Redis is followed, so the first read
    /// after Redis is lost comes at once.
    poll: Interval,
}

impl CaughtUp {
    fn new() -> Self {
        let mut poll = tokio::time::interval_at(Instant::now() + POLL_INTERVAL, POLL_INTERVAL);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { cursor: None, poll }
    }

    /// Applies the records since the cursor and moves it on; a database that fails keeps the
    /// cursor, so the same records are read next time.
    async fn apply(&mut self, state: &AuthState) {
        match state.catch_up_revocations(self.cursor.as_ref()).await {
            Ok(cursor) => self.cursor = Some(cursor),
            Err(error) => {
                tracing::debug!(?error, "could not read the revocation records; retrying");
            }
        }
    }

    /// Runs `task` (waiting for, or trying to reach, Redis), applying the records every
    /// [`POLL_INTERVAL`] meanwhile.
    async fn polling<T>(&mut self, state: &AuthState, task: impl Future<Output = T>) -> T {
        tokio::pin!(task);
        loop {
            tokio::select! {
                done = &mut task => return done,
                _ = self.poll.tick() => self.apply(state).await,
            }
        }
    }
}

async fn subscribe(client: &redis::Client) -> Result<(PubSubSink, PubSubStream), String> {
    let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| "connect: timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let (mut sink, stream) = pubsub.split();
    tokio::time::timeout(CONNECT_TIMEOUT, sink.subscribe(&[REDIS_KEY, KEYS_CHANNEL]))
        .await
        .map_err(|_| "subscribe: timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok((sink, stream))
}

/// Applies messages until the connection ends or stops answering pings.
async fn follow_until_lost(
    state: &AuthState,
    mut sink: PubSubSink,
    mut stream: PubSubStream,
) -> Result<(), String> {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let message = message.ok_or("connection closed")?;
                match message.get_channel_name() {
                    REDIS_KEY => match Message::decode(message.get_payload_bytes()) {
                        Some(ended) => state.sessions_ended_elsewhere(&ended.revoked),
                        None => tracing::debug!("ignored a malformed revocation message"),
                    },
                    KEYS_CHANNEL => state.keys_rotated_elsewhere().await,
                    _ => {}
                }
            }
            _ = ping.tick() => {
                match tokio::time::timeout(CONNECT_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("ping timed out".into()),
                }
            }
        }
    }
}

/// Announces to every instance following Redis at `url` that the signing keys were rotated
/// (new key `kid`). What `tessera keys rotate` runs after writing the key.
///
/// # Errors
/// When Redis cannot be reached within [`CONNECT_TIMEOUT`]; the instances then pick the key
/// up at their periodic re-check.
pub async fn announce_rotation(url: &str, kid: &str) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let publish = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PUBLISH")
            .arg(KEYS_CHANNEL)
            .arg(kid)
            .query_async::<i64>(&mut conn)
            .await
    };
    let timed_out = || {
        let message = format!("Redis did not answer within {CONNECT_TIMEOUT:?}");
        redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, message))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, publish)
        .await
        .map_err(|_| timed_out())??;
    Ok(())
}
