//! The edge: what every request meets before routing, as one service around the router — a
//! panic turned into a plain 500, CORS, HSTS when served over https, the handler timeout, and
//! one access log line ([`AccessLog`]).
//!
//! One service rather than a stack of tower layers: hyper clones the service for every request
//! and each layer adds a clone, a boxed future and a poll, which on a cached route is a good
//! part of what a request costs. Here a request costs a few `Arc` clones and one box.
//!
//! Unlike the layers it replaces, a panicking request's 500 also carries the CORS headers and
//! gets its access line, so a browser frontend can read the (generic) error.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tower::Service;
use tower_http::timeout::TimeoutLayer;

use crate::access_log::AccessLog;
use crate::cors::Cors;

/// `Strict-Transport-Security`: a year, subdomains included (no `preload`: that is a
/// commitment only the domain's owner can make).
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

/// The service in front of the router: panics, CORS, HSTS, the handler timeout, the access log.
#[derive(Clone)]
pub struct Edge {
    app: Router,
    cors: Option<Cors>,
    on_panic: fn() -> Response,
    access_log: AccessLog,
    hsts: bool,
    unlogged: &'static [&'static str],
}

impl Edge {
    /// `app` behind the edge; `cors` when browsers on other origins may call it; `on_panic`
    /// answers a request whose handler panicked (no message, no backtrace: they stay in the
    /// log); every answer is logged to `access_log`.
    pub fn new(
        app: Router,
        cors: Option<Cors>,
        on_panic: fn() -> Response,
        access_log: AccessLog,
    ) -> Self {
        Self {
            app,
            cors,
            on_panic,
            access_log,
            hsts: false,
            unlogged: &[],
        }
    }

    /// Keeps requests to `paths` out of the access log (health probes: a balancer's probe every
    /// second or two would drown the lines worth reading). They still reach the app as any other.
    pub fn unlogged(mut self, paths: &'static [&'static str]) -> Self {
        self.unlogged = paths;
        self
    }

    /// Sends `Strict-Transport-Security` on every answer, for a server whose public URL is
    /// https: browsers then refuse plain http to it, so no cookie or token crosses in clear.
    pub fn with_hsts(mut self) -> Self {
        self.hsts = true;
        self
    }

    /// Answers 503 to a request not answered within `limit` (reading its body included), so a
    /// stuck handler or a client trickling its body cannot hold the request forever. The
    /// answer still gets CORS headers and its access line. [`crate::server::serve`] applies it.
    pub fn time_limited(mut self, limit: Duration) -> Self {
        self.app = self.app.layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limit,
        ));
        self
    }
}

impl Service<Request> for Edge {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let cors = self.cors.clone();
        let origin = cors
            .as_ref()
            .and_then(|_| request.headers().get(header::ORIGIN).cloned());
        if let Some(cors) = &cors
            && Cors::is_preflight(&request)
        {
            let mut response = cors.preflight(origin.as_ref());
            if self.hsts {
                response
                    .headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
            }
            let latency = started.elapsed();
            self.access_log
                .record(&method, &path, response.status(), latency);
            return Box::pin(std::future::ready(Ok(response)));
        }
        let on_panic = self.on_panic;
        let hsts = self.hsts;
        let access_log = (!self.unlogged.contains(&path.as_str())).then(|| self.access_log.clone());
        // Routing alone should not panic, and handlers run when the future is polled; both are
        // caught all the same, so no panic ever reaches hyper (which would drop the connection).
        let routed = catch_unwind(AssertUnwindSafe(|| self.app.call(request)));
        Box::pin(async move {
            let mut response = match routed {
                Ok(future) => {
                    let mut future = pin!(future);
                    poll_fn(|cx| {
                        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                            Ok(Poll::Pending) => Poll::Pending,
                            Ok(Poll::Ready(Ok(response))) => Poll::Ready(response),
                            Ok(Poll::Ready(Err(never))) => match never {},
                            Err(_) => Poll::Ready(panicked(on_panic)),
                        }
                    })
                    .await
                }
                Err(_) => panicked(on_panic),
            };
            if let Some(cors) = &cors {
                cors.decorate(origin.as_ref(), &mut response);
            }
            if hsts {
                response
                    .headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
            }
            if let Some(access_log) = access_log {
                access_log.record(&method, &path, response.status(), started.elapsed());
            }
            Ok(response)
        })
    }
}

fn panicked(on_panic: fn() -> Response) -> Response {
    tracing::error!("request handler panicked");
    on_panic()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use axum::http::{Method, StatusCode};

    use super::*;

    const FRONTEND: &str = "http://localhost:5173";

    fn teapot() -> Response {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        response
    }

    fn edge(app: Router) -> Edge {
        let cors = Cors::new(|origin| origin == FRONTEND);
        Edge::new(app, Some(cors), teapot, AccessLog::Tracing)
    }

    /// Lines the access log writes, collected.
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn unlogged_paths_are_answered_but_left_out_of_the_access_log() {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let lines = Lines::default();
        let (writer, flush) = crate::log_writer::spawn(lines.clone()).unwrap();
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/api/me", get(|| async { "me" }));
        let edge = Edge::new(app, None, teapot, AccessLog::Batched(writer)).unlogged(&["/healthz"]);
        assert_eq!(
            send(edge.clone(), Method::GET, "/healthz").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            send(edge, Method::GET, "/api/me").await.status(),
            StatusCode::OK
        );
        drop(flush);
        let written = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(written.contains("path=/api/me"), "{written}");
        assert!(!written.contains("/healthz"), "{written}");
    }

    /// `method path` from the trusted frontend, through `edge`.
    async fn send(edge: Edge, method: Method, path: &str) -> Response {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ORIGIN, FRONTEND)
            .body(Body::empty())
            .unwrap();
        edge.oneshot(request).await.unwrap()
    }

    fn allowed_origin(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap())
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
    }

    #[tokio::test]
    async fn without_a_cors_policy_nothing_is_granted_and_options_reaches_the_app() {
        let app = Router::new().fallback(|| async { StatusCode::METHOD_NOT_ALLOWED });
        let response = send(
            Edge::new(app, None, teapot, AccessLog::Tracing),
            Method::OPTIONS,
            "/api/me",
        )
        .await;
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
        let limited = edge(app).time_limited(Duration::from_secs(1));
        let response = send(limited, Method::GET, "/slow").await;
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
        assert_eq!(hsts(&answer), Some(HSTS));
        let preflight = send(edge(app()).with_hsts(), Method::OPTIONS, "/ok").await;
        assert_eq!(hsts(&preflight), Some(HSTS));
    }

    #[tokio::test]
    async fn an_answer_passes_through_with_cors_headers_added() {
        let app = Router::new().route("/ok", get(|| async { "fine" }));
        let response = send(edge(app), Method::GET, "/ok").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(allowed_origin(&response), Some(FRONTEND));
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true"
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"fine");
    }
}
