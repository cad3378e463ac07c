//! The per-account limit on failed sign-ins.
//!
//! Two counters per account, both over one hour: failures from one client address, and failures
//! from everywhere. An address that failed 10 times for an account waits out the hour for that
//! account; once the account as a whole has seen 100 failures (ASVS 2.2.1), every address waits —
//! except addresses the account signed in from successfully, so an attacker spraying from many
//! addresses cannot lock the real user out of their usual place. Keys are the submitted email,
//! existing account or not, so the throttle itself reveals nothing about who has an account.

use std::sync::Arc;

use super::{ClientIp, CounterStore, Decision};

const HOUR_MS: u64 = 60 * 60 * 1000;
const KNOWN_ADDRESS_MS: u64 = 30 * 24 * HOUR_MS;
/// Failures one address may make against one account per hour.
pub const PER_ADDRESS_FAILURES: u64 = 10;
/// Failures an account may see per hour from all addresses together.
pub const PER_ACCOUNT_FAILURES: u64 = 100;

/// Tracks failed sign-ins.
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

    /// Whether `ip` may try to sign in as `email` now. Fails closed when the store is down:
    /// an unbounded password guess is worse than a delayed sign-in.
    pub async fn check(&self, email: &str, ip: &ClientIp, now_ms: u64) -> Decision {
        let pair = pair_key(email, ip);
        let account = account_key(email);
        let lookups = async {
            let (pair_failures, pair_left) = self.counters.peek(&pair, now_ms).await?;
            if pair_failures >= PER_ADDRESS_FAILURES {
                return Ok(Decision::Limited {
                    retry_after: pair_left.div_ceil(1000).max(1),
                });
            }
            let (account_failures, account_left) = self.counters.peek(&account, now_ms).await?;
            if account_failures >= PER_ACCOUNT_FAILURES {
                let (known, _) = self.counters.peek(&known_key(email, ip), now_ms).await?;
                if known == 0 {
                    return Ok(Decision::Limited {
                        retry_after: account_left.div_ceil(1000).max(1),
                    });
                }
            }
            Ok::<_, super::CounterError>(Decision::Allowed)
        };
        lookups.await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "sign-in throttle unavailable; refusing sign-in attempts");
            Decision::Limited { retry_after: 5 }
        })
    }

    /// Records a failed attempt.
    pub async fn failed(&self, email: &str, ip: &ClientIp, now_ms: u64) {
        for key in [pair_key(email, ip), account_key(email)] {
            if let Err(err) = self.counters.incr(&key, HOUR_MS, now_ms).await {
                tracing::warn!(error = %err, "could not record a failed sign-in");
            }
        }
    }

    /// Records a success: the address's failures are forgotten and it becomes a known address.
    pub async fn succeeded(&self, email: &str, ip: &ClientIp, now_ms: u64) {
        let _ = self.counters.reset(&pair_key(email, ip)).await;
        let _ = self
            .counters
            .incr(&known_key(email, ip), KNOWN_ADDRESS_MS, now_ms)
            .await;
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

    #[tokio::test]
    async fn ten_failures_from_one_address_block_that_address_for_the_hour_only() {
        let t = LoginThrottle::new(Arc::new(MemoryCounters::default()));
        let attacker = ip("203.0.113.1");
        for _ in 0..PER_ADDRESS_FAILURES {
            assert_eq!(t.check("a@b.co", &attacker, 0).await, Decision::Allowed);
            t.failed("a@b.co", &attacker, 0).await;
        }
        assert_eq!(
            t.check("a@b.co", &attacker, 1000).await,
            Decision::Limited { retry_after: 3599 }
        );
        assert_eq!(
            t.check("a@b.co", &ip("198.51.100.2"), 1000).await,
            Decision::Allowed
        );
        assert_eq!(
            t.check("other@b.co", &attacker, 1000).await,
            Decision::Allowed
        );
        assert_eq!(
            t.check("a@b.co", &attacker, HOUR_MS).await,
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn a_hundred_failures_lock_strangers_out_but_not_the_users_known_address() {
        let t = LoginThrottle::new(Arc::new(MemoryCounters::default()));
        let home = ip("192.0.2.10");
        t.succeeded("a@b.co", &home, 0).await;
        for i in 0..PER_ACCOUNT_FAILURES {
            t.failed(
                "a@b.co",
                &ip(&format!("10.0.{}.{}", i / 200, i % 200 + 1)),
                0,
            )
            .await;
        }
        assert!(matches!(
            t.check("a@b.co", &ip("203.0.113.50"), 1).await,
            Decision::Limited { .. }
        ));
        assert_eq!(
            t.check("a@b.co", &home, 1).await,
            Decision::Allowed,
            "the real user is not locked out"
        );
    }
}
