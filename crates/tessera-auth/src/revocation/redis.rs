//! [`RedisRevocationSink`]: ended sessions published through Redis, for guards in other
//! processes (`tessera api --redis-url`, or any app using tessera-guard's `RedisRevocations`).

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use tessera_revocation::{Message, REDIS_KEY};

use super::{RevocationError, RevocationSink};

/// Publishes a [`Message`] on [`REDIS_KEY`] and keeps the sorted set of the same name (member:
/// session id, score: the message's `until`) for subscribers that catch up.
/// Each publication is one `MULTI`: add the ids, drop the entries that no longer matter, publish.
/// The set therefore never holds more than one token lifetime of revocations (plus, once
/// publications stop, that last window's entries, which subscribers skip by their score).
#[derive(Clone)]
pub struct RedisRevocationSink {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisRevocationSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisRevocationSink")
    }
}

impl RedisRevocationSink {
    /// Connects (the manager reconnects by itself afterwards).
    pub async fn connect(url: &str) -> Result<Self, RevocationError> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client).await?;
        Ok(Self { conn })
    }
}

#[async_trait]
impl RevocationSink for RedisRevocationSink {
    async fn publish(&self, sids: &[String], at: i64, until: i64) -> Result<(), RevocationError> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        let zadd = pipe.cmd("ZADD").arg(REDIS_KEY);
        for sid in sids {
            zadd.arg(until).arg(sid);
        }
        pipe.ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(REDIS_KEY)
            .arg("-inf")
            .arg(at)
            .ignore()
            .cmd("PUBLISH")
            .arg(REDIS_KEY)
            .arg(
                Message {
                    revoked: sids.to_vec(),
                    until,
                }
                .encode(),
            )
            .ignore();
        Ok(pipe.query_async::<()>(&mut conn).await?)
    }
}
