//! The shared application state every handler receives: the core's parts, and one struct per
//! feature ([`EmailPasswordState`], [`JwtState`]).

use std::ops::Deref;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::cookies::CookieNames;
use crate::features::email_password::EmailPasswordState;
use crate::features::jwt::JwtState;
use crate::origin::TrustedOrigins;
use crate::rate_limit::{CounterStore, LoginThrottle, MemoryCounters, RateLimiter, TrustedProxies};
use crate::revocation::Revocations;
use crate::store::{SessionCache, Store};

/// Cheap-to-clone handle on the auth server's state.
#[derive(Clone)]
pub struct AuthState(Arc<AuthApp>);

/// The auth server's parts.
pub struct AuthApp {
    /// Settings.
    pub config: AuthConfig,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Cookie names for this deployment.
    pub cookies: CookieNames,
    /// Origins allowed to make credentialed requests.
    pub trusted: TrustedOrigins,
    /// Per-path request limits.
    pub rate_limiter: RateLimiter,
    /// Per-account failed sign-in limits.
    pub login_throttle: LoginThrottle,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub proxies: TrustedProxies,
    /// Coalesces floods of refused requests in the audit log.
    pub refusals: crate::audit::RefusalGate,
    /// Where ended sessions are announced (instant revocation); sinks are attached after
    /// construction.
    pub revocations: Revocations,
    /// The email-and-password feature's parts.
    pub email_password: EmailPasswordState,
    /// The jwt feature's parts.
    pub jwt: JwtState,
}

impl AuthState {
    /// Assembles the state from its parts, with rate-limit counters in memory.
    pub fn new(config: AuthConfig, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self::with_counters(config, store, clock, Arc::new(MemoryCounters::default()))
    }

    /// Assembles the state with the given rate-limit counters (Redis, to share them).
    pub fn with_counters(
        config: AuthConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        counters: Arc<dyn CounterStore>,
    ) -> Self {
        // Tokens are hashed below the cache, which keys by (and holds) the presented token.
        let store = config.session.token_storage.wrap(store);
        let store: Arc<dyn Store> = if config.session.cache_ttl > chrono::Duration::zero() {
            Arc::new(SessionCache::new(
                store,
                Arc::clone(&clock),
                config.session.cache_ttl,
            ))
        } else {
            store
        };
        let cookies = CookieNames::new(config.secure_cookies(), config.host_only_cookies);
        let trusted = TrustedOrigins::new(&config.base_origin, &config.trusted_origins);
        let rate_limiter = RateLimiter::new(Arc::clone(&counters), config.rate_limit);
        let login_throttle = LoginThrottle::new(counters);
        let proxies = config.trusted_proxies.clone();
        let revocations = Revocations::new(config.jwt.expires_in);
        let email_password = EmailPasswordState::new(&config.email_password);
        let jwt = JwtState::new(&config);
        Self(Arc::new(AuthApp {
            config,
            store,
            clock,
            cookies,
            trusted,
            rate_limiter,
            login_throttle,
            proxies,
            refusals: crate::audit::RefusalGate::default(),
            revocations,
            email_password,
            jwt,
        }))
    }

    /// Announces sessions the store has just deleted (and audited), so guards refuse their
    /// tokens from now on. Never fails; see [`Revocations::publish`].
    ///
    /// The announcement runs as a task of its own, so a client hanging up (which drops the
    /// request's future) cannot cancel it half-way; the request is answered once it is done.
    pub(crate) async fn sessions_ended(&self, ids: &[String]) {
        self.jwt.minted.forget(ids);
        let state = self.clone();
        let ids = ids.to_vec();
        let announce = tokio::spawn(async move {
            state.revocations.publish(&ids, state.clock.now()).await;
        });
        if let Err(error) = announce.await {
            tracing::error!(%error, "announcing ended sessions failed");
        }
    }
}

impl Deref for AuthState {
    type Target = AuthApp;
    fn deref(&self) -> &AuthApp {
        &self.0
    }
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("base_origin", &self.config.base_origin)
            .finish_non_exhaustive()
    }
}
