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
    asset!("tasks.js", JS),
    asset!("account.js", JS),
];

const SIGN_IN_PAGE: &str = page!("sign-in.html");
const SIGN_UP_PAGE: &str = page!("sign-up.html");
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

    /// The page routes over a real socket, next to the auth router, on a throwaway SQLite file.
    mod served {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use tessera_auth::clock::SystemClock;
        use tessera_auth::secret::{Secret, SecretSet};
        use tessera_auth::{AuthConfig, AuthState};
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        use super::super::{CONTENT_SECURITY_POLICY, router};

        struct Reply {
            status: u16,
            headers: Vec<(String, String)>,
            body: String,
        }

        impl Reply {
            fn header(&self, name: &str) -> Option<&str> {
                self.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            }
            fn all(&self, name: &str) -> Vec<&str> {
                self.headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
                    .collect()
            }
        }

        struct App {
            addr: String,
            dir: std::path::PathBuf,
        }

        impl Drop for App {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }

        static N: AtomicUsize = AtomicUsize::new(0);

        async fn app() -> App {
            let dir = std::env::temp_dir().join(format!(
                "tessera-web-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}", dir.join("t.db").display());
            let store = tessera_auth::store::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let secrets =
                SecretSet::single(Secret::new("web-test-secret-0123456789abcdef0123456789"));
            let config = AuthConfig::new(secrets, format!("http://{addr}"));
            let state = AuthState::new(config, store, Arc::new(SystemClock));
            let app = axum::Router::new()
                .merge(router(state.clone()))
                .nest("/api/auth", tessera_auth::router(state));
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .await
                .unwrap();
            });
            App { addr, dir }
        }

        async fn request(
            app: &App,
            method: &str,
            path: &str,
            extra: &[(&str, &str)],
            body: &str,
        ) -> Reply {
            let mut stream = tokio::net::TcpStream::connect(&app.addr).await.unwrap();
            let mut head = format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
                app.addr,
                body.len()
            );
            for (name, value) in extra {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(body.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.unwrap();
            let raw = String::from_utf8_lossy(&raw).into_owned();
            let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
            let mut lines = head.split("\r\n");
            let status = lines
                .next()
                .unwrap()
                .split(' ')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect();
            Reply {
                status,
                headers,
                body: body.to_owned(),
            }
        }

        async fn get(app: &App, path: &str, cookie: Option<&str>) -> Reply {
            match cookie {
                Some(c) => request(app, "GET", path, &[("Cookie", c)], "").await,
                None => request(app, "GET", path, &[], "").await,
            }
        }

        /// Signs a new user up; returns the `name=value` of the session cookie.
        async fn signed_up(app: &App) -> String {
            let origin = format!("http://{}", app.addr);
            let reply = request(
                app,
                "POST",
                "/api/auth/sign-up/email",
                &[("Content-Type", "application/json"), ("Origin", &origin)],
                r#"{"name":"Web","email":"web@example.com","password":"tessera web test zq8-xw2p"}"#,
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply
                .all("set-cookie")
                .into_iter()
                .find(|c| c.starts_with("better-auth.session_token="))
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        }

        fn assert_security_headers(reply: &Reply, what: &str) {
            assert_eq!(
                reply.header("content-security-policy"),
                Some(CONTENT_SECURITY_POLICY),
                "{what}"
            );
            assert_eq!(
                reply.header("x-content-type-options"),
                Some("nosniff"),
                "{what}"
            );
            assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
            assert_eq!(
                reply.header("referrer-policy"),
                Some("same-origin"),
                "{what}"
            );
        }

        #[tokio::test]
        async fn protected_pages_send_anonymous_visitors_to_sign_in_and_back() {
            let app = app().await;
            for (path, location) in [
                ("/tasks", "/sign-in?next=/tasks"),
                ("/account", "/sign-in?next=/account"),
                (
                    "/tasks?status=pending",
                    "/sign-in?next=/tasks%3Fstatus%3Dpending",
                ),
            ] {
                let reply = get(&app, path, None).await;
                assert_eq!(reply.status, 303, "{path}");
                assert_eq!(reply.header("location"), Some(location), "{path}");
                assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
                assert_security_headers(&reply, path);
            }
            let root = get(&app, "/", None).await;
            assert_eq!(
                (root.status, root.header("location")),
                (303, Some("/tasks"))
            );
            for path in ["/sign-in", "/sign-up", "/sign-in?next=//evil.example"] {
                let reply = get(&app, path, None).await;
                assert_eq!(reply.status, 200, "{path}");
                assert_eq!(
                    reply.header("content-type"),
                    Some("text/html; charset=utf-8")
                );
                assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
                assert_security_headers(&reply, path);
            }
        }

        #[tokio::test]
        async fn signed_in_users_get_the_pages_and_skip_sign_in() {
            let app = app().await;
            let cookie = signed_up(&app).await;
            for path in ["/tasks", "/account"] {
                let reply = get(&app, path, Some(&cookie)).await;
                assert_eq!(reply.status, 200, "{path}");
                assert!(
                    reply
                        .body
                        .contains("<script type=\"module\" src=\"/assets/"),
                    "{path}"
                );
                assert_eq!(reply.header("cache-control"), Some("no-store"));
                assert_security_headers(&reply, path);
            }
            for (path, location) in [
                ("/sign-in", "/tasks"),
                ("/sign-up", "/tasks"),
                ("/sign-in?next=/account", "/account"),
                (
                    "/sign-in?next=%2Ftasks%3Fstatus%3Dcompleted",
                    "/tasks?status=completed",
                ),
                ("/sign-in?next=//evil.example/", "/tasks"),
                ("/sign-in?next=https://evil.example/", "/tasks"),
                ("/sign-in?next=/%5Cevil.example", "/tasks"),
            ] {
                let reply = get(&app, path, Some(&cookie)).await;
                assert_eq!(reply.status, 303, "{path}");
                assert_eq!(reply.header("location"), Some(location), "{path}");
            }
        }

        #[tokio::test]
        async fn a_signed_out_session_redirects_and_expires_the_cookie() {
            let app = app().await;
            let cookie = signed_up(&app).await;
            let origin = format!("http://{}", app.addr);
            let out = request(
                &app,
                "POST",
                "/api/auth/sign-out",
                &[
                    ("Content-Type", "application/json"),
                    ("Origin", &origin),
                    ("Cookie", &cookie),
                ],
                "{}",
            )
            .await;
            assert_eq!(out.status, 200);
            // The browser would have dropped it; a stale copy (or the back button) must not work.
            let reply = get(&app, "/tasks", Some(&cookie)).await;
            assert_eq!(reply.status, 303);
            assert_eq!(reply.header("location"), Some("/sign-in?next=/tasks"));
            assert!(
                reply.all("set-cookie").iter().any(|c| c
                    .starts_with("better-auth.session_token=;")
                    && c.contains("Max-Age=0")),
                "{:?}",
                reply.all("set-cookie")
            );
            let sign_in = get(&app, "/sign-in", Some(&cookie)).await;
            assert_eq!(sign_in.status, 200);
            // A cookie with a bad signature is simply anonymous.
            let forged = get(&app, "/tasks", Some("better-auth.session_token=abc.def")).await;
            assert_eq!(forged.status, 303);
            assert!(forged.all("set-cookie").is_empty());
        }

        #[tokio::test]
        async fn assets_are_typed_revalidated_and_guarded() {
            let app = app().await;
            let css = get(&app, "/assets/app.css", None).await;
            assert_eq!(css.status, 200);
            assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
            assert_eq!(css.header("cache-control"), Some("no-cache"));
            assert_security_headers(&css, "css");
            let etag = css.header("etag").unwrap().to_owned();
            let again = request(
                &app,
                "GET",
                "/assets/app.css",
                &[("If-None-Match", &etag)],
                "",
            )
            .await;
            assert_eq!(again.status, 304);
            assert!(again.body.is_empty());
            let js = get(&app, "/assets/auth.js", None).await;
            assert_eq!(
                js.header("content-type"),
                Some("text/javascript; charset=utf-8")
            );
            let missing = get(&app, "/assets/nope.js", None).await;
            assert_eq!(missing.status, 404);
            assert_security_headers(&missing, "404");
            let traversal = get(&app, "/assets/..%2Fsign-in.html", None).await;
            assert_eq!(traversal.status, 404);
        }

        #[tokio::test]
        async fn the_browser_module_of_clients_js_is_served_byte_for_byte_as_the_app_uses_it() {
            let app = app().await;
            let module = get(&app, "/assets/tessera-client.js", None).await;
            assert_eq!(module.status, 200);
            assert_eq!(
                module.header("content-type"),
                Some("text/javascript; charset=utf-8")
            );
            assert_eq!(module.header("cache-control"), Some("no-cache"));
            assert!(module.header("etag").is_some());
            assert_security_headers(&module, "tessera-client.js");
            let source = include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../clients/js/index.js"
            ));
            assert_eq!(module.body, source);
            assert!(source.contains("export function createApiClient"));
            // The app imports it instead of keeping a copy of its own.
            let auth = get(&app, "/assets/auth.js", None).await;
            assert!(auth.body.contains("from './tessera-client.js'"));
            assert!(!auth.body.contains("function decodePayload"));
        }
    }
}
