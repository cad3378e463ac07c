//! The `/api/auth` router: the core's endpoints (sessions, the user, the revocation feed,
//! `/ok`) and every feature's ([`crate::features`]), inside the core's middleware.

mod accounts;
mod revocations;
mod session;
mod update_session;
mod user;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::cookies::find_cookie;
use crate::error::codes;
use crate::origin::{check_cookie_request, check_login_request};
use crate::state::AuthState;

/// The auth router, to be nested at `/api/auth`.
pub fn router(state: AuthState) -> Router {
    Router::new()
        .merge(session::router())
        .merge(user::router())
        .merge(accounts::router())
        .merge(update_session::router())
        .merge(revocations::router())
        .merge(crate::features::routes(&state.config))
        .route("/ok", axum::routing::get(ok))
        // Better Auth answers unknown paths and methods alike with an empty 404.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .method_not_allowed_fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(state.clone(), every_request))
        .with_state(state)
}

/// Better Auth's health check. Constant bytes: it is what load balancers poll.
async fn ok() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"ok":true}"#,
    )
        .into_response()
}

/// A JSON reply with `Set-Cookie` headers, each cookie its own header (never comma-joined).
pub(crate) fn reply(body: impl Serialize, cookies: Vec<String>) -> Response {
    with_cookies(axum::Json(body).into_response(), cookies)
}

/// `response` with `Set-Cookie` headers appended, each cookie its own header.
pub(crate) fn with_cookies(mut response: Response, cookies: Vec<String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The first value of `name` in a raw query string.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A mailed link's query, `?token=…&callbackURL=…`, as Better Auth's schema and `originCheck`
/// read it: `token` required (400 `VALIDATION_ERROR`), `callbackURL` a trusted target (403
/// `INVALID_CALLBACK_URL`); an empty callbackURL is falsy to Better Auth: unchecked, and none.
pub(crate) fn link_query(
    state: &AuthState,
    query: Option<&str>,
) -> Result<(String, Option<String>), crate::error::ApiError> {
    let Some(token) = query_value(query, "token") else {
        return Err(crate::error::ApiError::validation(
            "[query.token] Invalid input: expected string, received undefined",
        ));
    };
    let callback = query_value(query, "callbackURL").filter(|c| !c.is_empty());
    if let Some(url) = &callback
        && !state.trusted.allows_callback(url)
    {
        return Err(codes::invalid_callback_url());
    }
    Ok((token, callback))
}

/// A 302 to `location`, the way better-call's `ctx.redirect` answers.
pub(crate) fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        // better-call's redirect is a thrown API error: it keeps the JSON content type.
        Ok(value) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, value),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
            ],
        )
            .into_response(),
        Err(_) => codes::invalid_callback_url().into_response(),
    }
}

/// What happens around every `/api/auth` request, in Better Auth's order: the rate limit (before
/// routing and origin checks), the origin check, the handler, then the bearer plugin's hook on
/// the answer; and last, whatever the answer, [`forbid_storing`]. One middleware rather than
/// several because each layer clones and boxes the router below it on every request.
async fn every_request(State(state): State<AuthState>, request: Request, next: Next) -> Response {
    let mut response = admit_and_handle(&state, request, next).await;
    forbid_storing(response.headers_mut());
    response
}

async fn admit_and_handle(state: &AuthState, request: Request, next: Next) -> Response {
    let request = match crate::rate_limit::admit(state, request).await {
        Ok(request) => request,
        Err(limited) => return limited,
    };
    let request = match check_origin(state, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let response = next.run(request).await;
    expose_session_token(state, response)
}

/// `Cache-Control: no-store` (and `Pragma: no-cache` for HTTP/1.0 caches) on every answer that
/// does not set its own caching: sign-in and sign-up carry the session token, `/token` and
/// get-session a JWT, list-sessions every session's token, and any answer may set the session
/// cookie (OWASP ASVS 5.0 14.3.2). Deciding by default rather than by route means a route added
/// later is covered too; only `/jwks`, public keys meant to be cached, sets a `max-age`. Better
/// Auth sends these on get-session only (see docs/compatibility.md).
fn forbid_storing(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
}

/// Rejects cookie-carrying state changes from untrusted origins, and login CSRF on sign-in/up.
async fn check_origin(state: &AuthState, request: Request) -> Result<Request, Response> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(request);
    }
    let verdict = if crate::features::is_login_path(request.uri().path()) {
        check_login_request(request.headers(), &state.trusted)
    } else {
        check_cookie_request(request.headers(), &state.trusted)
    };
    match verdict {
        Ok(()) => Ok(request),
        Err(err) => {
            let reason = err.code().unwrap_or("");
            state
                .audit_refused(crate::audit::AuditKind::OriginRejected, reason, request)
                .await;
            Err(err.into_response())
        }
    }
}

const EXPOSE: HeaderName = HeaderName::from_static("access-control-expose-headers");

/// Appends `name` to `Access-Control-Expose-Headers`, as Better Auth's plugins do.
pub(crate) fn expose_header(headers: &mut HeaderMap, name: &str) {
    let merged = match headers.get(&EXPOSE).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => format!("{existing}, {name}"),
        _ => name.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&merged) {
        headers.insert(EXPOSE, value);
    }
}

/// The bearer plugin's after-hook: whenever a response sets a live session cookie, repeat its
/// decoded value in `set-auth-token` so non-browser clients can keep it.
fn expose_session_token(state: &AuthState, mut response: Response) -> Response {
    let name = &state.cookies.session_token;
    let token = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| !c.contains("Max-Age=0"))
        .find_map(|c| find_cookie(c.split(';').next().unwrap_or(""), name))
        .filter(|v| !v.is_empty());
    if let Some(token) = token
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("set-auth-token"), value);
        expose_header(response.headers_mut(), "set-auth-token");
    }
    response
}
