//! The per-request span and the access log, as tower-http's `TraceLayer` configured here.
//!
//! Every request runs inside a span `request{id=… method=… path=…}` (the id from
//! [`crate::request_id`]), so whatever a handler logs carries its request id; when the answer
//! leaves, one access line `http: status=… latency_us=…` is logged in that span. Never the
//! query string (it can carry tokens), never a body; headers only at `debug`, and then the
//! sensitive ones masked by the edge (`Sensitive`). `RUST_LOG` decides what is written:
//! `RUST_LOG=warn` or `http=off` turns the access log off.
//!
//! Measured (BENCHMARKS.md, "tower-http edge, measured"): this layer, tracing's formatter and
//! tracing-appender's per-line wake-up cost about 3–4 µs of CPU per request more than the
//! hand-formatted line into a batching writer it replaced, which loses the request-path ratio
//! targets; the optimised layer the issue allows belongs here, behind [`layer`].

use std::time::Duration;

use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnRequest, OnResponse, TraceLayer};
use tracing::Span;

use crate::request_id;

/// The trace layer of the edge.
pub type AccessLogLayer = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    RequestHeaders,
    AccessLine,
    (),
    (),
    (),
>;

/// The span, the debug line with the headers, the access line; nothing per body chunk, at the
/// end of a stream or on failure (the access line already has the status).
pub fn layer() -> AccessLogLayer {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(RequestHeaders)
        .on_response(AccessLine)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// `request{id, method, path}` at `info`.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let id = request_id::of(request);
        tracing::info_span!(
            target: "request",
            "request",
            id,
            method = %request.method(),
            path = request.uri().path(),
        )
    }
}

/// At `debug`: the request's headers, the sensitive ones masked.
#[derive(Debug, Clone, Copy)]
pub struct RequestHeaders;

impl<B> OnRequest<B> for RequestHeaders {
    fn on_request(&mut self, request: &Request<B>, _: &Span) {
        tracing::debug!(target: "http", headers = ?request.headers(), "request");
    }
}

/// The access line: status and latency, at `info`, in the request's span.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine;

/// A response extension asking for the access line at `debug` instead of `info`: for health
/// probes, which a balancer sends every second or two and which would drown the lines worth
/// reading.
#[derive(Debug, Clone, Copy)]
pub struct Quiet;

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _: &Span) {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let status = response.status().as_u16();
        if response.extensions().get::<Quiet>().is_some() {
            tracing::debug!(target: "http", status, latency_us);
        } else {
            tracing::info!(target: "http", status, latency_us);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::response::IntoResponse as _;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    /// What the subscriber writes, collected.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

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
    async fn a_quiet_answer_gets_no_info_access_line_and_others_do() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // Global, not scoped: callsites hit by tests on other threads would otherwise keep the
        // interest they cached while no subscriber was set. No other test of this crate sets one.
        tracing::subscriber::set_global_default(subscriber).unwrap();
        let app = Router::new()
            .route(
                "/healthz",
                get(|| async {
                    let mut response = "ok".into_response();
                    response.extensions_mut().insert(Quiet);
                    response
                }),
            )
            .route("/api/me", get(|| async { "me" }))
            .layer(layer());
        for path in ["/healthz", "/api/me"] {
            let request = Request::builder().uri(path).body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let written = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(written.contains(r#"path="/api/me""#), "{written}");
        assert!(written.contains("status=200"), "{written}");
        assert!(!written.contains("/healthz"), "{written}");
    }
}
