//! Rate limits: Better Auth's per-path rules (docs/better-auth-protocol.md §6) and a per-account
//! limit on failed password checks (ASVS 2.2.1 / 6.3.5: at most 100 failures an hour per account),
//! which every check of a password goes through ([`PasswordAttempt`]).
//!
//! Counters live in memory by default, or in Redis when `REDIS_URL` is set so every process
//! shares them; while Redis does not answer each process counts in its own memory
//! ([`FallbackCounters`]), so every limit still holds per instance. The client address comes
//! from the socket unless trusted proxies are configured ([`client_ip`]).

mod attempt;
pub mod client_ip;
mod fallback;
mod login;
mod memory;
mod redis_store;

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::Request;
use axum::http::{self as http, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub use attempt::{CheckedRoute, PasswordAttempt};
pub use client_ip::{ClientIp, TrustedProxies};
pub use fallback::{FallbackCounters, RETRY_MS};
pub use login::LoginThrottle;
pub use memory::MemoryCounters;
pub use redis_store::RedisCounters;

use crate::state::AuthState;

/// What a counter store answers to one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Under the limit; the hit was counted.
    Allowed,
    /// Over the limit; retry after this many seconds.
    Limited {
        /// Seconds until a request would be allowed again (at least 1).
        retry_after: u64,
    },
}

/// Why a counter store failed (Redis unreachable). The store [`counters`] builds never fails
/// (it counts locally instead, see [`FallbackCounters`]); given a store that does, the limiter
/// fails open for request rates but closed for the sign-in throttle, see [`LoginThrottle`].
#[derive(Debug, thiserror::Error)]
#[error("rate-limit store unavailable: {0}")]
pub struct CounterError(pub String);

/// Shared counters.
#[async_trait]
pub trait CounterStore: Send + Sync + 'static {
    /// Better Auth's algorithm: a hit more than `window_ms` after the last allowed one resets the
    /// count; otherwise at `max` the hit is refused, else counted and the window restarts.
    async fn hit(
        &self,
        key: &str,
        window_ms: u64,
        max: u64,
        now_ms: u64,
    ) -> Result<Decision, CounterError>;
    /// Adds one to a fixed-window counter (the window starts at the first increment) and
    /// returns the new count.
    async fn incr(&self, key: &str, window_ms: u64, now_ms: u64) -> Result<u64, CounterError>;
    /// Takes one slot of every fixed-window counter in `slots`, or of none: when a counter with
    /// a `max` already holds that many, nothing is counted and the answer is `Limited` with the
    /// longest wait among the full counters. Checking and counting are one atomic step (one
    /// lock, one Lua script), so concurrent callers together never take more than `max`.
    async fn reserve(&self, slots: &[Slot<'_>], now_ms: u64) -> Result<Decision, CounterError>;
    /// Gives back one slot of a fixed-window counter (never below zero; its window is kept).
    async fn release(&self, key: &str, now_ms: u64) -> Result<(), CounterError>;
    /// The current value of a fixed-window counter (0 once its window has passed), with the
    /// milliseconds left in its window.
    async fn peek(&self, key: &str, now_ms: u64) -> Result<(u64, u64), CounterError>;
    /// Forgets a counter.
    async fn reset(&self, key: &str) -> Result<(), CounterError>;
}

/// One fixed-window counter a [`CounterStore::reserve`] takes a slot of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    /// The counter.
    pub key: &'a str,
    /// Its window, started by its first slot.
    pub window_ms: u64,
    /// Slots a window holds; `None` counts without limiting.
    pub max: Option<u64>,
}

/// One rule: at most `max` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Window length in seconds.
    pub window_secs: u64,
    /// Requests allowed in a window.
    pub max: u64,
}

/// Better Auth's default rule for every path: 100 requests per 10 s.
pub const DEFAULT_RULE: Rule = Rule {
    window_secs: 10,
    max: 100,
};

/// The rule for a path under `/api/auth` (protocol §6).
pub fn rule_for(path: &str) -> Rule {
    const STRICT: [&str; 4] = ["/sign-in", "/sign-up", "/change-password", "/change-email"];
    const EMAIL_SENDING: [&str; 5] = [
        "/request-password-reset",
        "/send-verification-email",
        "/forget-password",
        "/email-otp/send-verification-otp",
        "/email-otp/request-password-reset",
    ];
    if path.ends_with("/revocations") {
        // Guards poll the revocation feed twice a second; many guards may share one egress
        // address, and throttling the feed would only delay revocations.
        Rule {
            window_secs: 10,
            max: 2_000,
        }
    } else if STRICT.iter().any(|p| path.starts_with(p)) || path.starts_with("/two-factor/") {
        // The twoFactor plugin's own rule: every `/two-factor/*` endpoint, 3 per 10 s.
        Rule {
            window_secs: 10,
            max: 3,
        }
    } else if EMAIL_SENDING.iter().any(|p| path.starts_with(p)) {
        Rule {
            window_secs: 60,
            max: 3,
        }
    } else {
        DEFAULT_RULE
    }
}

/// The request-rate limiter.
#[derive(Clone)]
pub struct RateLimiter {
    counters: Arc<dyn CounterStore>,
    enabled: bool,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter over `counters`; when `enabled` is false every request passes.
    pub fn new(counters: Arc<dyn CounterStore>, enabled: bool) -> Self {
        Self { counters, enabled }
    }

    /// Counts one request to `path` from `ip`.
    pub async fn check(&self, ip: &ClientIp, path: &str, now_ms: u64) -> Decision {
        if !self.enabled {
            return Decision::Allowed;
        }
        let rule = rule_for(path);
        let key = format!("rl|{}|{path}", ip.bucket());
        match self
            .counters
            .hit(&key, rule.window_secs * 1000, rule.max, now_ms)
            .await
        {
            Ok(decision) => decision,
            Err(err) => {
                // Only a store without a fallback gets here (`counters` wraps Redis in one). A
                // broken counter store must not take sign-in down; the per-account throttle
                // still fails closed (see LoginThrottle).
                tracing::warn!(error = %err, "rate limiter unavailable; allowing request");
                Decision::Allowed
            }
        }
    }
}

/// The 429 Better Auth sends, with `X-Retry-After` (Better Auth) and `Retry-After` (RFC 9110).
pub fn too_many_requests(retry_after: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(serde_json::json!({"message": "Too many requests. Please try again later."})),
    )
        .into_response();
    let value = HeaderValue::from(retry_after.max(1));
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("x-retry-after"), value.clone());
    headers.insert(http::header::RETRY_AFTER, value);
    response
}

/// The first step of every `/api/auth` request: resolves the client IP once (handlers read it
/// from the request extensions) and applies the per-path rule before anything else runs, as
/// Better Auth does. Hands the request back when it may go on, else the 429 to answer.
pub(crate) async fn admit(state: &AuthState, mut request: Request) -> Result<Request, Response> {
    let ip = state.proxies.client_ip(&request);
    request.extensions_mut().insert(ip.clone());
    let now_ms = u64::try_from(state.clock.now().timestamp_millis()).unwrap_or(0);
    match state
        .rate_limiter
        .check(&ip, request.uri().path(), now_ms)
        .await
    {
        Decision::Allowed => Ok(request),
        Decision::Limited { retry_after } => {
            state
                .audit_refused(
                    crate::audit::AuditKind::RateLimited,
                    "request_limit",
                    request,
                )
                .await;
            Err(too_many_requests(retry_after))
        }
    }
}

/// Builds the counter store: Redis when a URL is given (this process's memory while Redis does
/// not answer), else memory.
///
/// # Errors
/// Redis cannot be reached at start-up.
pub async fn counters(redis_url: Option<&str>) -> Result<Arc<dyn CounterStore>, CounterError> {
    match redis_url {
        Some(url) => Ok(Arc::new(FallbackCounters::new(Arc::new(
            RedisCounters::connect(url).await?,
        )))),
        None => Ok(Arc::new(MemoryCounters::default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_and_sign_up_get_the_strict_rule_and_other_paths_the_default() {
        assert_eq!(
            rule_for("/sign-in/email"),
            Rule {
                window_secs: 10,
                max: 3
            }
        );
        assert_eq!(
            rule_for("/sign-up/email"),
            Rule {
                window_secs: 10,
                max: 3
            }
        );
        assert_eq!(
            rule_for("/change-password"),
            Rule {
                window_secs: 10,
                max: 3
            }
        );
        assert_eq!(
            rule_for("/request-password-reset"),
            Rule {
                window_secs: 60,
                max: 3
            }
        );
        assert_eq!(rule_for("/get-session"), DEFAULT_RULE);
        assert_eq!(rule_for("/api/auth/revocations").max, 2_000);
    }
}
