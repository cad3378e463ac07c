//! One log line per request: method, path, status, latency. Never headers, never the query
//! string (it can carry tokens), never bodies.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Logs the request after it is answered.
pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "http",
        %method,
        %path,
        status = response.status().as_u16(),
        // Whole microseconds: an integer formats in a fraction of a float's time.
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    response
}
