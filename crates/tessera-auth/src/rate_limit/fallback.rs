//! The shared counters (Redis), or this process's own while they fail: every limit keeps
//! holding through an outage, per instance instead of across them, and counting goes back to
//! the shared store by itself once it answers.
//!
//! Failing open (no request limit while Redis is down) would let an attacker who can disturb
//! Redis lift every limit at once; failing closed (refusing every sign-in) would turn a Redis
//! outage into an auth outage. Local counters sit between: with N instances behind a balancer a
//! client gets at most N times its limit during the outage, never an unbounded number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{CounterError, CounterStore, Decision, MemoryCounters, Slot};

/// While the shared store is down it is asked again at most this often (by one request; the
/// others meanwhile count locally), so an outage costs each request no wait on a store that
/// cannot answer.
pub const RETRY_MS: u64 = 1_000;

/// Marks the shared store healthy in [`FallbackCounters::retry_at`].
const HEALTHY: u64 = 0;

/// A [`CounterStore`] that is `shared` while it answers and an in-process [`MemoryCounters`]
/// while it does not. It never fails.
///
/// Counts do not move between the two: a client's hits during an outage are counted here only,
/// and once the shared store is back it counts from what it held (windows that ran out in
/// between are simply over). Either way each limit holds within every instance.
pub struct FallbackCounters {
    shared: Arc<dyn CounterStore>,
    local: MemoryCounters,
    /// [`HEALTHY`], or the time (the callers' `now_ms`) after which the shared store is asked
    /// again.
    retry_at: AtomicU64,
}

impl std::fmt::Debug for FallbackCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackCounters")
            .field("shared_healthy", &self.shared_healthy())
            .finish_non_exhaustive()
    }
}

impl FallbackCounters {
    /// Counts in `shared`, or in this process while `shared` fails.
    pub fn new(shared: Arc<dyn CounterStore>) -> Self {
        Self {
            shared,
            local: MemoryCounters::default(),
            retry_at: AtomicU64::new(HEALTHY),
        }
    }

    /// Whether the shared store answered the last time it was asked.
    pub fn shared_healthy(&self) -> bool {
        self.retry_at.load(Ordering::Acquire) == HEALTHY
    }

    /// Whether this call goes to the shared store: always while it is healthy; during an outage
    /// only the one call that claims the next retry, once [`RETRY_MS`] have passed.
    fn ask_shared(&self, now_ms: u64) -> bool {
        let at = self.retry_at.load(Ordering::Acquire);
        if at == HEALTHY {
            return true;
        }
        if now_ms < at {
            return false;
        }
        // Claiming the retry moves it on first, so concurrent callers stay local meanwhile.
        self.retry_at
            .compare_exchange(
                at,
                now_ms.saturating_add(RETRY_MS),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The shared store answered.
    fn answered(&self) {
        if self.retry_at.swap(HEALTHY, Ordering::AcqRel) != HEALTHY {
            tracing::info!("rate-limit counters answer again; counting there again");
        }
    }

    /// The shared store failed at `now_ms`: count locally until [`RETRY_MS`] later.
    fn failed(&self, err: &CounterError, now_ms: u64) {
        // Never HEALTHY again: RETRY_MS is not zero.
        let next = now_ms.saturating_add(RETRY_MS);
        if self.retry_at.swap(next, Ordering::AcqRel) == HEALTHY {
            tracing::warn!(error = %err, "rate-limit counters unavailable; counting in this process until they answer");
        } else {
            tracing::debug!(error = %err, "rate-limit counters still unavailable");
        }
    }
}

/// Runs `$call` on the shared store when [`FallbackCounters::ask_shared`] says so and it
/// answers, else on the local one; `$store` names the store inside `$call`.
macro_rules! shared_or_local {
    ($self:ident, $now_ms:expr, |$store:ident| $call:expr) => {{
        if $self.ask_shared($now_ms) {
            let $store: &dyn CounterStore = &*$self.shared;
            match $call.await {
                Ok(answer) => {
                    $self.answered();
                    return Ok(answer);
                }
                Err(err) => $self.failed(&err, $now_ms),
            }
        }
        let $store: &dyn CounterStore = &$self.local;
        $call.await
    }};
}

#[async_trait]
impl CounterStore for FallbackCounters {
    async fn hit(
        &self,
        key: &str,
        window_ms: u64,
        max: u64,
        now_ms: u64,
    ) -> Result<Decision, CounterError> {
        shared_or_local!(self, now_ms, |store| store.hit(key, window_ms, max, now_ms))
    }

    async fn incr(&self, key: &str, window_ms: u64, now_ms: u64) -> Result<u64, CounterError> {
        shared_or_local!(self, now_ms, |store| store.incr(key, window_ms, now_ms))
    }

    async fn reserve(&self, slots: &[Slot<'_>], now_ms: u64) -> Result<Decision, CounterError> {
        shared_or_local!(self, now_ms, |store| store.reserve(slots, now_ms))
    }

    async fn release(&self, key: &str, now_ms: u64) -> Result<(), CounterError> {
        shared_or_local!(self, now_ms, |store| store.release(key, now_ms))
    }

    async fn peek(&self, key: &str, now_ms: u64) -> Result<(u64, u64), CounterError> {
        shared_or_local!(self, now_ms, |store| store.peek(key, now_ms))
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        // Forgetting is always safe locally; the shared store is asked only while healthy, as
        // `reset` carries no time to schedule a retry by (the next call with one retries).
        self.local.reset(key).await?;
        if self.shared_healthy()
            && let Err(err) = self.shared.reset(key).await
        {
            self.failed(&err, HEALTHY);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// A shared store that can be taken down and brought back; counts the calls it answered.
    #[derive(Default)]
    struct Outage {
        counters: MemoryCounters,
        down: AtomicBool,
        answered: AtomicU64,
    }

    impl Outage {
        fn check(&self) -> Result<(), CounterError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(CounterError("connection refused".into()));
            }
            self.answered.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[async_trait]
    impl CounterStore for Outage {
        async fn hit(&self, k: &str, w: u64, m: u64, t: u64) -> Result<Decision, CounterError> {
            self.check()?;
            self.counters.hit(k, w, m, t).await
        }
        async fn incr(&self, k: &str, w: u64, t: u64) -> Result<u64, CounterError> {
            self.check()?;
            self.counters.incr(k, w, t).await
        }
        async fn reserve(&self, s: &[Slot<'_>], t: u64) -> Result<Decision, CounterError> {
            self.check()?;
            self.counters.reserve(s, t).await
        }
        async fn release(&self, k: &str, t: u64) -> Result<(), CounterError> {
            self.check()?;
            self.counters.release(k, t).await
        }
        async fn peek(&self, k: &str, t: u64) -> Result<(u64, u64), CounterError> {
            self.check()?;
            self.counters.peek(k, t).await
        }
        async fn reset(&self, k: &str) -> Result<(), CounterError> {
            self.check()?;
            self.counters.reset(k).await
        }
    }

    #[tokio::test]
    async fn while_the_shared_store_is_down_the_limit_holds_locally_and_it_is_asked_once_a_second()
    {
        let shared = Arc::new(Outage::default());
        let counters = FallbackCounters::new(shared.clone());
        assert_eq!(
            counters.hit("k", 10_000, 3, 0).await.unwrap(),
            Decision::Allowed
        );
        shared.down.store(true, Ordering::SeqCst);
        // The shared store fails once; the next calls within the second do not ask it.
        for t in [1, 2] {
            assert_eq!(
                counters.hit("k", 10_000, 3, t).await.unwrap(),
                Decision::Allowed
            );
        }
        assert!(!counters.shared_healthy());
        assert_eq!(
            counters.hit("k", 10_000, 2, 3).await.unwrap(),
            Decision::Limited { retry_after: 10 },
            "two local hits: the limit of two holds"
        );
        assert_eq!(shared.answered.load(Ordering::SeqCst), 1, "asked only once");
        shared.down.store(false, Ordering::SeqCst);
        assert_eq!(
            counters.hit("k", 10_000, 2, RETRY_MS).await.unwrap(),
            Decision::Limited { retry_after: 10 },
            "still local until the retry is due"
        );
        assert_eq!(
            counters.hit("k", 10_000, 3, RETRY_MS + 1).await.unwrap(),
            Decision::Allowed,
            "back to the shared count: its second hit"
        );
        assert!(counters.shared_healthy());
        assert_eq!(shared.counters.peek("k", RETRY_MS + 1).await.unwrap().0, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reservations_during_an_outage_never_take_more_than_the_limit() {
        let shared = Arc::new(Outage::default());
        shared.down.store(true, Ordering::SeqCst);
        let counters = Arc::new(FallbackCounters::new(shared));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let counters = Arc::clone(&counters);
                tokio::spawn(async move {
                    let slot = [Slot {
                        key: "k",
                        window_ms: 60_000,
                        max: Some(10),
                    }];
                    counters.reserve(&slot, 0).await.unwrap()
                })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            allowed += usize::from(task.await.unwrap() == Decision::Allowed);
        }
        assert_eq!(allowed, 10);
    }
}
