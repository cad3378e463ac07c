//! Tessera's one time source, injectable so expiry, cache ages and sliding refresh are tested
//! without sleeping.
//!
//! Every crate that reads the time takes an `Arc<dyn Clock>` (or an `impl Clock`): the auth
//! server, the guard, the tasks API. Production passes [`SystemClock`]; tests pass one
//! [`ManualClock`] to every part and move it by hand. Times are kept to the millisecond, the
//! precision Better Auth stores and returns; the guard reads whole Unix seconds
//! ([`Clock::unix_secs`]), the unit of JWT `exp`/`nbf`.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, TimeZone, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to milliseconds.
    fn now(&self) -> DateTime<Utc>;

    /// Now, in whole Unix seconds (the unit of JWT `exp`, `nbf` and `iat`).
    fn unix_secs(&self) -> i64 {
        self.now().timestamp()
    }
}

/// A shared clock is a clock: the `Arc<dyn Clock>` a server holds can be handed to a part that
/// takes an `impl Clock` (the guard's JWKS cache inside the auth server's social sign-in).
impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn unix_secs(&self) -> i64 {
        (**self).unix_secs()
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}

/// A clock that only moves when told to; for tests. Clones share the same time, so one clock
/// handed to the server, the guard and the test moves them all together.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A manual clock starting at `start` (truncated to milliseconds).
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start.trunc_subsecs(3))))
    }

    /// A manual clock starting at `unix_secs` seconds after the Unix epoch.
    ///
    /// # Panics
    /// If `unix_secs` is outside chrono's range (a test's mistake).
    pub fn at_unix(unix_secs: i64) -> Self {
        let start = Utc
            .timestamp_opt(unix_secs, 0)
            .single()
            .expect("a Unix time within chrono's range");
        Self::new(start)
    }

    /// Moves the clock by `by` (a negative duration moves it back).
    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    /// Moves the clock by `secs` seconds (negative moves it back).
    pub fn advance_secs(&self, secs: i64) {
        self.advance(Duration::seconds(secs));
    }

    /// Sets the clock to `to` (truncated to milliseconds).
    pub fn set(&self, to: DateTime<Utc>) {
        *self.lock() = to.trunc_subsecs(3);
    }

    fn lock(&self) -> MutexGuard<'_, DateTime<Utc>> {
        // A test that panicked while holding the lock leaves a valid time behind.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// Formats a time the way JavaScript's `Date#toJSON` does: `2026-08-23T10:00:00.000Z`.
pub fn iso_millis(t: &DateTime<Utc>) -> String {
    // RFC 3339 with milliseconds and `Z` is exactly this format, written without parsing a
    // strftime pattern on every call (a hot path: every timestamp of every answer).
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_move_with_it() {
        let clock = ManualClock::at_unix(1_000);
        let seen_by_server = clock.clone();
        assert_eq!(seen_by_server.unix_secs(), 1_000);
        clock.advance_secs(59);
        assert_eq!(seen_by_server.unix_secs(), 1_059);
        clock.advance(Duration::milliseconds(-59_000));
        assert_eq!(seen_by_server.unix_secs(), 1_000);
        clock.set(Utc.timestamp_opt(20, 0).unwrap());
        assert_eq!(seen_by_server.unix_secs(), 20);
    }

    #[test]
    fn times_are_kept_to_the_millisecond_and_written_as_javascript_does() {
        let t =
            Utc.with_ymd_and_hms(2026, 8, 23, 10, 0, 0).unwrap() + Duration::nanoseconds(1_234_567);
        let clock = ManualClock::new(t);
        assert_eq!(iso_millis(&clock.now()), "2026-08-23T10:00:00.001Z");
    }
}
