//! The web app: the pages under `web/` and their assets, embedded in the binary and served from
//! the auth server's origin.
//!
//! Pages are static HTML shells; their ES modules talk to `/api/auth` (cookie) and the tasks API
//! (`Authorization: Bearer <JWT>`, the JWT held in memory only by clients/js's browser module,
//! served as `/assets/tessera-client.js` from the same file other frontends install). The server
//! guards the protected pages itself: `/tasks` and `/account` without a live session answer `303`
//! to `/sign-in?next=<path>`, and a signed-in user opening `/sign-in` or `/sign-up` is sent on to
//! a safe `next` or `/tasks`. Every response carries a strict Content-Security-Policy (no inline
//! script or style) and the other security headers; pages and redirects are `no-store`, so the
//! back button after sign-out cannot show a cached page.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tessera_auth::AuthState;
use tessera_auth::origin::is_safe_relative_path;
use tessera_auth::session::Resolved;

/// The Content-Security-Policy of every page and asset: own-origin scripts, styles and requests
/// only, no inline code, no framing, no `<base>`, forms post only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Where a signed-in user goes by default, and where `/` leads.
const HOME: &str = "/tasks";

const HTML: &str = "text/html; charset=utf-8";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../web/assets/",
                $name
            )),
        }
    };
}

macro_rules! page {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $name))
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything under `/assets/`.
const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    // clients/js, the browser module for any frontend, is the web app's JWT handling too: served
    // from the one copy in the repository, so the app and the published module cannot drift.
    Asset {
        name: "tessera-client.js",
        content_type: JS,
        body: include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../clients/js/index.js"
        )),
    },
    asset!("auth.js", JS),
    asset!("ui.js", JS),
    asset!("shell.js", JS),
    asset!("sign-in.js", JS),
    asset!("sign-up.js", JS),
    asset!("social.js", JS),
    asset!("forgot-password.js", JS),
    asset!("reset-password.js", JS),
    asset!("tasks.js", JS),
    asset!("account.js", JS),
    asset!("passkey.js", JS),
    // lean-qr 2.7.4 (MIT), vendored: the account page draws the two-factor QR code itself.
    asset!("lean-qr.js", JS),
];

const SIGN_IN_PAGE: &str = page!("sign-in.html");
const SIGN_UP_PAGE: &str = page!("sign-up.html");
const FORGOT_PASSWORD_PAGE: &str = page!("forgot-password.html");
const RESET_PASSWORD_PAGE: &str = page!("reset-password.html");
const TASKS_PAGE: &str = page!("tasks.html");
const ACCOUNT_PAGE: &str = page!("account.html");
const NOT_FOUND_PAGE: &str = page!("not-found.html");
const UNAVAILABLE_PAGE: &str = page!("unavailable.html");

/// The page routes and `/assets/{file}`, with the security headers on every response.
///
/// Merge it into the app next to `/api/auth`; it sets no fallback, so it merges with routers that
/// do.
pub fn router(state: AuthState) -> Router {
    Router::new()
        .route("/", get(|| async { see_other(HOME) }))
        .route("/sign-in", get(sign_in))
        .route("/sign-up", get(sign_up))
        // Open to anyone, signed in or not: what they do needs the mailed token, not a session.
        .route(
            "/forgot-password",
            get(|| async { html(StatusCode::OK, FORGOT_PASSWORD_PAGE) }),
        )
        .route(
            "/reset-password",
            get(|| async { html(StatusCode::OK, RESET_PASSWORD_PAGE) }),
        )
        .route("/social-providers", get(social_providers))
        .route("/tasks", get(tasks))
        .route("/account", get(account))
        .route("/assets/{file}", get(asset))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn sign_in(
    State(state): State<AuthState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    guest_page(&state, &headers, query.as_deref(), SIGN_IN_PAGE).await
}

async fn sign_up(
    State(state): State<AuthState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    guest_page(&state, &headers, query.as_deref(), SIGN_UP_PAGE).await
}

/// The configured social providers, `[{"id", "name"}]`, for the "Continue with …" buttons:
/// public, since the buttons show them to anyone anyway.
async fn social_providers(State(state): State<AuthState>) -> Response {
    let providers: Vec<serde_json::Value> = state
        .social
        .providers()
        .into_iter()
        .map(|(id, name)| serde_json::json!({ "id": id, "name": name }))
        .collect();
    axum::Json(providers).into_response()
}

async fn tasks(State(state): State<AuthState>, headers: HeaderMap, uri: Uri) -> Response {
    protected_page(&state, &headers, &uri, TASKS_PAGE).await
}

async fn account(State(state): State<AuthState>, headers: HeaderMap, uri: Uri) -> Response {
    protected_page(&state, &headers, &uri, ACCOUNT_PAGE).await
}

/// A page for signed-in users: anyone else is sent to sign in, and brought back afterwards.
async fn protected_page(
    state: &AuthState,
    headers: &HeaderMap,
    uri: &Uri,
    page: &'static str,
) -> Response {
    match state.resolve_session(headers, false).await {
        Ok(Resolved::Active(_)) => html(StatusCode::OK, page),
        Ok(Resolved::Anonymous) => see_other(&sign_in_location(uri)),
        Ok(Resolved::Gone) => with_cookies(
            see_other(&sign_in_location(uri)),
            state.expired_session_cookies(),
        ),
        Err(err) => {
            tracing::warn!(
                status = err.status().as_u16(),
                "web: could not resolve the session"
            );
            html(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_PAGE)
        }
    }
}

/// Sign-in and sign-up: a signed-in user goes on to `next` (when safe) or `/tasks`.
async fn guest_page(
    state: &AuthState,
    headers: &HeaderMap,
    query: Option<&str>,
    page: &'static str,
) -> Response {
    match state.resolve_session(headers, false).await {
        Ok(Resolved::Active(_)) => see_other(&safe_next(query).unwrap_or_else(|| HOME.to_owned())),
        Ok(Resolved::Gone) => {
            with_cookies(html(StatusCode::OK, page), state.expired_session_cookies())
        }
        // Without a session, or when the database does not answer: the form itself reports errors.
        Ok(Resolved::Anonymous) | Err(_) => html(StatusCode::OK, page),
    }
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return html(StatusCode::NOT_FOUND, NOT_FOUND_PAGE);
    };
    let etag = etag(asset.body);
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let headers = response.headers_mut();
    // Revalidate every time: a new binary must never run with the previous build's scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// A strong entity tag from the content (stable for one build).
fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// The `next` query value when it is a same-site relative path.
fn safe_next(query: Option<&str>) -> Option<String> {
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "next")
        .map(|(_, value)| value.into_owned())
        .filter(|next| is_safe_relative_path(next))
}

/// `/sign-in?next=<this path and query>`; slashes stay readable (`next=/tasks`).
fn sign_in_location(uri: &Uri) -> String {
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    format!("/sign-in?next={}", encode_query_value(target))
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Escapes what may not appear raw in a `Location` header (non-ASCII, spaces, controls).
fn encode_location(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x21..0x7f).contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&encode_location(location)) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, HTML)], body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn with_cookies(mut response: Response, cookies: Vec<String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The headers every web response carries.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_location_keeps_slashes_and_encodes_the_query() {
        let uri: Uri = "/tasks".parse().unwrap();
        assert_eq!(sign_in_location(&uri), "/sign-in?next=/tasks");
        let uri: Uri = "/tasks?status=pending&sort=title".parse().unwrap();
        assert_eq!(
            sign_in_location(&uri),
            "/sign-in?next=/tasks%3Fstatus%3Dpending%26sort%3Dtitle"
        );
    }

    #[test]
    fn only_same_site_relative_next_values_are_honoured() {
        assert_eq!(
            safe_next(Some("next=/account")).as_deref(),
            Some("/account")
        );
        assert_eq!(
            safe_next(Some("next=%2Ftasks%3Fstatus%3Dpending")).as_deref(),
            Some("/tasks?status=pending")
        );
        for bad in [
            "next=//evil.example",
            "next=https://evil.example/",
            "next=/%5Cevil.example",
            "next=%2F%2Fevil.example",
            "next=/%2F/evil.example",
            "next=/\\evil.example",
            "next=javascript:alert(1)",
            "next=tasks",
            "next=/a%0d%0aSet-Cookie:x",
            "next=/a%C2%85b",
            "next=",
            "other=/tasks",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn locations_never_carry_raw_spaces_or_non_ascii() {
        assert_eq!(encode_location("/tasks?q=a b"), "/tasks?q=a%20b");
        assert_eq!(encode_location("/tâches"), "/t%C3%A2ches");
    }

    #[test]
    fn every_asset_is_embedded_and_typed() {
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
            let ext = asset.name.rsplit('.').next().unwrap();
            let expected = match ext {
                "js" => "text/javascript",
                "css" => "text/css",
                "svg" => "image/svg+xml",
                other => panic!("unexpected asset type {other}"),
            };
            assert!(asset.content_type.starts_with(expected), "{}", asset.name);
        }
    }

    #[test]
    fn pages_have_no_inline_script_or_style() {
        for page in [
            SIGN_IN_PAGE,
            SIGN_UP_PAGE,
            TASKS_PAGE,
            ACCOUNT_PAGE,
            NOT_FOUND_PAGE,
            UNAVAILABLE_PAGE,
        ] {
            assert!(!page.contains("<style"), "inline <style>");
            assert!(!page.contains(" style="), "style attribute");
            assert!(!has_inline_handler(page), "inline event handler");
            for (i, _) in page.match_indices("<script") {
                let tag = &page[i..page[i..].find('>').map_or(page.len(), |end| i + end)];
                assert!(tag.contains(" src=\"/assets/"), "inline script: {tag}");
            }
        }
    }

    /// ` on<letters>=`: an `onclick="…"`-style attribute.
    fn has_inline_handler(page: &str) -> bool {
        page.match_indices(" on").any(|(i, _)| {
            let rest = &page[i + 3..];
            let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            letters > 0 && rest[letters..].starts_with('=')
        })
    }

    #[test]
    fn etags_are_stable_and_quoted() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
        assert!(etag(b"a").starts_with('"') && etag(b"a").ends_with('"'));
    }
}
