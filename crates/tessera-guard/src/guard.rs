//! [`Guard`]: the verifier a resource server holds, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tessera_jwt::{Algorithm, JwtError, KeyRing, MAX_LEEWAY_SECS, Validation, VerifiedToken};

use crate::keys::{KeySource, StaticKeys};
use crate::metrics::Verifications;
use crate::revocation::RevocationList;
use crate::token_cache::{Cached, TokenCache};
use crate::{AuthUser, Clock, ConfigError, GuardError, SystemClock};

/// Verifies bearer tokens. Cheap to clone; put it in the router state (directly, or as a field
/// with `#[derive(FromRef)]`) or in the request extensions.
#[derive(Clone)]
pub struct Guard(Option<Arc<Inner>>);

struct Inner {
    source: Arc<dyn KeySource>,
    validation: Validation,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<dyn RevocationList>>,
    cache: Option<TokenCache>,
    verifications: Verifications,
}

/// Settings of a [`Guard`].
#[must_use]
pub struct GuardBuilder {
    source: Arc<dyn KeySource>,
    validation: Validation,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<dyn RevocationList>>,
    token_cache: usize,
}

impl Guard {
    /// A guard verifying with `source`. By default only the asymmetric algorithms (EdDSA and
    /// its RFC 9864 name Ed25519, ES256, RS256) are allowed, no issuer or audience is required,
    /// there is no leeway and the system clock is used.
    pub fn builder(source: impl KeySource) -> GuardBuilder {
        GuardBuilder {
            source: Arc::new(source),
            validation: Validation::new([
                Algorithm::EdDSA,
                Algorithm::Ed25519,
                Algorithm::ES256,
                Algorithm::RS256,
            ]),
            clock: Arc::new(SystemClock),
            revocations: None,
            token_cache: 0,
        }
    }

    /// A guard for HS256 tokens signed with one of `secrets` (newest first), allowing HS256
    /// only — the seed's shared-`BETTER_AUTH_SECRET` mode. Each secret must be at least 32
    /// bytes.
    pub fn hs256<I, S>(secrets: I) -> Result<GuardBuilder, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Ok(Self::builder(StaticKeys::hs256(secrets)?).algorithms([Algorithm::HS256]))
    }

    /// The stand-in for "no guard configured" (see the `FromRef<()>` impl): rejects every
    /// request with [`GuardError::NotConfigured`].
    pub(crate) fn unconfigured() -> Self {
        Self(None)
    }

    /// The claim and algorithm policy in force (`None` for the unconfigured stand-in).
    pub fn validation(&self) -> Option<&Validation> {
        self.0.as_ref().map(|inner| &inner.validation)
    }

    /// Verifies `token` (the part after `Bearer `).
    ///
    /// A token naming a `kid` the key source does not have yet asks the source to refresh
    /// once (a remote JWKS refetches, rate-limited) and is verified again. With a
    /// [`RevocationList`], a valid token whose `sid` is listed is then refused as well.
    pub async fn verify(&self, token: &str) -> Result<AuthUser, GuardError> {
        let Some(inner) = self.0.as_deref() else {
            tracing::error!(
                "AuthUser extracted, but no Guard in the router state or request extensions"
            );
            return Err(GuardError::NotConfigured);
        };
        let ring = inner.source.keys().await;
        let result = match &inner.cache {
            Some(cache) => inner.verify_cached(cache, token, ring).await,
            None => inner
                .check(token, ring)
                .await
                .0
                .map(AuthUser::from_verified),
        };
        match result {
            Ok(user) => {
                // Only once the signature and claims hold: a forged token learns nothing here.
                if let (Some(list), Some(sid)) = (&inner.revocations, user.session_id())
                    && list.is_revoked(sid)
                {
                    tracing::debug!(target: "tessera_guard", reason = "session revoked", "bearer token rejected");
                    inner.verifications.revoked.inc();
                    return Err(GuardError::InvalidToken);
                }
                inner.verifications.valid.inc();
                Ok(user)
            }
            Err(reason) => {
                // Fixed strings from tessera-jwt: never the token or a value taken from it.
                tracing::debug!(target: "tessera_guard", %reason, "bearer token rejected");
                inner.verifications.invalid.inc();
                Err(GuardError::InvalidToken)
            }
        }
    }

    /// Reads `Authorization: Bearer <token>` from `headers` and verifies the token.
    ///
    /// Mirrors the seed's FastAPI dependency: no (or an empty) header is
    /// [`GuardError::MissingHeader`]; a value that is not exactly two whitespace-separated
    /// words is an invalid token; a scheme other than `Bearer` (any letter case) is
    /// [`GuardError::InvalidScheme`]. Several `Authorization` headers are refused as an
    /// invalid token rather than guessing which one counts.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<AuthUser, GuardError> {
        let token = match bearer_token(headers) {
            Ok(token) => token,
            Err(err) => {
                if let Some(inner) = self.0.as_deref() {
                    inner.verifications.no_token(&err);
                }
                return Err(err);
            }
        };
        self.verify(token).await
    }

    /// Registers `tessera_guard_verifications_total{result}` in `registry`: every
    /// verification this guard (and its clones) made and makes, by result: `valid`,
    /// `invalid` (refused: signature, claims, format), `revoked` (valid, but its session
    /// ended), `missing` (no bearer token at all). The counters exist whether or not they are
    /// registered, so counting costs one atomic add.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        if let Some(inner) = self.0.as_deref() {
            inner.verifications.register(registry);
        }
    }
}

impl Inner {
    /// [`tessera_jwt::verify`] against `ring`; a token naming a `kid` the ring lacks asks the
    /// source to refresh once and is verified again. Also yields the ring that decided.
    async fn check(
        &self,
        token: &str,
        ring: Arc<KeyRing>,
    ) -> (Result<VerifiedToken, JwtError>, Arc<KeyRing>) {
        let result = tessera_jwt::verify(token, &ring, &self.validation, self.clock.unix_secs());
        if result == Err(JwtError::UnknownKey)
            && let Some(fresh) = self.source.refresh(&ring).await
        {
            let result =
                tessera_jwt::verify(token, &fresh, &self.validation, self.clock.unix_secs());
            return (result, fresh);
        }
        (result, ring)
    }

    /// [`Self::check`] through the verified-token cache: the same answer, without the
    /// signature check for a token already decided against the current keys.
    async fn verify_cached(
        &self,
        cache: &TokenCache,
        token: &str,
        ring: Arc<KeyRing>,
    ) -> Result<AuthUser, JwtError> {
        let Some(key) = TokenCache::key(token) else {
            return self.check(token, ring).await.0.map(AuthUser::from_verified);
        };
        let now = self.clock.unix_secs();
        match cache.get(&key, &ring, now) {
            Cached::Accepted(user) => return Ok(user),
            Cached::Rejected(reason) => return Err(reason),
            Cached::Miss => {}
        }
        let (result, decided_by) = self.check(token, ring).await;
        match result {
            Ok(verified) => {
                let exp = verified.claims.exp();
                let user = AuthUser::from_verified(verified);
                cache.accept(key, &decided_by, &user, exp, now);
                Ok(user)
            }
            Err(reason) => {
                cache.reject(key, &decided_by, &reason);
                Err(reason)
            }
        }
    }
}

/// The token of the request's `Authorization: Bearer` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, GuardError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(GuardError::MissingHeader);
    };
    if values.next().is_some() {
        return Err(GuardError::InvalidToken);
    }
    if value.is_empty() {
        return Err(GuardError::MissingHeader);
    }
    // A header value holds tab, visible ASCII or obs-text bytes, so "ASCII" is `to_str()`'s
    // test, and a space or a tab is all the whitespace it can hold. Splitting on those two bytes
    // gives Python's `value.split()` on such a value, without decoding the token char by char
    // (a JWT is hundreds of bytes long and this runs on every request).
    let value = value.as_bytes();
    if !value.is_ascii() {
        return Err(GuardError::InvalidToken);
    }
    // Cannot fail once the bytes are ASCII; `from_utf8` is the safe way to say so.
    let value = std::str::from_utf8(value).map_err(|_| GuardError::InvalidToken)?;
    let value = value.trim_matches(is_blank);
    let Some((scheme, rest)) = value.split_once(is_blank) else {
        // One word (or none): `scheme, token = value.split()` raises ValueError in Python,
        // which the seed answers as an invalid token.
        return Err(GuardError::InvalidToken);
    };
    let token = rest.trim_start_matches(is_blank);
    if token.as_bytes().contains(&b' ') || token.as_bytes().contains(&b'\t') {
        // Three words or more: the same ValueError.
        return Err(GuardError::InvalidToken);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(token)
    } else {
        Err(GuardError::InvalidScheme)
    }
}

/// The whitespace a header value can hold.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl GuardBuilder {
    /// Accepts tokens whose `iss` is `issuer` (exact match); may be called several times.
    /// Better Auth's issuer is the origin of its base URL, e.g. `https://auth.example.com`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.validation = self.validation.with_issuer(issuer);
        self
    }

    /// Accepts tokens whose `aud` contains `audience`; may be called several times. Better
    /// Auth's audience is, like its issuer, the origin of its base URL.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.validation = self.validation.with_audience(audience);
        self
    }

    /// Clock-skew leeway for `exp` and `nbf`; capped at 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation = self.validation.with_leeway(leeway.as_secs());
        self
    }

    /// Replaces the allowed algorithms (header names: list `Ed25519` as well as `EdDSA` to take
    /// both). A key is still used only with its own algorithm (an Ed25519 key with either of
    /// its two names); this narrows further (RFC 8725 §3.1). Prefer symmetric *or* asymmetric,
    /// not both.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.validation.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The time source for `exp` / `nbf` (inject a [`crate::ManualClock`] in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Refuses tokens whose `sid` claim (the session they were minted for) is in `list`, with
    /// the same 401 as an expired token. Tokens without `sid` — Better Auth's — are unaffected.
    /// Off by default: without it a token stays valid until its `exp`, even after sign-out.
    /// See [`crate::revocation`] for the lists available.
    pub fn revocations(mut self, list: impl RevocationList) -> Self {
        self.revocations = Some(Arc::new(list));
        self
    }

    /// Remembers the outcome of verifying up to `capacity` distinct tokens (and of a quarter as
    /// many final rejections), so a token seen again is answered without checking its
    /// signature again: about a microsecond instead of tens (EdDSA, ES256, RS256). `0`, the
    /// default, turns the cache off.
    ///
    /// Answers never change: entries are keyed by the SHA-256 of the whole token; an accepted
    /// token is served only until its `exp` (plus leeway) and only while the key source hands
    /// out the same key ring it was verified with, so a rotated-out or withdrawn key stops
    /// working at once; only rejections that cannot change are remembered (never an unknown
    /// `kid` or a not-yet-valid `nbf`); the revocation list is consulted on every request,
    /// cached or not. Memory: roughly the size of a token's claims per entry.
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = capacity;
        self
    }

    /// The guard.
    pub fn build(self) -> Guard {
        let cache = (self.token_cache > 0).then(|| {
            // The leeway `tessera_jwt::verify` applies to `exp`, capped the same way.
            let leeway = self.validation.leeway_secs.min(MAX_LEEWAY_SECS);
            TokenCache::new(self.token_cache, i64::try_from(leeway).unwrap_or(0))
        });
        Guard(Some(Arc::new(Inner {
            source: self.source,
            validation: self.validation,
            clock: self.clock,
            revocations: self.revocations,
            cache,
            verifications: Verifications::default(),
        })))
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("validation", &self.validation())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for GuardBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardBuilder")
            .field("validation", &self.validation)
            .finish_non_exhaustive()
    }
}
