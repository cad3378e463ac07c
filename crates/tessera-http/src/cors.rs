//! CORS for a frontend on another origin: trusted origins only, with credentials.
//!
//! Better Auth leaves CORS to its host framework; Tessera is the host, so it answers preflights
//! and echoes the exact trusted origin (never `*`, which browsers refuse with credentials).
//! `Access-Control-Expose-Headers` is set per response by the endpoints that send
//! `set-auth-token` / `set-auth-jwt`, as Better Auth's plugins do.
//!
//! The answers are the ones tower-http's `CorsLayer` gives for the same settings (what Tessera
//! used before), from header values built once: the policy sits in front of every request, and
//! a policy that is only an `Arc` costs nothing to hand to each one.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;

/// The methods a preflight admits.
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,PUT,PATCH,DELETE");
/// The request headers a preflight admits: JSON bodies and bearer tokens.
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("content-type,authorization");
/// How long (seconds) a browser may reuse a preflight's answer.
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");
/// Every answer depends on these request headers, so shared caches must key on them.
const VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// Whether an `Origin` may read answers.
type Trusts = dyn Fn(&str) -> bool + Send + Sync;

/// The CORS policy: which origins may read answers, with cookies and the `Authorization`
/// header. Cloning shares it.
#[derive(Clone)]
pub struct Cors(Arc<Trusts>);

impl std::fmt::Debug for Cors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cors").finish_non_exhaustive()
    }
}

impl Cors {
    /// A policy admitting the origins `trusts` says yes to (exactly as sent in `Origin`).
    pub fn new(trusts: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(trusts))
    }

    /// Whether `request` is a preflight, to be answered by [`Self::preflight`] without reaching
    /// the app. Every `OPTIONS` request is one: no route answers `OPTIONS` itself.
    pub fn is_preflight(request: &Request) -> bool {
        request.method() == Method::OPTIONS
    }

    /// The answer to a preflight from `origin` (the request's `Origin` header): `200` with the
    /// methods, headers and max age admitted, and the origin echoed only if it is trusted.
    pub fn preflight(&self, origin: Option<&HeaderValue>) -> Response {
        let mut response = Response::default();
        let headers = response.headers_mut();
        self.grant(origin, headers);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
        response
    }

    /// Adds the CORS headers to the app's answer to a request from `origin`.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        self.grant(origin, response.headers_mut());
    }

    /// The headers preflights and answers share. `Vary` is appended to any the app set; the
    /// others replace the app's.
    fn grant(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if let Some(origin) = origin.filter(|o| self.trusts(o)) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        headers.append(header::VARY, VARY);
    }

    fn trusts(&self, origin: &HeaderValue) -> bool {
        origin.to_str().is_ok_and(|o| (self.0)(o))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderName;

    use super::*;

    const TRUSTED: &str = "https://app.example.com";

    fn cors() -> Cors {
        Cors::new(|origin| origin == TRUSTED)
    }

    fn values(response: &Response, name: HeaderName) -> Vec<&str> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn a_preflight_from_a_trusted_origin_admits_its_methods_and_headers_with_credentials() {
        let origin = HeaderValue::from_static(TRUSTED);
        let response = cors().preflight(Some(&origin));
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], TRUSTED);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET,POST,PUT,PATCH,DELETE"
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type,authorization"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(
            values(&response, header::VARY),
            ["origin, access-control-request-method, access-control-request-headers"]
        );
    }

    #[test]
    fn an_untrusted_or_missing_origin_is_never_echoed() {
        let cors = cors();
        for origin in [
            Some(HeaderValue::from_static("https://evil.example")),
            Some(HeaderValue::from_static("null")),
            Some(HeaderValue::from_bytes(b"https://app.example.com\xff").unwrap()),
            None,
        ] {
            let preflight = cors.preflight(origin.as_ref());
            let mut answer = Response::default();
            cors.decorate(origin.as_ref(), &mut answer);
            for response in [preflight, answer] {
                assert!(
                    !response
                        .headers()
                        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
                    "{origin:?}"
                );
            }
        }
    }

    #[test]
    fn an_answer_keeps_the_apps_vary_and_expose_headers_and_gains_the_origin() {
        let mut response = Response::default();
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("set-auth-jwt"),
        );
        let origin = HeaderValue::from_static(TRUSTED);
        cors().decorate(Some(&origin), &mut response);
        assert_eq!(
            values(&response, header::VARY),
            [
                "accept-encoding",
                "origin, access-control-request-method, access-control-request-headers"
            ]
        );
        assert_eq!(
            values(&response, header::ACCESS_CONTROL_EXPOSE_HEADERS),
            ["set-auth-jwt"]
        );
        assert_eq!(
            values(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            [TRUSTED]
        );
        assert_eq!(
            values(&response, header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
            ["true"]
        );
    }

    #[test]
    fn every_options_request_is_a_preflight_and_nothing_else_is() {
        for (method, preflight) in [
            (Method::OPTIONS, true),
            (Method::GET, false),
            (Method::POST, false),
        ] {
            let request = Request::builder()
                .method(method)
                .body(axum::body::Body::empty())
                .unwrap();
            assert_eq!(Cors::is_preflight(&request), preflight);
        }
    }
}
