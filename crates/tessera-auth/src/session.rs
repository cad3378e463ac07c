//! Finding, creating and sliding sessions (docs/better-auth-protocol.md §2.4, §2.5, §3).
//!
//! A request names its session with the signed `session_token` cookie or, through the bearer
//! plugin's rule, `Authorization: Bearer <token>[.<signature>]`; a bearer credential that fails
//! its check is ignored and the cookie still applies (Better Auth issue #932).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

use crate::audit::{AuditEvent, AuditKind};
use crate::cookies::{encode_value, find_cookie, signed_value, verify_signed};
use crate::error::ApiError;
use crate::ids::generate_id;
use crate::secret::Secret;
use crate::state::AuthState;
use crate::store::{DbTime, Session, User};

/// The credential a request presents, already signature-checked.
#[derive(Debug, Default)]
pub struct Credential {
    /// The raw session token, if a valid one was presented.
    pub token: Option<String>,
    /// Whether a `session_token` cookie was sent at all (valid or not).
    pub had_cookie: bool,
    /// Whether the signed `dont_remember` cookie is present.
    pub dont_remember: bool,
    /// The credential was signed with an older secret (`BETTER_AUTH_SECRETS` rotation): it is
    /// accepted during the grace period and re-signed with the current secret on this response.
    pub stale_signature: bool,
}

impl AuthState {
    /// Reads the session credential from `Authorization: Bearer` or the session cookie.
    pub fn credential(&self, headers: &HeaderMap) -> Credential {
        let secrets: Vec<_> = self.config.secrets.all().map(|s| &s.secret).collect();
        let cookie_header = cookie_header(headers);
        let cookie = find_cookie(&cookie_header, &self.cookies.session_token);
        let dont_remember = find_cookie(&cookie_header, &self.cookies.dont_remember)
            .and_then(|v| verify_signed(secrets.iter().copied(), &v))
            .is_some_and(|v| v == "true");
        let bearer = bearer_session_token(headers, secrets.iter().copied());
        let from_cookie = || {
            cookie
                .as_deref()
                .and_then(|c| verify_signed(secrets.iter().copied(), c))
        };
        let token = bearer.or_else(from_cookie);
        // Only when an older secret was needed does the current one get a second look.
        let stale_signature = token.is_some()
            && secrets.len() > 1
            && !self.signed_with_current(headers, cookie.as_deref());
        Credential {
            token,
            had_cookie: cookie.is_some(),
            dont_remember,
            stale_signature,
        }
    }

    /// Whether the presented credential (bearer first, then cookie) verifies with the current secret.
    fn signed_with_current(&self, headers: &HeaderMap, cookie: Option<&str>) -> bool {
        let current = [&self.config.secrets.current().secret];
        let bearer = bearer_token(headers).map(|raw| {
            percent_decode_str(&raw)
                .decode_utf8()
                .map(|v| v.into_owned())
                .unwrap_or(raw)
        });
        match bearer {
            // Signed with the current secret: fresh.
            Some(value) if value.contains('.') && verify_signed(current, &value).is_some() => {
                return true;
            }
            // Signed, but not with the current secret: fall through to the cookie.
            Some(value) if value.contains('.') => {}
            // A raw (unsigned) bearer token carries no signature to be stale.
            Some(_) => return true,
            None => {}
        }
        cookie.is_some_and(|c| verify_signed(current, c).is_some())
    }

    /// `Set-Cookie` values establishing `session` (and the `dont_remember` marker when asked).
    pub fn session_cookies(&self, session: &Session, dont_remember: bool) -> Vec<String> {
        let secret = &self.config.secrets.current().secret;
        let value = encode_value(&signed_value(secret, &session.token));
        let max_age = (!dont_remember).then(|| self.config.session.expires_in.num_seconds());
        let mut cookies =
            vec![
                self.cookies
                    .set_cookie(&self.cookies.session_token, &value, max_age),
            ];
        if dont_remember {
            let marker = encode_value(&signed_value(secret, "true"));
            cookies.push(
                self.cookies
                    .set_cookie(&self.cookies.dont_remember, &marker, None),
            );
        }
        cookies
    }

    /// The cookies of an answer that changed `auth`'s user (Better Auth's `setSessionCookie`
    /// with the same session): the sliding refresh's when the request earned one, else the
    /// token cookie alone (a `dont_remember` marker is already in place).
    pub fn resent_session_cookie(&self, auth: AuthSession) -> Vec<String> {
        if !auth.cookies.is_empty() {
            return auth.cookies;
        }
        let mut cookies = self.session_cookies(&auth.session, auth.dont_remember);
        cookies.truncate(1);
        cookies
    }

    /// `Set-Cookie` values that remove every session cookie.
    pub fn expired_session_cookies(&self) -> Vec<String> {
        [
            &self.cookies.session_token,
            &self.cookies.session_data,
            &self.cookies.dont_remember,
        ]
        .into_iter()
        .map(|name| self.cookies.expire(name))
        .collect()
    }

    /// Creates and stores a new session for `user`, with `audit` (its `sign_in` event).
    pub async fn create_session(
        &self,
        user: &User,
        meta: &ClientMeta,
        dont_remember: bool,
        audit: AuditEvent,
    ) -> Result<Session, ApiError> {
        let now = self.clock.now();
        let lifetime = if dont_remember {
            self.config.session.dont_remember_expires_in
        } else {
            self.config.session.expires_in
        };
        let session = Session {
            id: generate_id(32),
            expires_at: DbTime::from(now + lifetime),
            token: generate_id(32),
            created_at: DbTime::from(now),
            updated_at: DbTime::from(now),
            ip_address: Some(meta.ip()),
            user_agent: Some(meta.user_agent()),
            user_id: user.id.clone(),
        };
        self.insert_session(&session, audit).await?;
        Ok(session)
    }

    /// Resolves the request's session: expired or unknown sessions are removed and their
    /// cookies expired; a live one is slid forward once `updateAge` has passed.
    pub async fn resolve_session(
        &self,
        headers: &HeaderMap,
        allow_refresh: bool,
    ) -> Result<Resolved, ApiError> {
        let credential = self.credential(headers);
        let Some(token) = credential.token else {
            return Ok(Resolved::Anonymous);
        };
        let now = self.clock.now();
        let Some((mut session, user)) = self.store.find_session(&token).await? else {
            return Ok(Resolved::Gone);
        };
        if session.expires_at.0 < now {
            // Its JWTs may outlive it by up to their lifetime: announce the end like a sign-out.
            let event = AuditEvent::system(AuditKind::SessionRevoked, now)
                .user(&session.user_id)
                .session(&session.id)
                .reason("expired");
            let stamp = self.revocations.stamp(now);
            if let Some(ended) = self.store.delete_session(&token, &event, stamp).await? {
                event.emit();
                self.sessions_ended(&[ended], stamp).await;
            }
            return Ok(Resolved::Gone);
        }
        let mut cookies = Vec::new();
        if allow_refresh && !credential.dont_remember && self.due_for_refresh(&session, now) {
            let expires_at = now + self.config.session.expires_in;
            self.store.extend_session(&token, expires_at, now).await?;
            let refreshed = Arc::make_mut(&mut session);
            refreshed.expires_at = DbTime::from(expires_at);
            refreshed.updated_at = DbTime::from(now);
            cookies = self.session_cookies(&session, false);
        }
        if cookies.is_empty() && credential.stale_signature {
            cookies = self.session_cookies(&session, credential.dont_remember);
        }
        Ok(Resolved::Active(Box::new(AuthSession {
            session,
            user,
            dont_remember: credential.dont_remember,
            cookies,
        })))
    }

    /// Better Auth's `freshSessionMiddleware`: 403 `SESSION_NOT_FRESH` unless `auth`'s session
    /// was created within `freshAge` (zero turns the check off).
    pub fn require_fresh(&self, auth: &AuthSession) -> Result<(), ApiError> {
        let fresh_age = self.config.session.fresh_age;
        if fresh_age > chrono::Duration::zero()
            && self.clock.now() - auth.session.created_at.0 >= fresh_age
        {
            return Err(crate::error::codes::session_not_fresh());
        }
        Ok(())
    }

    /// `expiresAt - expiresIn + updateAge <= now`: at least `updateAge` since the last extension.
    fn due_for_refresh(&self, session: &Session, now: DateTime<Utc>) -> bool {
        let policy = &self.config.session;
        session.expires_at.0 - policy.expires_in + policy.update_age <= now
    }
}

/// Every `Cookie` header of a request as one `; `-joined header (HTTP/2 may split them).
pub(crate) fn cookie_header(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The session token `Authorization` names under the bearer plugin's rule: a signed
/// `token.signature` (percent-encoded or not) verified against `secrets`, or a raw token taken
/// as-is (`requireSignature: false`). `None` when there is no bearer value or its signature
/// fails. Public so the `auth_headers` fuzz target runs the server's own parser.
pub fn bearer_session_token<'a>(
    headers: &HeaderMap,
    secrets: impl IntoIterator<Item = &'a Secret>,
) -> Option<String> {
    let raw = bearer_token(headers)?;
    if raw.contains('.') {
        let decoded = if raw.contains('%') {
            percent_decode_str(&raw).decode_utf8().ok()?.into_owned()
        } else {
            raw
        };
        verify_signed(secrets, &decoded)
    } else {
        Some(raw)
    }
}

/// `Authorization: Bearer <token>`, scheme case-insensitive, token trimmed.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// What resolving a request's session found.
#[derive(Debug)]
pub enum Resolved {
    /// No valid credential was presented.
    Anonymous,
    /// A validly signed credential named a session that no longer exists or has expired.
    Gone,
    /// A live session (boxed: it is much larger than the other variants).
    Active(Box<AuthSession>),
}

/// A live session with its user: the extractor for endpoints that need one (401 otherwise).
#[derive(Debug)]
pub struct AuthSession {
    /// The session row (shared with the session cache).
    pub session: Arc<Session>,
    /// Its user (shared with the session cache).
    pub user: Arc<User>,
    /// Whether the session is in `rememberMe: false` mode.
    pub dont_remember: bool,
    /// `Set-Cookie` values to send back (a sliding refresh).
    pub cookies: Vec<String>,
}

impl FromRequestParts<AuthState> for AuthSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AuthState,
    ) -> Result<Self, Self::Rejection> {
        match state.resolve_session(&parts.headers, true).await? {
            Resolved::Active(session) => Ok(*session),
            Resolved::Anonymous | Resolved::Gone => Err(ApiError::unauthorized()),
        }
    }
}

/// The client's address and user agent, recorded on new sessions and in the audit log.
///
/// Extracting it copies nothing but two small handles; the strings are made only when a record
/// is written, which most requests (a cached `get-session`, say) never do.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// The resolved client address, for rate limits.
    pub client_ip: Option<crate::rate_limit::ClientIp>,
    user_agent: Option<HeaderValue>,
}

/// Stored user agents are cut to this many characters.
const MAX_USER_AGENT_CHARS: usize = 512;

impl ClientMeta {
    /// The client IP (socket peer, or via trusted proxies), or `""` when unknown.
    pub fn ip(&self) -> String {
        self.client_ip
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// The `User-Agent` header (its first 512 characters), or `""`.
    pub fn user_agent(&self) -> String {
        self.user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            // The rate-limit middleware resolved the address (trusted proxies included).
            client_ip: parts
                .extensions
                .get::<crate::rate_limit::ClientIp>()
                .cloned(),
            user_agent: parts.headers.get(header::USER_AGENT).cloned(),
        })
    }
}
