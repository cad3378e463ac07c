//! [`ReadCache`]: what a store decorator needs to answer repeated reads from memory without ever
//! serving a value older than this process's own writes.
//!
//! The protocol, for a store that reads through the cache and writes around it:
//!
//! 1. [`ReadCache::get`] answers a fresh entry, or hands out a [`Fill`] ticket on a miss;
//! 2. the caller reads the database and offers what it read back with [`ReadCache::fill`];
//! 3. every write *first* commits, *then* calls [`ReadCache::evict`] for what it may have changed.
//!
//! Evicting after the commit matters: evicting before would let a concurrent read refill the old
//! row between the eviction and the commit. And a read that started before a write but offers its
//! result after the write's eviction would put the old row back; so every eviction bumps a
//! generation number, and [`ReadCache::fill`] stores nothing when the generation moved since its
//! ticket was handed out. What another process changes in the same database is seen within the
//! TTL: the cache cannot know about it sooner.
//!
//! Time comes from the caller (an injected clock), so expiry is tested without sleeping.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

/// A bounded map from `K` to `V` whose entries expire after a TTL and are evicted by writers.
pub struct ReadCache<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Bumped by every eviction; see the crate documentation.
    generation: u64,
}

struct Entry<V> {
    value: V,
    loaded_at: DateTime<Utc>,
}

/// Settings and size only: entries may hold credentials (sessions carry their token), and a
/// `Debug` line must never print them.
impl<K, V> std::fmt::Debug for ReadCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self
            .entries
            .lock()
            .map_or_else(|p| p.into_inner().map.len(), |e| e.map.len());
        f.debug_struct("ReadCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("len", &len)
            .finish()
    }
}

/// Permission to store what a read found after a miss, valid until the next eviction.
#[derive(Debug)]
#[must_use = "a miss is filled with `ReadCache::fill`"]
pub struct Fill {
    generation: u64,
}

/// What [`ReadCache::get`] found.
#[derive(Debug)]
pub enum Lookup<V> {
    /// A fresh entry.
    Hit(V),
    /// No fresh entry: read the database, then offer the result with the ticket.
    Miss(Fill),
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// A cache keeping each entry for `ttl` (which should be positive), holding at most
    /// `capacity` entries: when full, expired entries go first, then all of them.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries<K, V>> {
        // Entries are inserted and removed whole, so a poisoned lock holds nothing half-written.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, loaded_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        // `loaded_at <= now`: a clock that stepped back must not stretch an entry's life.
        loaded_at <= now && now - loaded_at < self.ttl
    }

    /// The entry for `key` if it was loaded less than the TTL before `now`.
    pub fn get(&self, key: &K, now: DateTime<Utc>) -> Lookup<V> {
        let entries = self.entries();
        match entries.map.get(key) {
            Some(entry) if self.fresh(entry.loaded_at, now) => Lookup::Hit(entry.value.clone()),
            _ => Lookup::Miss(Fill {
                generation: entries.generation,
            }),
        }
    }

    /// Stores `value`, read after the miss that handed out `ticket`, unless something was
    /// evicted since (then the value may predate a write, and is dropped).
    pub fn fill(&self, ticket: Fill, key: K, value: V, now: DateTime<Utc>) {
        let mut entries = self.entries();
        if entries.generation != ticket.generation {
            return;
        }
        if entries.map.len() >= self.capacity {
            entries
                .map
                .retain(|_, entry| entry.loaded_at <= now && now - entry.loaded_at < self.ttl);
            if entries.map.len() >= self.capacity {
                entries.map.clear();
            }
        }
        entries.map.insert(
            key,
            Entry {
                value,
                loaded_at: now,
            },
        );
    }

    /// Forgets every entry `doomed` selects; call it after a write commits.
    pub fn evict(&self, doomed: impl Fn(&K, &V) -> bool) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.map.retain(|key, entry| !doomed(key, &entry.value));
    }

    /// [`Self::evict`] when the returned guard is dropped. Hold it across the write: the eviction
    /// then follows the write even when the caller's future is dropped half-way (a client that
    /// hangs up) while the database goes on to commit.
    pub fn evict_after<F: Fn(&K, &V) -> bool>(&self, doomed: F) -> EvictAfter<'_, K, V, F> {
        EvictAfter {
            cache: self,
            doomed,
        }
    }
}

/// Evicts from a [`ReadCache`] when dropped; see [`ReadCache::evict_after`].
#[must_use = "the eviction happens when this guard is dropped: hold it across the write"]
pub struct EvictAfter<'a, K: Eq + Hash, V: Clone, F: Fn(&K, &V) -> bool> {
    cache: &'a ReadCache<K, V>,
    doomed: F,
}

impl<K: Eq + Hash, V: Clone, F: Fn(&K, &V) -> bool> Drop for EvictAfter<'_, K, V, F> {
    fn drop(&mut self) {
        self.cache.evict(&self.doomed);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use chrono::TimeZone as _;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn cache() -> ReadCache<&'static str, u32> {
        ReadCache::new(Duration::seconds(5), 3)
    }

    fn fill(
        cache: &ReadCache<&'static str, u32>,
        key: &'static str,
        value: u32,
        now: DateTime<Utc>,
    ) {
        match cache.get(&key, now) {
            Lookup::Miss(ticket) => cache.fill(ticket, key, value, now),
            Lookup::Hit(_) => panic!("{key} was already cached"),
        }
    }

    fn hit(
        cache: &ReadCache<&'static str, u32>,
        key: &'static str,
        now: DateTime<Utc>,
    ) -> Option<u32> {
        match cache.get(&key, now) {
            Lookup::Hit(value) => Some(value),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn a_filled_entry_answers_until_the_ttl_has_passed() {
        let cache = cache();
        fill(&cache, "a", 1, at(0));
        assert_eq!(hit(&cache, "a", at(4)), Some(1));
        assert_eq!(hit(&cache, "a", at(5)), None);
    }

    #[test]
    fn a_clock_that_steps_back_does_not_stretch_an_entry() {
        let cache = cache();
        fill(&cache, "a", 1, at(10));
        assert_eq!(hit(&cache, "a", at(9)), None);
    }

    #[test]
    fn eviction_removes_exactly_the_selected_entries() {
        let cache = cache();
        fill(&cache, "a", 1, at(0));
        fill(&cache, "b", 2, at(0));
        cache.evict(|key, _| *key == "a");
        assert_eq!(hit(&cache, "a", at(1)), None);
        assert_eq!(hit(&cache, "b", at(1)), Some(2));
    }

    #[test]
    fn a_read_that_raced_with_a_write_does_not_put_the_old_value_back() {
        let cache = cache();
        let Lookup::Miss(ticket) = cache.get(&"a", at(0)) else {
            panic!("empty cache hit")
        };
        // The write commits and evicts while the read is still in flight.
        cache.evict(|key, _| *key == "a");
        cache.fill(ticket, "a", 1, at(0));
        assert_eq!(hit(&cache, "a", at(1)), None);
        // A read that starts after the eviction fills normally.
        fill(&cache, "a", 2, at(1));
        assert_eq!(hit(&cache, "a", at(2)), Some(2));
    }

    #[test]
    fn an_eviction_guard_evicts_when_dropped_even_if_the_write_never_returns() {
        let cache = cache();
        fill(&cache, "a", 1, at(0));
        let write = async {
            let _evict = cache.evict_after(|key, _| *key == "a");
            std::future::pending::<()>().await;
        };
        // Poll once (the write is "in flight"), then drop it, as a cancelled request would be.
        let mut write = Box::pin(write);
        let waker = std::task::Waker::noop();
        let polled = write
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending());
        assert_eq!(
            hit(&cache, "a", at(1)),
            Some(1),
            "not before the guard drops"
        );
        drop(write);
        assert_eq!(hit(&cache, "a", at(1)), None);
    }

    #[test]
    fn debug_output_shows_the_size_never_an_entry() {
        let cache = ReadCache::new(Duration::seconds(5), 3);
        let Lookup::Miss(ticket) = cache.get(&"session", at(0)) else {
            panic!("empty cache hit")
        };
        cache.fill(ticket, "session", "the-secret-token", at(0));
        let debug = format!("{cache:?}");
        assert!(debug.contains("len: 1"), "{debug}");
        assert!(
            !debug.contains("the-secret-token") && !debug.contains("session"),
            "{debug}"
        );
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_then_everything() {
        let cache = cache();
        fill(&cache, "old", 1, at(0));
        fill(&cache, "b", 2, at(4));
        fill(&cache, "c", 3, at(4));
        fill(&cache, "d", 4, at(6));
        assert_eq!(hit(&cache, "old", at(6)), None);
        assert_eq!(
            (hit(&cache, "b", at(6)), hit(&cache, "d", at(6))),
            (Some(2), Some(4))
        );
        fill(&cache, "e", 5, at(7));
        assert_eq!(hit(&cache, "e", at(7)), Some(5));
        assert_eq!(
            hit(&cache, "b", at(7)),
            None,
            "nothing had expired: all went"
        );
    }
}
