//! The shared application state every handler receives: the core's parts, and one struct per
//! feature ([`EmailPasswordState`], [`JwtState`]).

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use tessera_mail::Outbox;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::cookies::CookieNames;
use crate::features::email_password::EmailPasswordState;
use crate::features::jwt::JwtState;
use crate::features::passkey::PasskeyState;
use crate::features::social::SocialState;
use crate::metrics::AuthMetrics;
use crate::origin::TrustedOrigins;
use crate::rate_limit::{CounterStore, LoginThrottle, MemoryCounters, RateLimiter, TrustedProxies};
use crate::revocation::{RevocationStamp, Revocations};
use crate::store::{SessionCache, Store, StoreResult};

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
    /// The passkey feature's parts.
    pub passkey: PasskeyState,
    /// The social sign-in feature's providers.
    pub social: SocialState,
    /// Counters of sign-ins and tokens issued ([`crate::metrics`]).
    pub metrics: AuthMetrics,
    /// The session cache in front of [`Self::store`], when on: other processes' announcements
    /// evict from it ([`AuthState::sessions_ended_elsewhere`]).
    session_cache: Option<Arc<SessionCache>>,
    /// The mail outbox a worker delivers, once the composition root attaches it
    /// ([`AuthState::attach_outbox`]).
    outbox: OnceLock<Outbox>,
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
        let session_cache = (config.session.cache_ttl > chrono::Duration::zero()).then(|| {
            Arc::new(SessionCache::new(
                Arc::clone(&store),
                Arc::clone(&clock),
                config.session.cache_ttl,
            ))
        });
        let store: Arc<dyn Store> = match &session_cache {
            Some(cache) => Arc::clone(cache) as Arc<dyn Store>,
            None => store,
        };
        let cookies = CookieNames::new(config.secure_cookies(), config.host_only_cookies);
        let trusted = TrustedOrigins::new(&config.base_origin, &config.trusted_origins);
        let rate_limiter = RateLimiter::new(Arc::clone(&counters), config.rate_limit);
        let login_throttle = LoginThrottle::new(counters);
        let proxies = config.trusted_proxies.clone();
        let revocations = Revocations::new(config.jwt.expires_in);
        let email_password = EmailPasswordState::new(&config.email_password);
        let jwt = JwtState::new(&config);
        let passkey = PasskeyState::new(&config);
        let social = SocialState::new(&config.social, &clock);
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
            passkey,
            social,
            metrics: AuthMetrics::default(),
            session_cache,
            outbox: OnceLock::new(),
        }))
    }

    /// Attaches the outbox a mail worker delivers (the composition root does, when it starts
    /// the worker). Without one, the endpoints that send mail answer as Better Auth does
    /// without its send callbacks (`request-password-reset`: 400 `RESET_PASSWORD_DISABLED`)
    /// rather than queue mail that nothing sends. A second outbox is ignored: the first one's
    /// worker is the one running.
    pub fn attach_outbox(&self, outbox: Outbox) {
        if self.outbox.set(outbox).is_err() {
            tracing::warn!("an outbox was already attached; the second one is ignored");
        }
    }

    /// The attached outbox, if a worker delivers mail.
    pub(crate) fn outbox(&self) -> Option<&Outbox> {
        self.outbox.get()
    }

    /// Finishes a store call that queued a mail with its `audit` event (`queued`) or, past the
    /// recipient's hourly allowance, wrote nothing: then `audit` is recorded with reason
    /// `recipient_limit` (the client's answer stays the same); else its line is emitted and
    /// the worker woken, so it takes the committed mail now rather than at its next poll.
    /// Answers `queued`.
    pub(crate) async fn mail_queued(&self, queued: bool, audit: AuditEvent) -> StoreResult<bool> {
        if !queued {
            let limited = audit.reason("recipient_limit");
            self.store.insert_audit(&limited).await?;
            limited.emit();
            return Ok(false);
        }
        audit.emit();
        if let Some(outbox) = self.outbox() {
            outbox.wake();
        }
        Ok(true)
    }

    /// The [`RevocationStamp`] of sessions ending now, for the store call that deletes them
    /// and the announcement that follows.
    pub(crate) fn revocation_stamp(&self) -> RevocationStamp {
        self.revocations.stamp(self.clock.now())
    }

    /// Announces sessions the store has just deleted (and recorded as revoked with `stamp`), so
    /// guards refuse their tokens from now on. Never fails; see [`Revocations::publish`].
    ///
    /// The announcement runs as a task of its own, so a client hanging up (which drops the
    /// request's future) cannot cancel it half-way; the request is answered once it is done.
    pub(crate) async fn sessions_ended(&self, ids: &[String], stamp: RevocationStamp) {
        self.jwt.minted.forget(ids);
        let state = self.clone();
        let ids = ids.to_vec();
        let announce = tokio::spawn(async move {
            state.revocations.publish(&ids, stamp).await;
        });
        if let Err(error) = announce.await {
            tracing::error!(%error, "announcing ended sessions failed");
        }
    }
}

/// What other auth server processes on the same database announce (through Redis, see
/// `tessera-server`'s follower): this process's in-memory copies of what they changed go.
impl AuthState {
    /// Sessions another process ended: out of the session cache and the minted-token cache at
    /// once, rather than after their TTLs.
    pub fn sessions_ended_elsewhere(&self, ids: &[String]) {
        if let Some(cache) = &self.session_cache {
            cache.evict_sessions(ids);
        }
        self.jwt.minted.forget(ids);
    }

    /// Announcements may have been missed (the channel was down, or just came back): nothing
    /// cached about sessions is trusted any more, and the signing key is re-read at its next
    /// use. Nothing is read here: at start-up several instances would otherwise race to create
    /// the first key.
    pub async fn announcements_missed(&self) {
        if let Some(cache) = &self.session_cache {
            cache.evict_all();
        }
        self.jwt.keys.recheck_now().await;
    }

    /// Another process rotated the signing keys: re-read them now, so this process signs with
    /// the new key and its guard verifies it. A store that fails leaves the periodic re-check
    /// to pick the key up.
    pub async fn keys_rotated_elsewhere(&self) {
        self.jwt.keys.recheck_now().await;
        if let Err(error) = self
            .jwt
            .keys
            .reload_published_keys(self.store.as_ref(), self.clock.now())
            .await
        {
            tracing::warn!(%error, "could not re-read the signing keys after a rotation elsewhere");
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
