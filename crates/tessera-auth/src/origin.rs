//! Trusted origins and the CSRF checks of docs/better-auth-protocol.md §5.
//!
//! A cookie-carrying request that changes state must come from a trusted origin; sign-in and
//! sign-up also refuse cross-site top-level navigations (login CSRF), even without a cookie.

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use tessera_http::origin::origin_matches;

use crate::error::{ApiError, codes};

/// The set of origins allowed to make credentialed requests.
#[derive(Clone, Debug)]
pub struct TrustedOrigins {
    patterns: Vec<String>,
}

impl TrustedOrigins {
    /// The base URL's origin plus the configured ones; trailing slashes are ignored.
    pub fn new(base_origin: &str, extra: &[String]) -> Self {
        let mut patterns = vec![base_origin.trim_end_matches('/').to_owned()];
        patterns.extend(
            extra
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty()),
        );
        Self { patterns }
    }

    /// Whether `origin` (scheme://host[:port]) is trusted: an exact match, or a `*` pattern.
    pub fn contains(&self, origin: &str) -> bool {
        self.patterns.iter().any(|p| origin_matches(p, origin))
    }

    /// Whether a callback URL is safe to send a user to: a same-site relative path, or an
    /// absolute URL on a trusted origin.
    pub fn allows_callback(&self, url: &str) -> bool {
        if url.starts_with('/') {
            return is_safe_relative_path(url);
        }
        origin_of(url).is_some_and(|o| self.contains(&o))
    }
}

/// Better Auth's origin middleware vets every redirect target a state-changing request names,
/// whatever the endpoint and with or without a cookie: `callbackURL` (body, else query),
/// `redirectTo`, `errorCallbackURL`, `newUserCallbackURL`, in that order. A falsy value (JS
/// truthiness) is skipped; another non-string is a 400 without a code; an untrusted target a 403.
pub fn check_redirect_targets(
    body: Option<&Map<String, Value>>,
    query: Option<&str>,
    trusted: &TrustedOrigins,
) -> Result<(), ApiError> {
    let field = |name: &str| body.and_then(|b| b.get(name)).filter(|v| is_truthy(v));
    let from_query = || {
        let values: Vec<String> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .filter(|(k, _)| k == "callbackURL")
            .map(|(_, v)| v.into_owned())
            .collect();
        match values.len() {
            0 => None,
            // better-call turns a repeated key into an array.
            1 => Some(Value::String(values.into_iter().next().unwrap_or_default())),
            _ => Some(Value::Array(
                values.into_iter().map(Value::String).collect(),
            )),
        }
        .filter(is_truthy)
    };
    let targets: [(Option<Value>, &str, Rejection); 4] = [
        (
            field("callbackURL").cloned().or_else(from_query),
            "callbackURL",
            codes::invalid_callback_url,
        ),
        (
            field("redirectTo").cloned(),
            "redirectURL",
            codes::invalid_redirect_url,
        ),
        (
            field("errorCallbackURL").cloned(),
            "errorCallbackURL",
            codes::invalid_error_callback_url,
        ),
        (
            field("newUserCallbackURL").cloned(),
            "newUserCallbackURL",
            codes::invalid_new_user_callback_url,
        ),
    ];
    for (value, label, rejection) in targets {
        match value {
            None => {}
            Some(Value::String(url)) if trusted.allows_callback(&url) => {}
            Some(Value::String(_)) => return Err(rejection()),
            Some(_) => {
                return Err(ApiError::message_only(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid {label}: expected a string"),
                ));
            }
        }
    }
    Ok(())
}

/// The error for an untrusted redirect target.
type Rejection = fn() -> ApiError;

/// JavaScript truthiness of a JSON value.
fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A relative path that cannot be turned into another host: no `//`, no backslash, no encoded slash.
pub fn is_safe_relative_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !path.chars().any(char::is_control)
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL (shared with `tessera api`).
pub use tessera_http::origin::origin_of;

/// The request's claimed origin: `Origin`, else the origin of `Referer`. `None` when absent or `null`.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match origin {
        Some("null") => None,
        Some(o) => Some(o.trim_end_matches('/').to_owned()),
        None => headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(origin_of),
    }
}

fn require_trusted_origin(headers: &HeaderMap, trusted: &TrustedOrigins) -> Result<(), ApiError> {
    let origin = request_origin(headers).or_else(|| same_origin_null(headers, trusted));
    match origin {
        None => Err(codes::missing_or_null_origin()),
        Some(o) if trusted.contains(&o) => Ok(()),
        Some(_) => Err(codes::invalid_origin()),
    }
}

/// Browsers send `Origin: null` for some same-origin requests (e.g. after a redirect chain);
/// with `Sec-Fetch-Site: same-origin` Better Auth takes the request's own origin instead — the
/// base URL's scheme with the `Host` header here — which must still be trusted.
fn same_origin_null(headers: &HeaderMap, trusted: &TrustedOrigins) -> Option<String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("origin") != Some("null") || text("sec-fetch-site") != Some("same-origin") {
        return None;
    }
    let scheme = trusted.patterns.first()?.split_once("://")?.0;
    Some(format!("{scheme}://{}", text("host")?))
}

/// The global check for state-changing requests: with a `Cookie` header, the origin must be trusted.
pub fn check_cookie_request(headers: &HeaderMap, trusted: &TrustedOrigins) -> Result<(), ApiError> {
    if headers.contains_key(header::COOKIE) {
        require_trusted_origin(headers, trusted)
    } else {
        Ok(())
    }
}

/// The sign-in/sign-up check against login CSRF (protocol §5 `formCsrfMiddleware`).
pub fn check_login_request(headers: &HeaderMap, trusted: &TrustedOrigins) -> Result<(), ApiError> {
    if headers.contains_key(header::COOKIE) {
        return require_trusted_origin(headers, trusted);
    }
    let fetch = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (site, mode, dest) = (
        fetch("sec-fetch-site"),
        fetch("sec-fetch-mode"),
        fetch("sec-fetch-dest"),
    );
    if site.is_some() || mode.is_some() || dest.is_some() {
        if site == Some("cross-site") && mode == Some("navigate") {
            return Err(codes::cross_site_navigation_login_blocked());
        }
        return require_trusted_origin(headers, trusted);
    }
    if headers.contains_key(header::ORIGIN) || headers.contains_key(header::REFERER) {
        return require_trusted_origin(headers, trusted);
    }
    // No browser signals at all: curl or a server-to-server call, which CSRF cannot forge.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted() -> TrustedOrigins {
        TrustedOrigins::new(
            "http://localhost:3000",
            &[
                "http://localhost:3001".into(),
                "https://*.example.com".into(),
            ],
        )
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origins_match_exactly_or_by_wildcard() {
        let t = trusted();
        assert!(t.contains("http://localhost:3000"));
        assert!(t.contains("http://localhost:3001"));
        assert!(t.contains("https://app.example.com"));
        assert!(!t.contains("http://localhost:3002"));
        assert!(!t.contains("https://example.com.evil.io"));
    }

    #[test]
    fn callback_urls_must_be_safe_paths_or_trusted_origins() {
        let t = trusted();
        assert!(t.allows_callback("/tasks"));
        assert!(t.allows_callback("http://localhost:3001/done"));
        assert!(!t.allows_callback("//evil.io"));
        assert!(!t.allows_callback("/\\evil.io"));
        assert!(!t.allows_callback("/%2F%2Fevil.io"));
        assert!(!t.allows_callback("https://evil.io/"));
        assert!(!t.allows_callback("javascript:alert(1)"));
    }

    #[test]
    fn redirect_targets_in_body_and_query_are_vetted_like_better_auths_middleware() {
        let t = trusted();
        let body = |v: Value| v.as_object().cloned().unwrap();
        let code = |b: Option<&Map<String, Value>>, q: Option<&str>| {
            check_redirect_targets(b, q, &t)
                .err()
                .map(|e| (e.status().as_u16(), e.code()))
        };
        assert_eq!(code(None, None), None);
        assert_eq!(
            code(Some(&body(serde_json::json!({"callbackURL": "/ok"}))), None),
            None
        );
        assert_eq!(
            code(None, Some("callbackURL=https%3A%2F%2Fevil.io")),
            Some((403, Some("INVALID_CALLBACK_URL")))
        );
        assert_eq!(
            code(
                Some(&body(serde_json::json!({"redirectTo": "https://evil.io"}))),
                None
            ),
            Some((403, Some("INVALID_REDIRECT_URL")))
        );
        assert_eq!(
            code(
                Some(&body(serde_json::json!({"errorCallbackURL": "//evil.io"}))),
                None
            ),
            Some((403, Some("INVALID_ERROR_CALLBACK_URL")))
        );
        assert_eq!(
            code(
                Some(&body(
                    serde_json::json!({"newUserCallbackURL": "https://evil.io"})
                )),
                None
            ),
            Some((403, Some("INVALID_NEW_USER_CALLBACK_URL")))
        );
        // A non-string is a 400 without a code; falsy values are not looked at.
        assert_eq!(
            code(Some(&body(serde_json::json!({"callbackURL": 5}))), None),
            Some((400, None))
        );
        assert_eq!(
            code(
                Some(&body(
                    serde_json::json!({"callbackURL": 0, "redirectTo": ""})
                )),
                None
            ),
            None
        );
        assert_eq!(
            code(None, Some("callbackURL=%2Fa&callbackURL=%2Fb")),
            Some((400, None))
        );
    }

    #[test]
    fn a_cookie_request_needs_a_trusted_origin_or_referer() {
        let t = trusted();
        assert!(check_cookie_request(&headers(&[]), &t).is_ok());
        let err = check_cookie_request(&headers(&[("cookie", "a=b")]), &t).unwrap_err();
        assert_eq!(err.code(), Some("MISSING_OR_NULL_ORIGIN"));
        let err = check_cookie_request(&headers(&[("cookie", "a=b"), ("origin", "null")]), &t)
            .unwrap_err();
        assert_eq!(err.code(), Some("MISSING_OR_NULL_ORIGIN"));
        let err = check_cookie_request(
            &headers(&[("cookie", "a=b"), ("origin", "http://evil.io")]),
            &t,
        )
        .unwrap_err();
        assert_eq!(err.code(), Some("INVALID_ORIGIN"));
        assert!(
            check_cookie_request(
                &headers(&[("cookie", "a=b"), ("referer", "http://localhost:3001/x")]),
                &t
            )
            .is_ok()
        );
    }

    #[test]
    fn a_null_origin_on_a_same_origin_fetch_counts_as_the_hosts_origin() {
        let t = trusted();
        let same = headers(&[
            ("cookie", "a=b"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
            ("host", "localhost:3000"),
        ]);
        assert!(check_cookie_request(&same, &t).is_ok());
        let elsewhere = headers(&[
            ("cookie", "a=b"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
            ("host", "evil.io"),
        ]);
        assert_eq!(
            check_cookie_request(&elsewhere, &t).unwrap_err().code(),
            Some("INVALID_ORIGIN")
        );
        let cross = headers(&[
            ("cookie", "a=b"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(
            check_cookie_request(&cross, &t).unwrap_err().code(),
            Some("MISSING_OR_NULL_ORIGIN")
        );
    }

    #[test]
    fn a_cross_site_navigation_cannot_sign_anyone_in() {
        let t = trusted();
        let nav = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert_eq!(
            check_login_request(&nav, &t).unwrap_err().code(),
            Some("CROSS_SITE_NAVIGATION_LOGIN_BLOCKED")
        );
        let fetch_without_origin = headers(&[("sec-fetch-site", "same-origin")]);
        assert_eq!(
            check_login_request(&fetch_without_origin, &t)
                .unwrap_err()
                .code(),
            Some("MISSING_OR_NULL_ORIGIN")
        );
        assert!(check_login_request(&headers(&[]), &t).is_ok());
        assert_eq!(
            check_login_request(&headers(&[("origin", "http://evil.io")]), &t)
                .unwrap_err()
                .code(),
            Some("INVALID_ORIGIN")
        );
    }
}
