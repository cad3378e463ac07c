//! Session endpoints: `get-session`, `sign-out`, `list-sessions` and the three revocations.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{expose_header, reply};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody, OptionalJsonBody};
use crate::error::{ApiError, codes};
use crate::session::{AuthSession, ClientMeta, Resolved};
use crate::state::AuthState;
use crate::store::{Session, User};

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/get-session", get(get_session).post(get_session_post))
        .route("/sign-out", post(sign_out))
        .route("/list-sessions", get(list_sessions))
        .route("/revoke-session", post(revoke_session))
        .route("/revoke-sessions", post(revoke_sessions))
        .route("/revoke-other-sessions", post(revoke_other_sessions))
}

/// The current session and user, or `null`; also mints a JWT into `set-auth-jwt`.
///
/// It reads the request's headers in place (the whole request is its last argument) rather than
/// cloning them: this is the endpoint a frontend polls.
async fn get_session(
    State(state): State<AuthState>,
    meta: ClientMeta,
    request: Request,
) -> Result<Response, ApiError> {
    let allow_refresh = !disables_refresh(request.uri().query());
    let mut response = match state
        .resolve_session(request.headers(), allow_refresh)
        .await?
    {
        Resolved::Anonymous => reply(Value::Null, Vec::new()),
        Resolved::Gone => reply(Value::Null, state.expired_session_cookies()),
        Resolved::Active(active) => {
            let jwt = state
                .mint_jwt(&active.user, &active.session, &meta, "get-session")
                .await?;
            let body = SessionAndUser {
                session: &active.session,
                user: &active.user,
            };
            let mut response = reply(body, active.cookies);
            response
                .headers_mut()
                .insert(HeaderName::from_static("set-auth-jwt"), jwt.header_value());
            expose_header(response.headers_mut(), "set-auth-jwt");
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `?disableRefresh=…` with any non-empty value, even "false" (zod's `coerce.boolean()`); the
/// last one counts, as in a query parsed into a map.
fn disables_refresh(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| key == "disableRefresh")
            .last()
            .is_some_and(|(_, value)| !value.is_empty())
    })
}

/// get-session's body, serialised straight from the rows (no intermediate `Value` tree).
#[derive(serde::Serialize)]
struct SessionAndUser<'a> {
    session: &'a Session,
    user: &'a User,
}

/// `POST /get-session` needs Better Auth's `deferSessionRefresh`, which Tessera does not have:
/// 405, with the same no-store headers as every get-session answer.
async fn get_session_post() -> Response {
    let mut response = codes::get_session_not_allowed().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Deletes the current session (if any) and expires every session cookie. Never fails for
/// want of a session: signing out twice is fine.
async fn sign_out(
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let callback_url = fields.opt_string("callbackURL");
    fields.finish()?;
    if let Some(url) = &callback_url
        && !state.trusted.allows_callback(url)
    {
        return Err(codes::invalid_callback_url());
    }
    if let Some(token) = state.credential(&headers).token
        && let Some((session, user)) = state.store.find_session(&token).await?
    {
        let event = state
            .audit_event(AuditKind::SignOut, &meta)
            .user(&user.id)
            .session(&session.id);
        let stamp = state.revocation_stamp();
        if let Some(ended) = state.store.delete_session(&token, &event, stamp).await? {
            event.emit();
            state.sessions_ended(&[ended], stamp).await;
        }
    }
    Ok(reply(
        json!({ "success": true }),
        state.expired_session_cookies(),
    ))
}

/// Better Auth's `freshSessionMiddleware`: 403 `SESSION_NOT_FRESH` unless the session was
/// created within `freshAge` (0 turns the check off).
pub(crate) fn require_fresh(state: &AuthState, auth: &AuthSession) -> Result<(), ApiError> {
    let fresh_age = state.config.session.fresh_age;
    if fresh_age > chrono::Duration::zero()
        && state.clock.now() - auth.session.created_at.0 >= fresh_age
    {
        return Err(codes::session_not_fresh());
    }
    Ok(())
}

/// The user's live sessions; requires a fresh session (created within `freshAge`).
async fn list_sessions(
    State(state): State<AuthState>,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    require_fresh(&state, &auth)?;
    let sessions = state.store.list_sessions(&auth.user.id, now).await?;
    Ok(reply(sessions, auth.cookies))
}

/// Revokes one of the caller's sessions by its token, or by the `token` `list-sessions` gave
/// for it; answers the same whether or not it existed.
async fn revoke_session(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let token = fields.string("token");
    fields.finish()?;
    // The store names the session it deleted in the event: a listed token may be a stored
    // digest, which is no credential and so cannot be looked up first.
    let event = state
        .audit_event(AuditKind::SessionRevoked, &meta)
        .user(&auth.user.id)
        .reason("revoke_session")
        .detail(json!({ "by_session": auth.session.id }));
    let stamp = state.revocation_stamp();
    if let Some(ended) = state
        .store
        .delete_user_session(&auth.user.id, &token, &event, stamp)
        .await?
    {
        event.session(&ended).emit();
        state.sessions_ended(&[ended], stamp).await;
    }
    Ok(reply(json!({ "status": true }), auth.cookies))
}

/// Revokes every session of the caller, the current one included, and (like Better Auth)
/// expires the session cookies in the same answer.
async fn revoke_sessions(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let event = state
        .audit_event(AuditKind::SessionRevoked, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .reason("revoke_sessions");
    let stamp = state.revocation_stamp();
    let ended = state
        .store
        .delete_user_sessions(&auth.user.id, None, &event, stamp)
        .await?;
    if !ended.is_empty() {
        event.with_ended_sessions(&ended).emit();
        state.sessions_ended(&ended, stamp).await;
    }
    Ok(reply(
        json!({ "status": true }),
        state.expired_session_cookies(),
    ))
}

/// Revokes every session of the caller except the current one.
async fn revoke_other_sessions(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let event = state
        .audit_event(AuditKind::SessionRevoked, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .reason("revoke_other_sessions");
    let stamp = state.revocation_stamp();
    let ended = state
        .store
        .delete_user_sessions(&auth.user.id, Some(&auth.session.token), &event, stamp)
        .await?;
    if !ended.is_empty() {
        event.with_ended_sessions(&ended).emit();
        state.sessions_ended(&ended, stamp).await;
    }
    Ok(reply(json!({ "status": true }), auth.cookies))
}

#[cfg(test)]
mod tests {
    use super::disables_refresh;

    #[test]
    fn any_non_empty_disable_refresh_value_disables_it_and_the_last_one_counts() {
        for (query, disables) in [
            (None, false),
            (Some(""), false),
            (Some("disableRefresh="), false),
            (Some("disableRefresh=false"), true),
            (Some("disableRefresh=1&x=y"), true),
            (Some("disable%52efresh=true"), true),
            (Some("disableRefresh=true&disableRefresh="), false),
            (Some("disablerefresh=true"), false),
        ] {
            assert_eq!(disables_refresh(query), disables, "{query:?}");
        }
    }
}
