//! [`MemoryRevocations`]: the bounded, self-expiring set every revocation source feeds.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use super::RevocationList;
use super::protocol::is_session_id;
use crate::{Clock, SystemClock};

/// Entries held at most by default: 100,000 sessions ended within one token lifetime (over a
/// hundred a second for 15 minutes), about 15 MB.
const DEFAULT_CAPACITY: usize = 100_000;

/// Revoked session ids, each with the Unix second until which its tokens are refused.
///
/// The host adds ids with [`Self::revoke`] (or a `RevocationPoller` /
/// `RedisRevocations` does); the guard asks [`RevocationList::is_revoked`] under a
/// read lock, never waiting on I/O. Expired entries are dropped as new ones arrive, so the set
/// holds at most the sessions ended within one token lifetime. It is also bounded: past
/// `capacity`, the entries closest to expiry are dropped first (with a warning), which lets the
/// fewest still-live tokens back in.
///
/// Share it as `Arc<MemoryRevocations>`: one clone to the guard, one to whatever feeds it.
pub struct MemoryRevocations {
    entries: RwLock<Entries>,
    clock: Arc<dyn Clock>,
    capacity: usize,
    version: watch::Sender<u64>,
}

#[derive(Default)]
struct Entries {
    until: HashMap<String, i64>,
    /// The same entries ordered by expiry, for pruning and eviction.
    by_expiry: BTreeSet<(i64, String)>,
}

impl Entries {
    fn remove_first(&mut self) {
        if let Some((_, sid)) = self.by_expiry.pop_first() {
            self.until.remove(&sid);
        }
    }
}

impl MemoryRevocations {
    /// An empty set holding up to 100,000 entries, on the system clock.
    pub fn new() -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            clock: Arc::new(SystemClock),
            capacity: DEFAULT_CAPACITY,
            version: watch::Sender::new(0),
        }
    }

    /// The most entries held at once (at least 1).
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The time source deciding when entries expire (inject a [`crate::ManualClock`] in tests;
    /// use the guard's clock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Refuses tokens of session `sid` until `until` (Unix seconds). A later `until` for an id
    /// already held extends it; an earlier one changes nothing. Returns whether `sid` was new.
    pub fn revoke(&self, sid: &str, until: i64) -> bool {
        self.revoke_many([sid], until) > 0
    }

    /// [`Self::revoke`] for `ttl` from now.
    pub fn revoke_for(&self, sid: &str, ttl: Duration) -> bool {
        self.revoke(sid, self.until(ttl))
    }

    /// The Unix second `ttl` from now.
    pub(crate) fn until(&self, ttl: Duration) -> i64 {
        let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        self.clock.unix_secs().saturating_add(secs)
    }

    /// [`Self::revoke`] for several ids at once; returns how many were new.
    pub fn revoke_many<I, S>(&self, sids: I, until: i64) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let now = self.clock.unix_secs();
        if until <= now {
            return 0;
        }
        let mut added = 0;
        let mut evicted = 0;
        {
            let mut entries = self
                .entries
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            while entries
                .by_expiry
                .first()
                .is_some_and(|(expiry, _)| *expiry <= now)
            {
                entries.remove_first();
            }
            for sid in sids {
                let sid = sid.as_ref();
                if !is_session_id(sid) {
                    continue;
                }
                match entries.until.get(sid).copied() {
                    Some(held) if held >= until => {}
                    Some(held) => {
                        entries.by_expiry.remove(&(held, sid.to_owned()));
                        entries.by_expiry.insert((until, sid.to_owned()));
                        entries.until.insert(sid.to_owned(), until);
                    }
                    None => {
                        entries.by_expiry.insert((until, sid.to_owned()));
                        entries.until.insert(sid.to_owned(), until);
                        added += 1;
                    }
                }
            }
            while entries.until.len() > self.capacity {
                entries.remove_first();
                evicted += 1;
            }
        }
        if evicted > 0 {
            tracing::warn!(
                target: "tessera_guard",
                evicted,
                capacity = self.capacity,
                "revocation list full: dropped the entries closest to expiry"
            );
        }
        if added > 0 {
            self.version.send_modify(|v| *v = v.wrapping_add(1));
        }
        added
    }

    /// Entries held (expired ones included until the next insertion drops them).
    pub fn len(&self) -> usize {
        self.read().until.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver that sees a change each time new ids are added: lets a test (or a host) wait
    /// for a revocation to arrive instead of sleeping.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationList for MemoryRevocations {
    fn is_revoked(&self, sid: &str) -> bool {
        let until = self.read().until.get(sid).copied();
        until.is_some_and(|until| self.clock.unix_secs() < until)
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocations")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    #[test]
    fn an_entry_is_refused_until_its_expiry_then_forgotten() {
        let clock = ManualClock::at_unix(1_000);
        let set = MemoryRevocations::new().with_clock(clock.clone());
        assert!(set.revoke("a", 1_010));
        assert!(
            !set.revoke("a", 1_005),
            "not new; an earlier expiry is ignored"
        );
        assert!(set.is_revoked("a"));
        assert!(!set.is_revoked("b"));
        clock.advance_secs(10);
        assert!(!set.is_revoked("a"), "expired at 1_010");
        set.revoke("b", 2_000);
        assert_eq!(set.len(), 1, "the expired entry was dropped");
        assert!(!set.revoke("c", 1_010), "already expired: not added");
    }

    #[test]
    fn a_later_expiry_extends_an_entry() {
        let clock = ManualClock::at_unix(0);
        let set = MemoryRevocations::new().with_clock(clock.clone());
        set.revoke("a", 10);
        set.revoke("a", 20);
        clock.advance_secs(15);
        assert!(set.is_revoked("a"));
        clock.advance_secs(5);
        assert!(!set.is_revoked("a"));
    }

    #[test]
    fn past_capacity_the_entries_closest_to_expiry_go_first() {
        let clock = ManualClock::at_unix(0);
        let set = MemoryRevocations::new()
            .with_capacity(2)
            .with_clock(clock.clone());
        set.revoke("late", 300);
        set.revoke("soon", 100);
        set.revoke("middle", 200);
        assert_eq!(set.len(), 2);
        assert!(!set.is_revoked("soon"));
        assert!(set.is_revoked("middle") && set.is_revoked("late"));
    }

    #[test]
    fn empty_and_oversized_ids_are_ignored_and_changes_are_observable() {
        let set = MemoryRevocations::new();
        let changes = set.changes();
        let until = SystemClock.unix_secs() + 60;
        assert_eq!(
            set.revoke_many(
                [
                    "",
                    &"x".repeat(super::super::protocol::MAX_SESSION_ID_LEN + 1)
                ],
                until
            ),
            0
        );
        assert!(!changes.has_changed().unwrap());
        assert_eq!(set.revoke_many(["a", "b", "a"], until), 2);
        assert!(changes.has_changed().unwrap());
    }
}
