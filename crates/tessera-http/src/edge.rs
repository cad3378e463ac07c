//! The edge: what every request meets before routing, as a stack of tower-http layers around
//! the router (outermost first):
//!
//! 1. The request layer ([`crate::access_log`], the one layer here that is Tessera's own, for
//!    what tower-http's `TraceLayer`, request-id, sensitive-headers and set-header layers cost
//!    per request): the request id (`x-request-id` from a trusted proxy, else a new UUID-shaped
//!    id; echoed in the answer), one span per request carrying its id, method and path
//!    (handlers' events are logged inside it), the request's headers at `debug` with
//!    credentials and token-carrying URLs printed as `Sensitive`, one access line when it is
//!    answered, HSTS on every answer when served over https; with [`Edge::with_metrics`], the
//!    request's count and latency by route template ([`crate::metrics`]).
//! 2. `CorsLayer` for trusted origins ([`cors`]): preflights are answered here.
//! 3. `CatchPanicLayer`: a panic becomes the server's plain 500 — still with CORS headers and
//!    its access line, so a browser frontend can read the (generic) error.
//! 4. `TimeoutLayer`: a request not answered within the request timeout (its body included)
//!    gets 503; `RequestBodyTimeoutLayer`: a body that stops arriving fails;
//!    `RequestBodyLimitLayer`: a body past the edge's limit gets 413 before any handler.
//!
//! Each is a kept crate's layer; what is Tessera's own is which ones, in which order, and the
//! few lines that configure them.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::{RequestBodyLimitLayer, ResponseBody as LimitedBody};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::access_log;
use crate::metrics::{self, HttpMetrics};
use crate::request_id::TrustsPeer;
use crate::server::ConnectionLimits;

/// The service hyper calls for each request: the whole edge around the router.
pub type EdgeService = BoxCloneSyncService<Request, Response, Infallible>;

/// The edge's configuration; [`Self::into_service`] stacks the layers.
#[derive(Clone)]
pub struct Edge {
    app: Router,
    cors: Option<CorsLayer>,
    on_panic: fn() -> Response,
    hsts: bool,
    trusts_peer: Option<TrustsPeer>,
    metrics: Option<HttpMetrics>,
    secret_paths: &'static [&'static str],
}

impl Edge {
    /// `app` behind the edge; `cors` when browsers on other origins may call it ([`cors`]);
    /// `on_panic` answers a request whose handler panicked (no message, no backtrace: the log
    /// says a handler panicked).
    pub fn new(app: Router, cors: Option<CorsLayer>, on_panic: fn() -> Response) -> Self {
        Self {
            app,
            cors,
            on_panic,
            hsts: false,
            trusts_peer: None,
            metrics: None,
            secret_paths: &[],
        }
    }

    /// Sends `Strict-Transport-Security` on every answer, for a server whose public URL is
    /// https: browsers then refuse plain http to it, so no cookie or token crosses in clear.
    pub fn with_hsts(mut self) -> Self {
        self.hsts = true;
        self
    }

    /// Believes an `x-request-id` sent by a peer `trusts` says yes to (the reverse proxies in
    /// front); every other request gets an id of its own.
    pub fn trusting_request_ids_from(mut self, trusts: TrustsPeer) -> Self {
        self.trusts_peer = Some(trusts);
        self
    }

    /// Paths that carry a secret after one of these prefixes (a link's token in the path):
    /// the request span and the access line show the prefix and [`crate::access_log::REDACTED`]
    /// instead of the rest.
    pub fn with_secret_paths(mut self, prefixes: &'static [&'static str]) -> Self {
        self.secret_paths = prefixes;
        self
    }

    /// Counts every request and observes its latency in `metrics` ([`crate::metrics`]).
    /// Without it the request path records nothing.
    pub fn with_metrics(mut self, metrics: HttpMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The edge as one service, within `limits` (the request and body timeouts, the body
    /// limit). [`crate::server::serve`] calls it.
    pub fn into_service(self, limits: &ConnectionLimits) -> EdgeService {
        let on_panic = self.on_panic;
        // The route template is known only inside the router: a layer there hands it out.
        let app = match &self.metrics {
            Some(_) => self.app.layer(metrics::route_layer()),
            None => self.app,
        };
        let service = ServiceBuilder::new()
            .layer(access_log::layer(access_log::Options {
                metrics: self.metrics,
                secret_paths: self.secret_paths,
                trusts_peer: self.trusts_peer,
                hsts: self.hsts,
                cors_vary: self.cors.is_some(),
            }))
            .option_layer(self.cors)
            .layer(CatchPanicLayer::custom(move |_| {
                tracing::error!("request handler panicked");
                on_panic()
            }))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                limits.handler_timeout,
            ))
            .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
            // The layers above need a body with a default (CORS's preflight, the timeout's 503).
            .map_response(|response: axum::http::Response<LimitedBody<Body>>| {
                response.map(Body::new)
            })
            .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
            .service(app);
        BoxCloneSyncService::new(ServiceExt::<Request>::map_response(service, |response| {
            response.map(Body::new)
        }))
    }
}

/// CORS for a frontend on another origin: trusted origins only, with credentials.
///
/// Better Auth leaves CORS to its host framework; Tessera is the host, so it answers preflights
/// (every `OPTIONS` request: no route answers `OPTIONS` itself) and echoes the exact trusted
/// origin, never `*`, which browsers refuse with credentials. `Access-Control-Expose-Headers`
/// is set per response by the endpoints that send `set-auth-token` / `set-auth-jwt`, as
/// Better Auth's plugins do. `trusts` sees the `Origin` exactly as sent.
///
/// The layer sends no `Vary` itself: the edge's request layer appends the same value
/// ([`access_log::CORS_VARY`]) as a constant, where tower-http builds it anew for every answer
/// (about 1,900 instructions a request, BENCHMARKS.md "The edge, merged").
pub fn cors(trusts: impl Fn(&str) -> bool + Send + Sync + 'static) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(&trusts)
        }))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .max_age(Duration::from_secs(600))
        .vary([])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{HeaderName, HeaderValue};
    use axum::routing::get;

    use super::*;

    const FRONTEND: &str = "http://localhost:5173";
    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        handler_timeout: Duration::from_secs(1),
        max_body_bytes: 1024,
        max_connections: 1,
        shutdown_drain: Duration::ZERO,
        shutdown_grace: Duration::from_secs(1),
    };

    fn teapot() -> Response {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        response
    }

    fn edge(app: Router) -> Edge {
        Edge::new(app, Some(cors(|origin| origin == FRONTEND)), teapot)
    }

    /// `method path` from the trusted frontend, through `edge`.
    async fn send(edge: Edge, method: Method, path: &str) -> Response {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ORIGIN, FRONTEND)
            .body(Body::empty())
            .unwrap();
        edge.into_service(&LIMITS).oneshot(request).await.unwrap()
    }

    fn allowed_origin(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap())
    }

    fn values(response: &Response, name: HeaderName) -> Vec<&str> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_the_panic_answer_with_cors_headers() {
        let app = Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("handler bug");
                }
                "unreachable"
            }),
        );
        let response = send(edge(app), Method::GET, "/boom").await;
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(allowed_origin(&response), Some(FRONTEND));
    }

    #[tokio::test]
    async fn a_preflight_is_answered_at_the_edge_without_reaching_the_app() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let app = Router::new().fallback(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::NOT_FOUND }
        });
        let response = send(edge(app), Method::OPTIONS, "/api/me").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(allowed_origin(&response), Some(FRONTEND));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let headers = response.headers();
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

    #[tokio::test]
    async fn without_a_cors_policy_nothing_is_granted_and_options_reaches_the_app() {
        let app = Router::new().fallback(|| async { StatusCode::METHOD_NOT_ALLOWED });
        let response = send(Edge::new(app, None, teapot), Method::OPTIONS, "/api/me").await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allowed_origin(&response), None);
        assert!(!response.headers().contains_key(header::VARY));
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_slower_than_the_limit_is_answered_503_with_cors_headers() {
        let app = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "too late"
            }),
        );
        let response = send(edge(app), Method::GET, "/slow").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(allowed_origin(&response), Some(FRONTEND));
    }

    #[tokio::test]
    async fn hsts_is_sent_only_when_asked_for_on_answers_and_preflights() {
        let app = || Router::new().route("/ok", get(|| async { "fine" }));
        let hsts = |response: &Response| {
            response
                .headers()
                .get(header::STRICT_TRANSPORT_SECURITY)
                .cloned()
        };
        let plain = send(edge(app()), Method::GET, "/ok").await;
        assert_eq!(hsts(&plain), None);
        let answer = send(edge(app()).with_hsts(), Method::GET, "/ok").await;
        assert_eq!(hsts(&answer), Some(access_log::HSTS));
        let preflight = send(edge(app()).with_hsts(), Method::OPTIONS, "/ok").await;
        assert_eq!(hsts(&preflight), Some(access_log::HSTS));
    }

    #[tokio::test]
    async fn an_answer_keeps_the_apps_vary_and_expose_headers_and_gains_cors_headers() {
        let app = Router::new().route(
            "/ok",
            get(|| async {
                (
                    [
                        (header::VARY, "accept-encoding"),
                        (header::ACCESS_CONTROL_EXPOSE_HEADERS, "set-auth-jwt"),
                    ],
                    "fine",
                )
            }),
        );
        let response = send(edge(app), Method::GET, "/ok").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(allowed_origin(&response), Some(FRONTEND));
        assert_eq!(
            values(&response, header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
            ["true"]
        );
        assert_eq!(
            values(&response, header::ACCESS_CONTROL_EXPOSE_HEADERS),
            ["set-auth-jwt"]
        );
        assert_eq!(
            values(&response, header::VARY),
            [
                "accept-encoding",
                "origin, access-control-request-method, access-control-request-headers"
            ]
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"fine");
    }

    #[tokio::test]
    async fn an_untrusted_or_missing_origin_is_never_echoed() {
        let app = || Router::new().route("/ok", get(|| async { "fine" }));
        for origin in [
            Some(HeaderValue::from_static("https://evil.example")),
            Some(HeaderValue::from_static("null")),
            Some(HeaderValue::from_bytes(b"http://localhost:5173\xff").unwrap()),
            None,
        ] {
            for method in [Method::GET, Method::OPTIONS] {
                let mut request = Request::builder().method(method).uri("/ok");
                if let Some(origin) = &origin {
                    request = request.header(header::ORIGIN, origin);
                }
                let response = edge(app())
                    .into_service(&LIMITS)
                    .oneshot(request.body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(allowed_origin(&response), None, "{origin:?}");
            }
        }
    }

    #[tokio::test]
    async fn with_metrics_a_request_is_counted_by_its_route_template_never_its_path() {
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = HttpMetrics::register(&mut registry);
        let app = Router::new().route("/users/{id}", get(|| async { "fine" }));
        let edge = edge(app).with_metrics(metrics);
        for path in ["/users/alice", "/users/bob", "/nowhere/carol"] {
            send(edge.clone(), Method::GET, path).await;
        }
        let text = metrics::render(&registry);
        assert!(
            text.contains(
                r#"tessera_http_requests_total{route="/users/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"tessera_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
            ),
            "{text}"
        );
        for name in ["alice", "bob", "carol", "nowhere"] {
            assert!(!text.contains(name), "{text}");
        }
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_413_before_the_handler() {
        let app = Router::new().route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri("/echo")
            .header(header::CONTENT_LENGTH, "2048")
            .body(Body::from(vec![b'x'; 2048]))
            .unwrap();
        let response = edge(app)
            .into_service(&LIMITS)
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(allowed_origin(&response), None);
    }
}
