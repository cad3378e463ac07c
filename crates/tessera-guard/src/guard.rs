//! [`Guard`]: the verifier a resource server holds, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tessera_jwt::{Algorithm, JwtError, Validation};

use crate::keys::{KeySource, StaticKeys};
use crate::{AuthUser, Clock, ConfigError, GuardError};

/// Verifies bearer tokens. Cheap to clone; put it in the router state (directly, or as a field
/// with `#[derive(FromRef)]`) or in the request extensions.
#[derive(Clone)]
pub struct Guard(Option<Arc<Inner>>);

struct Inner {
    source: Arc<dyn KeySource>,
    validation: Validation,
    clock: Clock,
}

/// Settings of a [`Guard`].
#[must_use]
pub struct GuardBuilder {
    source: Arc<dyn KeySource>,
    validation: Validation,
    clock: Clock,
}

impl Guard {
    /// A guard verifying with `source`. By default only the asymmetric algorithms (EdDSA,
    /// ES256, RS256) are allowed, no issuer or audience is required, there is no leeway and
    /// the system clock is used.
    pub fn builder(source: impl KeySource) -> GuardBuilder {
        GuardBuilder {
            source: Arc::new(source),
            validation: Validation::new([Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256]),
            clock: Clock::system(),
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
    /// once (a remote JWKS refetches, rate-limited) and is verified again.
    pub async fn verify(&self, token: &str) -> Result<AuthUser, GuardError> {
        let Some(inner) = self.0.as_deref() else {
            tracing::error!(
                "AuthUser extracted, but no Guard in the router state or request extensions"
            );
            return Err(GuardError::NotConfigured);
        };
        let ring = inner.source.keys().await;
        let mut result = tessera_jwt::verify(token, &ring, &inner.validation, inner.clock.now());
        if result == Err(JwtError::UnknownKey)
            && let Some(fresh) = inner.source.refresh(&ring).await
        {
            result = tessera_jwt::verify(token, &fresh, &inner.validation, inner.clock.now());
        }
        match result {
            Ok(token) => Ok(AuthUser::from_verified(token)),
            Err(reason) => {
                // Fixed strings from tessera-jwt: never the token or a value taken from it.
                tracing::debug!(target: "tessera_guard", %reason, "bearer token rejected");
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
        let token = bearer_token(headers)?;
        self.verify(token).await
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
    let value = value.to_str().map_err(|_| GuardError::InvalidToken)?;
    let mut words = value.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Ok(token),
        (Some(_), Some(_), None) => Err(GuardError::InvalidScheme),
        // Python's `scheme, token = value.split()` raises ValueError here, which the seed
        // answers as an invalid token.
        _ => Err(GuardError::InvalidToken),
    }
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

    /// Replaces the allowed algorithms. A key is still used only with its own algorithm; this
    /// narrows further (RFC 8725 §3.1). Prefer symmetric *or* asymmetric, not both.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.validation.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The time source for `exp` / `nbf` (inject a [`crate::ManualClock`] in tests).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The guard.
    pub fn build(self) -> Guard {
        Guard(Some(Arc::new(Inner {
            source: self.source,
            validation: self.validation,
            clock: self.clock,
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
