//! In-process counters: one mutex-guarded map, swept of stale entries as it grows.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{CounterError, CounterStore, Decision, Slot};

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

/// A fixed-window counter's count and the milliseconds left in its window; `(0, 0)` once the
/// window has passed.
fn live(entry: Option<&Entry>, now_ms: u64) -> (u64, u64) {
    match entry {
        Some(e) if now_ms.saturating_sub(e.at_ms) < e.window_ms => {
            (e.count, (e.at_ms + e.window_ms).saturating_sub(now_ms))
        }
        _ => (0, 0),
    }
}

/// Adds one to a fixed-window counter, starting a new window when the last one has passed.
fn bump(entries: &mut HashMap<String, Entry>, key: &str, window_ms: u64, now_ms: u64) -> u64 {
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
        Ok(self.with_entries(now_ms, |entries| bump(entries, key, window_ms, now_ms)))
    }

    async fn reserve(&self, slots: &[Slot<'_>], now_ms: u64) -> Result<Decision, CounterError> {
        // Checked and counted under the one lock: no other caller can slip in between.
        Ok(self.with_entries(now_ms, |entries| {
            let wait = slots
                .iter()
                .filter_map(|slot| {
                    let (count, left) = live(entries.get(slot.key), now_ms);
                    slot.max.is_some_and(|max| count >= max).then_some(left)
                })
                .max();
            if let Some(left) = wait {
                return Decision::Limited {
                    retry_after: left.div_ceil(1000).max(1),
                };
            }
            for slot in slots {
                bump(entries, slot.key, slot.window_ms, now_ms);
            }
            Decision::Allowed
        }))
    }

    async fn release(&self, key: &str, now_ms: u64) -> Result<(), CounterError> {
        self.with_entries(now_ms, |entries| {
            if let Some(entry) = entries.get_mut(key)
                && live(Some(entry), now_ms).0 > 0
            {
                entry.count -= 1;
            }
        });
        Ok(())
    }

    async fn peek(&self, key: &str, now_ms: u64) -> Result<(u64, u64), CounterError> {
        Ok(self.with_entries(now_ms, |entries| live(entries.get(key), now_ms)))
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

    #[tokio::test]
    async fn a_reservation_takes_a_slot_of_every_counter_or_of_none() {
        let c = MemoryCounters::default();
        let slots = [
            Slot {
                key: "small",
                window_ms: 1000,
                max: Some(2),
            },
            Slot {
                key: "big",
                window_ms: 5000,
                max: Some(3),
            },
            Slot {
                key: "unlimited",
                window_ms: 5000,
                max: None,
            },
        ];
        for _ in 0..2 {
            assert_eq!(c.reserve(&slots, 0).await.unwrap(), Decision::Allowed);
        }
        assert_eq!(
            c.reserve(&slots, 100).await.unwrap(),
            Decision::Limited { retry_after: 1 }
        );
        assert_eq!(
            c.peek("big", 100).await.unwrap(),
            (2, 4900),
            "nothing taken"
        );
        assert_eq!(c.peek("unlimited", 100).await.unwrap(), (2, 4900));
        // The small window has passed: one more fits the big counter, then it is full.
        assert_eq!(c.reserve(&slots, 1000).await.unwrap(), Decision::Allowed);
        assert_eq!(
            c.reserve(&slots, 1000).await.unwrap(),
            Decision::Limited { retry_after: 4 },
            "the longest wait among the full counters"
        );
        c.release("big", 1000).await.unwrap();
        assert_eq!(c.peek("big", 1000).await.unwrap(), (2, 4000), "window kept");
        for _ in 0..3 {
            c.release("big", 1000).await.unwrap();
        }
        assert_eq!(
            c.peek("big", 1000).await.unwrap(),
            (0, 4000),
            "never below zero"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reservations_never_take_more_than_the_limit() {
        let c = std::sync::Arc::new(MemoryCounters::default());
        let slot = [Slot {
            key: "k",
            window_ms: 1000,
            max: Some(10),
        }];
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let c = std::sync::Arc::clone(&c);
                tokio::spawn(async move { c.reserve(&slot, 0).await.unwrap() })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            allowed += usize::from(task.await.unwrap() == Decision::Allowed);
        }
        assert_eq!(allowed, 10);
    }
}
