//! Time and randomness, injectable so expiry and sliding refresh are tested without sleeping.

use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to milliseconds (the precision Better Auth stores and returns).
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A manual clock starting at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start.trunc_subsecs(3))))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Formats a time the way JavaScript's `Date#toJSON` does: `2026-08-23T10:00:00.000Z`.
pub fn iso_millis(t: &DateTime<Utc>) -> String {
    // RFC 3339 with milliseconds and `Z` is exactly this format, written without parsing a
    // strftime pattern on every call (a hot path: every timestamp of every answer).
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
