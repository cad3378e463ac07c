//! The per-account limit on failed sign-ins and other checks of a password.
//!
//! Two counters per account, both over one hour: failures from one client address, and failures
//! from everywhere. An address that failed 10 times for an account waits out the hour for that
//! account; once the account as a whole has seen 100 failures (ASVS 2.2.1), every address waits —
//! except addresses the account signed in from successfully, so an attacker spraying from many
//! addresses cannot lock the real user out of their usual place. Keys are the submitted email,
//! existing account or not, so the throttle itself reveals nothing about who has an account.
//!
//! Each attempt takes its slot *before* the password is checked, in one atomic step of the
//! counter store ([`CounterStore::reserve`]), and a success gives it back. Counting only after
//! the (slow) hash let a burst of concurrent guesses all see the count from before the burst.

use std::sync::Arc;

use super::{ClientIp, CounterStore, Decision, Slot};

const HOUR_MS: u64 = 60 * 60 * 1000;
const KNOWN_ADDRESS_MS: u64 = 30 * 24 * HOUR_MS;
/// Failures one address may make against one account per hour.
pub const PER_ADDRESS_FAILURES: u64 = 10;
/// Failures an account may see per hour from all addresses together.
pub const PER_ACCOUNT_FAILURES: u64 = 100;

/// Counts failed password checks per account.
#[derive(Clone)]
pub struct LoginThrottle {
    counters: Arc<dyn CounterStore>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginThrottle")
    }
}

impl LoginThrottle {
    /// A throttle over `counters`.
    pub fn new(counters: Arc<dyn CounterStore>) -> Self {
        Self { counters }
    }

    /// Takes a slot for one password check by `ip` against `email`, to be made only when this
    /// answers `Allowed`. The slot stays taken (the attempt counts as a failure) unless
    /// [`succeeded`](Self::succeeded) gives it back. With Redis down the store `counters`
    /// builds counts in this process ([`FallbackCounters`](super::FallbackCounters)): the limits
    /// hold per instance and sign-in goes on. A store that fails anyway is failed closed: an
    /// unbounded password guess is worse than a delayed sign-in.
    pub async fn reserve(&self, email: &str, ip: &ClientIp, now_ms: u64) -> Decision {
        let pair = pair_key(email, ip);
        let account = account_key(email);
        let attempt = async {
            // Whether the address is known only changes on a success, which an attacker
            // guessing cannot cause, so reading it outside the atomic step is safe.
            let (known, _) = self.counters.peek(&known_key(email, ip), now_ms).await?;
            let slots = [
                Slot {
                    key: &pair,
                    window_ms: HOUR_MS,
                    max: Some(PER_ADDRESS_FAILURES),
                },
                // A known address's failures still count towards the account's total, but the
                // total does not stop it.
                Slot {
                    key: &account,
                    window_ms: HOUR_MS,
                    max: (known == 0).then_some(PER_ACCOUNT_FAILURES),
                },
            ];
            self.counters.reserve(&slots, now_ms).await
        };
        attempt.await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "sign-in throttle unavailable; refusing password checks");
            Decision::Limited { retry_after: 5 }
        })
    }

    /// Gives back both slots of an attempt that was never checked (the hashing queue refused
    /// it): nothing was learnt about the password, so nothing counts against the account.
    pub async fn not_checked(&self, email: &str, ip: &ClientIp, now_ms: u64) {
        for key in [pair_key(email, ip), account_key(email)] {
            if let Err(err) = self.counters.release(&key, now_ms).await {
                // Only the user's own later attempts are affected, and only towards refusal.
                tracing::warn!(error = %err, "could not give back an unchecked attempt's slot");
            }
        }
    }

    /// Records a success of the attempt [`reserve`](Self::reserve) allowed: its slot of the
    /// account's total is given back, the address's failures are forgotten, and it becomes a
    /// known address.
    pub async fn succeeded(&self, email: &str, ip: &ClientIp, now_ms: u64) {
        let outcome = async {
            self.counters.release(&account_key(email), now_ms).await?;
            self.counters.reset(&pair_key(email, ip)).await?;
            self.counters
                .incr(&known_key(email, ip), KNOWN_ADDRESS_MS, now_ms)
                .await
        };
        if let Err(err) = outcome.await {
            // Only the user's own later attempts are affected, and only towards refusal.
            tracing::warn!(error = %err, "could not record a successful password check");
        }
    }
}

fn pair_key(email: &str, ip: &ClientIp) -> String {
    format!("login-fail|{email}|{}", ip.bucket())
}

fn account_key(email: &str) -> String {
    format!("login-fail|{email}")
}

fn known_key(email: &str, ip: &ClientIp) -> String {
    format!("login-ok|{email}|{}", ip.bucket())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::MemoryCounters;

    fn ip(s: &str) -> ClientIp {
        ClientIp::new(s.parse().unwrap())
    }

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(Arc::new(MemoryCounters::default()))
    }

    #[tokio::test]
    async fn ten_failures_from_one_address_block_that_address_for_the_hour_only() {
        let t = throttle();
        let attacker = ip("203.0.113.1");
        for _ in 0..PER_ADDRESS_FAILURES {
            assert_eq!(t.reserve("a@b.co", &attacker, 0).await, Decision::Allowed);
        }
        assert_eq!(
            t.reserve("a@b.co", &attacker, 1000).await,
            Decision::Limited { retry_after: 3599 }
        );
        assert_eq!(
            t.reserve("a@b.co", &ip("198.51.100.2"), 1000).await,
            Decision::Allowed
        );
        assert_eq!(
            t.reserve("other@b.co", &attacker, 1000).await,
            Decision::Allowed
        );
        assert_eq!(
            t.reserve("a@b.co", &attacker, HOUR_MS).await,
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn a_hundred_failures_lock_strangers_out_but_not_the_users_known_address() {
        let t = throttle();
        let home = ip("192.0.2.10");
        assert_eq!(t.reserve("a@b.co", &home, 0).await, Decision::Allowed);
        t.succeeded("a@b.co", &home, 0).await;
        for i in 0..PER_ACCOUNT_FAILURES {
            let stranger = ip(&format!("10.0.{}.{}", i / 200, i % 200 + 1));
            assert_eq!(t.reserve("a@b.co", &stranger, 0).await, Decision::Allowed);
        }
        assert!(matches!(
            t.reserve("a@b.co", &ip("203.0.113.50"), 1).await,
            Decision::Limited { .. }
        ));
        assert_eq!(
            t.reserve("a@b.co", &home, 1).await,
            Decision::Allowed,
            "the real user is not locked out"
        );
    }

    #[tokio::test]
    async fn a_success_gives_its_slot_back_and_clears_the_addresss_failures() {
        let t = throttle();
        let user = ip("192.0.2.10");
        for _ in 0..PER_ADDRESS_FAILURES - 1 {
            assert_eq!(t.reserve("a@b.co", &user, 0).await, Decision::Allowed);
        }
        assert_eq!(t.reserve("a@b.co", &user, 0).await, Decision::Allowed);
        t.succeeded("a@b.co", &user, 0).await;
        for _ in 0..PER_ADDRESS_FAILURES {
            assert_eq!(t.reserve("a@b.co", &user, 0).await, Decision::Allowed);
        }
        assert!(matches!(
            t.reserve("a@b.co", &user, 0).await,
            Decision::Limited { .. }
        ));
        // 19 failures and one success so far: 81 more strangers fit the account's 100.
        for i in 0..81 {
            let stranger = ip(&format!("10.1.0.{}", i + 1));
            assert_eq!(t.reserve("a@b.co", &stranger, 0).await, Decision::Allowed);
        }
        assert!(matches!(
            t.reserve("a@b.co", &ip("10.2.0.1"), 0).await,
            Decision::Limited { .. }
        ));
    }
}
