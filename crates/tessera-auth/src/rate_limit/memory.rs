//! In-process counters: one mutex-guarded map, swept of stale entries as it grows.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{CounterError, CounterStore, Decision};

/// Counters for a single process.
#[derive(Debug, Default)]
pub struct MemoryCounters {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u64,
    /// Sliding rule: the last allowed hit. Fixed window: the window's start.
    at_ms: u64,
    window_ms: u64,
}

/// Entries are swept once the map holds this many, so memory stays bounded by live keys.
const SWEEP_AT: usize = 10_000;

impl MemoryCounters {
    fn with_entries<T>(&self, now_ms: u64, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, e| now_ms.saturating_sub(e.at_ms) <= e.window_ms);
        }
        f(&mut entries)
    }
}

#[async_trait]
impl CounterStore for MemoryCounters {
    async fn hit(
        &self,
        key: &str,
        window_ms: u64,
        max: u64,
        now_ms: u64,
    ) -> Result<Decision, CounterError> {
        Ok(self.with_entries(now_ms, |entries| {
            let fresh = Entry {
                count: 1,
                at_ms: now_ms,
                window_ms,
            };
            let entry = entries
                .entry(key.to_owned())
                .or_insert(Entry { count: 0, ..fresh });
            if entry.count == 0 || now_ms.saturating_sub(entry.at_ms) > window_ms {
                *entry = fresh;
                return Decision::Allowed;
            }
            if entry.count >= max {
                let left = (entry.at_ms + window_ms).saturating_sub(now_ms);
                return Decision::Limited {
                    retry_after: left.div_ceil(1000).max(1),
                };
            }
            entry.count += 1;
            entry.at_ms = now_ms;
            Decision::Allowed
        }))
    }

    async fn incr(&self, key: &str, window_ms: u64, now_ms: u64) -> Result<u64, CounterError> {
        Ok(self.with_entries(now_ms, |entries| {
            let entry = entries.entry(key.to_owned()).or_insert(Entry {
                count: 0,
                at_ms: now_ms,
                window_ms,
            });
            if now_ms.saturating_sub(entry.at_ms) >= entry.window_ms {
                *entry = Entry {
                    count: 0,
                    at_ms: now_ms,
                    window_ms,
                };
            }
            entry.count += 1;
            entry.count
        }))
    }

    async fn peek(&self, key: &str, now_ms: u64) -> Result<(u64, u64), CounterError> {
        Ok(self.with_entries(now_ms, |entries| match entries.get(key) {
            Some(e) if now_ms.saturating_sub(e.at_ms) < e.window_ms => {
                (e.count, (e.at_ms + e.window_ms).saturating_sub(now_ms))
            }
            _ => (0, 0),
        }))
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fourth_sign_in_within_ten_seconds_is_refused_until_the_window_passes() {
        let c = MemoryCounters::default();
        for t in [0, 1000, 2000] {
            assert_eq!(c.hit("k", 10_000, 3, t).await.unwrap(), Decision::Allowed);
        }
        // The window is measured from the last allowed hit (t = 2 s), so 10.5 s is still inside.
        assert_eq!(
            c.hit("k", 10_000, 3, 10_500).await.unwrap(),
            Decision::Limited { retry_after: 2 }
        );
        assert_eq!(
            c.hit("k", 10_000, 3, 12_001).await.unwrap(),
            Decision::Allowed
        );
        assert_eq!(
            c.hit("other", 10_000, 3, 10_500).await.unwrap(),
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn fixed_window_counters_expire_whole() {
        let c = MemoryCounters::default();
        assert_eq!(c.incr("f", 1000, 0).await.unwrap(), 1);
        assert_eq!(c.incr("f", 1000, 999).await.unwrap(), 2);
        assert_eq!(c.peek("f", 999).await.unwrap(), (2, 1));
        assert_eq!(c.peek("f", 1000).await.unwrap(), (0, 0));
        assert_eq!(c.incr("f", 1000, 1000).await.unwrap(), 1);
        c.reset("f").await.unwrap();
        assert_eq!(c.peek("f", 1001).await.unwrap(), (0, 0));
    }
}
