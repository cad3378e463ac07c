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

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _: &Span) {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        tracing::info!(target: "http", status = response.status().as_u16(), latency_us);
    }
}
