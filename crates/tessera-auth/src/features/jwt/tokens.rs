//! Minting access tokens (docs/better-auth-protocol.md §4.2): the user object plus `sub`, `iat`,
//! `exp`, `iss` and `aud`, where `iss` = `aud` = the base URL's origin (no `aud` in HS256 mode).
//! Tessera adds `sid`, the session's id, so guards can refuse the tokens of an ended session
//! at once ([`crate::revocation`]); Better Auth's tokens name no session.
//!
//! A session asking again within the reuse window ([`MintedTokens::new`]) gets the token it was just
//! given (same user data, same signing key) instead of a new signature and audit row: a page
//! that calls `get-session` on every navigation would otherwise mint, sign and audit a token
//! per click. The reused token has at least nine tenths of its lifetime left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderValue;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::KeyError;
use crate::audit::{AuditEvent, AuditKind};
use crate::error::ApiError;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::{Session, User};

impl AuthState {
    /// A JWT for `user` in `session`: the one minted for it moments ago if still reusable (see
    /// the module documentation), else a new one signed with the current key and audited
    /// (`token_issued`, naming the key and expiry, never the token). `via` names the endpoint
    /// (`token`, `get-session`).
    pub async fn mint_jwt(
        &self,
        user: &Arc<User>,
        session: &Session,
        meta: &ClientMeta,
        via: &str,
    ) -> Result<Jwt, ApiError> {
        let now = self.clock.now();
        let key = self
            .jwt
            .keys
            .signing_key(self.store.as_ref(), now)
            .await
            .map_err(|e| self.key_error(e))?;
        if let Some(token) = self.jwt.minted.reusable(&session.id, user, key.kid(), now) {
            return Ok(token);
        }
        let iat = now.timestamp();
        let mut claims = match serde_json::to_value(&**user) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let exp = iat + self.config.jwt.expires_in.num_seconds();
        claims.insert("iat".into(), iat.into());
        claims.insert("sub".into(), user.id.clone().into());
        claims.insert("exp".into(), exp.into());
        claims.insert("iss".into(), self.config.base_origin.clone().into());
        // OpenID Connect's name for the session a token belongs to. The id is not a credential
        // (the session token is), and whoever holds this JWT may act as the user anyway.
        claims.insert("sid".into(), session.id.clone().into());
        // The brief's FastAPI middleware calls python-jose `jwt.decode(token, secret,
        // algorithms=["HS256"])` with no audience argument, and python-jose then rejects any
        // token that carries `aud`. HS256 tokens therefore leave it out; the asymmetric modes
        // keep Better Auth's `aud` so JWKS verifiers can pin it.
        if self.jwt.keys.alg() != tessera_jwt::Algorithm::HS256 {
            claims.insert("aud".into(), self.config.base_origin.clone().into());
        }
        let token = key.sign(&claims).map_err(|e| {
            tracing::error!(error = %e, "signing failed");
            ApiError::internal()
        })?;
        let token = Jwt::new(&token).ok_or_else(|| {
            tracing::error!("a signed token is not a valid header value");
            ApiError::internal()
        })?;
        // Fail closed: a token whose issue could not be recorded is not handed out.
        let event = AuditEvent::new(AuditKind::TokenIssued, now, meta)
            .user(&user.id)
            .session(&session.id)
            .detail(json!({ "kid": key.kid(), "alg": key.alg().as_str(), "exp": exp, "via": via }));
        self.audit(event).await?;
        self.metrics.token_issued(key.alg());
        self.jwt
            .minted
            .remember(&session.id, user, key.kid(), now, &token);
        Ok(token)
    }

    /// Maps a key failure to the client's answer, logging the cause.
    pub(crate) fn key_error(&self, err: KeyError) -> ApiError {
        match err {
            KeyError::Store(store) => ApiError::from(store),
            other => {
                tracing::error!(error = %other, "signing key unavailable");
                ApiError::internal()
            }
        }
    }
}

/// The last token minted for each session, for reuse; bounded, forgotten when sessions end.
pub struct MintedTokens {
    /// How long a minted token is handed out again.
    window: Duration,
    by_session: Mutex<HashMap<String, Minted>>,
}

/// Counts only: the map holds live JWTs, which must never reach a log.
impl std::fmt::Debug for MintedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedTokens")
            .field("window", &self.window)
            .field("sessions", &self.map().len())
            .finish()
    }
}

/// A signed JWT, kept as the header value `set-auth-jwt` sends (checked once, when minted:
/// base64url and dots are always valid header bytes). `Debug` hides it: it is a credential.
#[derive(Clone)]
pub struct Jwt(HeaderValue);

impl Jwt {
    /// `token` as a header value: visible ASCII only, so [`Self::as_str`] always gives it back.
    /// Marked sensitive, so `Debug` of the headers it is sent in hides it too.
    fn new(token: &str) -> Option<Self> {
        if !token.is_ascii() {
            return None;
        }
        let mut value = HeaderValue::from_str(token).ok()?;
        value.set_sensitive(true);
        Some(Self(value))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }

    /// The token as a header value.
    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jwt(…)")
    }
}

struct Minted {
    token: Jwt,
    /// The user object the claims were built from: a changed user gets a new token. Usually
    /// the very one the session cache hands out, so the comparison is a pointer check.
    user: Arc<User>,
    kid: Option<String>,
    issued_at: DateTime<Utc>,
}

/// At most this many sessions' tokens are remembered; past it, stale ones go first, then all.
const MINTED_CAPACITY: usize = 16_384;

impl MintedTokens {
    /// Remembers tokens of `lifetime` for reuse during a tenth of it, at most a minute.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            window: (lifetime / 10).min(Duration::minutes(1)),
            by_session: Mutex::default(),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Minted>> {
        // Entries are replaced whole, so a poisoned lock holds nothing half-written.
        self.by_session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a token issued at `issued_at` may still be handed out at `now`.
    fn in_window(&self, issued_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        // `issued_at <= now`: a clock that stepped back must not stretch the window.
        issued_at <= now && now - issued_at < self.window
    }

    fn reusable(
        &self,
        session_id: &str,
        user: &Arc<User>,
        kid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Jwt> {
        let map = self.map();
        let minted = map.get(session_id)?;
        (minted.kid.as_deref() == kid
            && self.in_window(minted.issued_at, now)
            && (Arc::ptr_eq(&minted.user, user) || minted.user == *user))
            .then(|| minted.token.clone())
    }

    fn remember(
        &self,
        session_id: &str,
        user: &Arc<User>,
        kid: Option<&str>,
        now: DateTime<Utc>,
        token: &Jwt,
    ) {
        let mut map = self.map();
        if map.len() >= MINTED_CAPACITY {
            // Only entries still inside the window can be handed out again.
            map.retain(|_, minted| self.in_window(minted.issued_at, now));
            if map.len() >= MINTED_CAPACITY {
                map.clear();
            }
        }
        map.insert(
            session_id.to_owned(),
            Minted {
                token: token.clone(),
                user: Arc::clone(user),
                kid: kid.map(str::to_owned),
                issued_at: now,
            },
        );
    }

    /// Forgets the tokens of sessions that ended.
    pub fn forget(&self, session_ids: &[String]) {
        let mut map = self.map();
        for id in session_ids {
            map.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_reads_back_as_its_text_and_never_prints() {
        let jwt = Jwt::new("eyJhbGciOiJFZERTQSJ9.e30.c2ln").unwrap();
        assert_eq!(jwt.as_str(), "eyJhbGciOiJFZERTQSJ9.e30.c2ln");
        assert_eq!(jwt.header_value(), "eyJhbGciOiJFZERTQSJ9.e30.c2ln");
        assert_eq!(format!("{jwt:?}"), "Jwt(…)");
        assert_eq!(format!("{:?}", jwt.header_value()), "Sensitive");
    }

    #[test]
    fn a_token_that_could_not_be_read_back_is_refused() {
        assert!(Jwt::new("eyJ.é.sig").is_none());
        assert!(Jwt::new("a\nb").is_none());
    }
}
