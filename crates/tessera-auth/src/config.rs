//! The auth server's settings, already parsed and checked.

use chrono::Duration;
use tessera_jwt::Algorithm;

use crate::password::{HashFormat, HashPriority, QueueLimits};
use crate::rate_limit::TrustedProxies;
use crate::secret::SecretSet;
use crate::store::TokenStorage;

/// How sessions age (docs/better-auth-protocol.md §2.4): defaults are Better Auth's.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Lifetime of a session and `Max-Age` of its cookie (7 days).
    pub expires_in: Duration,
    /// How old the last extension must be before a request slides the session (1 day).
    pub update_age: Duration,
    /// Sessions younger than this are "fresh" (1 day); `/list-sessions` requires it.
    pub fresh_age: Duration,
    /// Lifetime of a `rememberMe: false` session (1 day).
    pub dont_remember_expires_in: Duration,
    /// How long a session read from the database answers again from memory (zero, the default:
    /// read it every time, as Better Auth does). Sessions ended and users changed through this
    /// process are never served stale; changes made by another process sharing the database are
    /// seen within this time, so only a process that owns its database should turn it on. See
    /// [`crate::store::SessionCache`].
    pub cache_ttl: Duration,
    /// How the `session.token` column holds tokens: raw (the default, as Better Auth does) or
    /// only their SHA-256 ([`TokenStorage`]).
    pub token_storage: TokenStorage,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            expires_in: Duration::days(7),
            update_age: Duration::days(1),
            fresh_age: Duration::days(1),
            dont_remember_expires_in: Duration::days(1),
            cache_ttl: Duration::zero(),
            token_storage: TokenStorage::Plain,
        }
    }
}

/// Everything the auth router needs to know.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `BETTER_AUTH_SECRET` / `BETTER_AUTH_SECRETS`.
    pub secrets: SecretSet,
    /// The origin of `BETTER_AUTH_URL`, e.g. `http://localhost:3000`: JWT `iss` and `aud`, and a
    /// trusted origin. Cookies get `__Secure-` and `Secure` when it is https.
    pub base_origin: String,
    /// Further trusted origins (exact origins, or patterns with `*`).
    pub trusted_origins: Vec<String>,
    /// Algorithm of new JWTs.
    pub jwt_alg: Algorithm,
    /// JWT lifetime.
    pub jwt_expires_in: Duration,
    /// Session ageing.
    pub session: SessionPolicy,
    /// Format of new password hashes.
    pub password_hash: HashFormat,
    /// How many password hashes may run at once: by default one per CPU the process may use,
    /// at most two ([`hashing_threads_for`]).
    pub hash_concurrency: usize,
    /// Where the hashing threads sit in the CPU scheduler.
    pub hash_priority: HashPriority,
    /// When a hash is refused rather than queued (sign-in and sign-up then answer 503): by
    /// default when it would wait more than 2 s, by the measured cost of a hash.
    pub hash_queue: QueueLimits,
    /// `Cache-Control: max-age` of `/jwks`, in seconds.
    pub jwks_max_age: u32,
    /// How long a retired key stays published (Better Auth's `gracePeriod`, 30 days).
    pub jwks_grace_period: Duration,
    /// Better Auth's `rotationInterval`: new keys expire this long after creation and the next
    /// signature then mints a successor. Off (`None`) by default.
    pub jwks_rotation_interval: Option<Duration>,
    /// Use the `__Host-` cookie prefix (https only) instead of `__Secure-`.
    pub host_only_cookies: bool,
    /// Whether Better Auth's per-path request limits apply (on by default in production).
    pub rate_limit: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
}

impl AuthConfig {
    /// A configuration with Better Auth's defaults for everything but the secret and URL.
    pub fn new(secrets: SecretSet, base_origin: impl Into<String>) -> Self {
        Self {
            secrets,
            base_origin: base_origin.into(),
            trusted_origins: Vec::new(),
            jwt_alg: Algorithm::EdDSA,
            jwt_expires_in: Duration::minutes(15),
            session: SessionPolicy::default(),
            password_hash: HashFormat::Argon2id,
            hash_concurrency: hashing_threads_for(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            ),
            hash_priority: HashPriority::default(),
            hash_queue: QueueLimits::default(),
            jwks_max_age: 300,
            jwks_grace_period: Duration::days(30),
            jwks_rotation_interval: None,
            host_only_cookies: false,
            rate_limit: false,
            trusted_proxies: TrustedProxies::default(),
        }
    }

    /// Whether cookies are `__Secure-` prefixed and `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.base_origin.starts_with("https://")
    }
}

/// Hashing threads for a process allowed `cpus` CPUs: one each, at most two (each holds 19 MiB
/// of Argon2 memory while it hashes).
///
/// On one CPU a second thread cannot hash in parallel; it only holds a second buffer, doubles
/// the time slices a request may wait behind when a sign-in burst meets other traffic (the storm
/// in BENCHMARKS.md: GET p99 4.5 ms with two threads, 1.9 ms with one), and doubles the share
/// of a saturated CPU that hashing takes from requests.
pub fn hashing_threads_for(cpus: usize) -> usize {
    cpus.clamp(1, 2)
}

#[cfg(test)]
mod tests {
    use super::hashing_threads_for;

    #[test]
    fn one_hashing_thread_per_cpu_and_never_more_than_two() {
        assert_eq!(hashing_threads_for(0), 1);
        assert_eq!(hashing_threads_for(1), 1);
        assert_eq!(hashing_threads_for(2), 2);
        assert_eq!(hashing_threads_for(64), 2);
    }
}
