//! Counters in Redis, shared by every process. Each operation is one Lua script, so the
//! read-modify-write is atomic across processes.

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{CounterError, CounterStore, Decision, Slot};

/// Counters in Redis.
#[derive(Clone)]
pub struct RedisCounters {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCounters")
    }
}

fn err(e: redis::RedisError) -> CounterError {
    CounterError(e.to_string())
}

// KEYS[1]; ARGV: window_ms, max, now_ms. Returns -1 when allowed, else ms left in the window.
const HIT: &str = r"
local count = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local window, max, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if count == 0 or now - last > window then
  redis.call('HSET', KEYS[1], 'c', 1, 't', now)
elseif count >= max then
  return last + window - now
else
  redis.call('HSET', KEYS[1], 'c', count + 1, 't', now)
end
redis.call('PEXPIRE', KEYS[1], window)
return -1
";

// KEYS[1]; ARGV: window_ms. Fixed window: the expiry is set by the first increment only.
const INCR: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

// KEYS: the counters; ARGV: window_ms and max (-1: no limit) of each key in turn. Returns -1
// when every slot was taken, else the longest ms left among the full counters (nothing taken).
// A key found without an expiry gets one, so a counter can never outlive its window for good.
const RESERVE: &str = r"
local wait = -1
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i])
  if max >= 0 and tonumber(redis.call('GET', key) or '0') >= max then
    wait = math.max(wait, redis.call('PTTL', key), 0)
  end
end
if wait >= 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 * i - 1]) end
end
return -1
";

// KEYS[1]. DECR keeps the expiry; a missing key is left missing rather than made -1.
const RELEASE: &str = r"
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
";

impl RedisCounters {
    /// Connects (the manager reconnects by itself afterwards).
    pub async fn connect(url: &str) -> Result<Self, CounterError> {
        let client = redis::Client::open(url).map_err(err)?;
        let conn = ConnectionManager::new(client).await.map_err(err)?;
        Ok(Self { conn })
    }
}

#[async_trait]
impl CounterStore for RedisCounters {
    async fn hit(
        &self,
        key: &str,
        window_ms: u64,
        max: u64,
        now_ms: u64,
    ) -> Result<Decision, CounterError> {
        let mut conn = self.conn.clone();
        let left: i64 = redis::Script::new(HIT)
            .key(format!("tessera:{key}"))
            .arg(window_ms)
            .arg(max)
            .arg(now_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(if left < 0 {
            Decision::Allowed
        } else {
            Decision::Limited {
                retry_after: u64::try_from(left).unwrap_or(0).div_ceil(1000).max(1),
            }
        })
    }

    async fn incr(&self, key: &str, window_ms: u64, _now_ms: u64) -> Result<u64, CounterError> {
        let mut conn = self.conn.clone();
        redis::Script::new(INCR)
            .key(format!("tessera:{key}"))
            .arg(window_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(err)
    }

    async fn reserve(&self, slots: &[Slot<'_>], _now_ms: u64) -> Result<Decision, CounterError> {
        let mut conn = self.conn.clone();
        let script = redis::Script::new(RESERVE);
        let mut invocation = script.prepare_invoke();
        for slot in slots {
            let max = slot
                .max
                .map_or(-1, |max| i64::try_from(max).unwrap_or(i64::MAX));
            invocation
                .key(format!("tessera:{}", slot.key))
                .arg(slot.window_ms)
                .arg(max);
        }
        let left: i64 = invocation.invoke_async(&mut conn).await.map_err(err)?;
        Ok(if left < 0 {
            Decision::Allowed
        } else {
            Decision::Limited {
                retry_after: u64::try_from(left).unwrap_or(0).div_ceil(1000).max(1),
            }
        })
    }

    async fn release(&self, key: &str, _now_ms: u64) -> Result<(), CounterError> {
        let mut conn = self.conn.clone();
        redis::Script::new(RELEASE)
            .key(format!("tessera:{key}"))
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(err)
    }

    async fn peek(&self, key: &str, _now_ms: u64) -> Result<(u64, u64), CounterError> {
        let mut conn = self.conn.clone();
        let key = format!("tessera:{key}");
        let (count, ttl): (Option<u64>, i64) = redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok((count.unwrap_or(0), u64::try_from(ttl).unwrap_or(0)))
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(format!("tessera:{key}"))
            .query_async::<()>(&mut conn)
            .await
            .map_err(err)
    }
}
