//! The request layer: the one optimised layer of the edge (issue 14 item 2's exception), behind
//! [`layer`]. It gives each request its id, span and access line, and each answer its
//! `x-request-id` and (over https) `Strict-Transport-Security`.
//!
//! Every request runs inside a span `request{id=… method=… path=…}` (the id from
//! [`crate::request_id::for_request`], echoed in the answer), so whatever a handler logs carries
//! its request id; when the answer leaves, one access line `http: status=… latency_us=…` is
//! logged in that span. Never the query string (it can carry tokens), never a body; headers
//! only at `debug`, and then the [`SENSITIVE`] ones printed as `Sensitive`; and a path under one of the edge's secret
//! prefixes ([`crate::Edge::with_secret_paths`], e.g. a reset link's `/reset-password/<token>`)
//! is logged with what follows the prefix replaced by [`REDACTED`]. `RUST_LOG` decides what is written:
//! `RUST_LOG=warn` or `http=off` turns the access log off.
//!
//! Why not tower-http's `TraceLayer`, which this was for a while: its access line goes through
//! tracing's formatter (field visitors, `fmt::Write`, styles even without colours, the
//! timestamp), about 8,400 instructions per request of the 30,000 the tower-http edge added
//! (callgrind, BENCHMARKS.md "tower-http edge, measured": with this layer, the batching writer
//! and the counter-based request id ([`crate::request_id::new_id`]), `/api/me` costs 77,300 instructions and 16.7–17.2 µs of
//! CPU, against 85,200 and 19.8–19.9 µs with `TraceLayer` and tracing-appender, and 55,400 and
//! 13.2–13.7 µs with the old hand-written edge, in the same targeted run). Here, when the process logs plain
//! text through the batching writer ([`crate::logging::init`] off a terminal: files, pipes,
//! journald), the line is formatted by hand — byte for byte the line tracing prints for the
//! same event in the same span (a test compares the two) — and appended to the writer
//! directly. JSON, colours, or a subscriber a test installed: the line goes through tracing.
//!
//! With metrics on ([`crate::Edge::with_metrics`]), the same place counts the request and
//! observes its latency ([`crate::metrics`]), so per-request recording lives in one layer.
//!
//! Why the request id, the header masking and HSTS live here rather than in tower-http's
//! `SetRequestIdLayer`, `PropagateRequestIdLayer`, `SetSensitiveHeadersLayer` and
//! `SetResponseHeaderLayer`, which they were: those four layers cost 5,900–7,400 instructions a
//! request (callgrind, BENCHMARKS.md "The edge, merged"; each its own future, the id stored in and read back from the request's extensions,
//! and seven header lookups on the request and seven on the answer to mark values no log reads
//! unless `debug` is on), which with the span lost the CPU targets of BENCHMARKS.md. Here the id is made or taken once and inserted once, and the headers
//! are masked only when the debug line that prints them is written.

use std::borrow::Cow;
use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header,
};
use tracing::{Instrument as _, Level, Span};

use crate::log_writer::BatchedWriter;
use crate::metrics::HttpMetrics;
use crate::request_id::{self, TrustsPeer};

/// `Strict-Transport-Security`: a year, subdomains included (no `preload`: that is a
/// commitment only the domain's owner can make).
pub const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

/// The `Vary` every answer of a server with a CORS policy carries, as tower-http's `CorsLayer`
/// would send it: the answer depends on these request headers, so no cache may serve one
/// origin's answer to another.
pub const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The headers whose values never reach a log: credentials, the tokens Better Auth's plugins
/// hand out in headers, and the URLs that can carry a link's token (`Referer` of a page opened
/// from a reset or verification link, `Location` of the redirects those links answer). A value
/// already marked sensitive (`HeaderValue::set_sensitive`) is masked too.
pub const SENSITIVE: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
    header::REFERER,
    header::LOCATION,
    HeaderName::from_static("set-auth-token"),
    HeaderName::from_static("set-auth-jwt"),
];

/// What a path under a secret prefix is logged with in place of the rest of it.
pub const REDACTED: &str = "REDACTED";

/// What the request layer does besides the span and the access line.
#[derive(Clone, Default)]
pub struct Options {
    /// Count each request and observe its latency here.
    pub metrics: Option<HttpMetrics>,
    /// A path starting with one of these is logged as that prefix followed by [`REDACTED`].
    pub secret_paths: &'static [&'static str],
    /// The peers whose `x-request-id` is believed ([`request_id::for_request`]).
    pub trusts_peer: Option<TrustsPeer>,
    /// Send [`HSTS`] on every answer.
    pub hsts: bool,
    /// Append [`CORS_VARY`] to every answer (the edge's CORS layer sends none itself).
    pub cors_vary: bool,
}

/// The request layer of the edge: the request id, the span, the debug line with the headers,
/// the access line, and what `options` add.
pub fn layer(options: Options) -> AccessLogLayer {
    AccessLogLayer { options }
}

/// See [`layer`].
#[derive(Clone)]
pub struct AccessLogLayer {
    options: Options,
}

/// `path` as it may be logged: cut after the first of `secret_paths` it starts with. (A prefix
/// check per configured prefix: nothing is allocated for any other path.)
fn loggable<'a>(path: &'a str, secret_paths: &[&str]) -> Cow<'a, str> {
    match secret_paths
        .iter()
        .find(|prefix| path.starts_with(**prefix))
    {
        Some(prefix) => Cow::Owned(format!("{prefix}{REDACTED}")),
        None => Cow::Borrowed(path),
    }
}

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            options: self.options.clone(),
        }
    }
}

/// `inner`, each request in its span and logged when answered.
#[derive(Clone)]
pub struct AccessLog<S> {
    inner: S,
    options: Options,
}

/// A header map as `Debug` prints it, the [`SENSITIVE`] values as `Sensitive`.
struct Masked<'a>(&'a HeaderMap);

impl std::fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let mut value = value.clone();
                if SENSITIVE.contains(name) {
                    value.set_sensitive(true);
                }
                (name, value)
            }))
            .finish()
    }
}

/// Where plain-text access lines go when formatted by hand; set once by [`crate::logging::init`].
static HAND_FORMATTED: OnceLock<BatchedWriter> = OnceLock::new();

/// Access lines are formatted here and appended to `writer` (the process's plain-text log).
pub(crate) fn format_by_hand_into(writer: BatchedWriter) {
    let _ = HAND_FORMATTED.set(writer);
}

impl<S, B, R> tower::Service<Request<B>> for AccessLog<S>
where
    S: tower::Service<Request<B>, Response = Response<R>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let start = Instant::now();
        let id = request_id::for_request(&request, self.options.trusts_peer.as_ref());
        let id_text = id.to_str().unwrap_or_default();
        let method = request.method().clone();
        let uri = request.uri().clone();
        let secret_paths = self.options.secret_paths;
        let span = tracing::info_span!(
            target: "request",
            "request",
            id = id_text,
            method = %method,
            path = &*loggable(uri.path(), secret_paths),
        );
        span.in_scope(|| {
            tracing::debug!(target: "http", headers = ?Masked(request.headers()), "request");
        });
        let answer = self.inner.call(request).instrument(span.clone());
        let metrics = self.options.metrics.clone();
        let hsts = self.options.hsts;
        let cors_vary = self.options.cors_vary;
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            let headers = response.headers_mut();
            if hsts {
                headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
            }
            if cors_vary {
                headers.append(header::VARY, CORS_VARY);
            }
            headers
                .entry(request_id::HEADER)
                .or_insert_with(|| id.clone());
            if let Some(metrics) = &metrics {
                metrics.record(
                    crate::metrics::route_of(&response),
                    &method,
                    response.status(),
                    start.elapsed(),
                );
            }
            if response.extensions().get::<Quiet>().is_some() {
                let latency_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                let status = response.status().as_u16();
                span.in_scope(|| tracing::debug!(target: "http", status, latency_us));
                return Ok(response);
            }
            let id = id.to_str().unwrap_or_default();
            record(
                &span,
                Fields {
                    id,
                    method: &method,
                    path: &loggable(uri.path(), secret_paths),
                    status: response.status(),
                    latency: start.elapsed(),
                },
            );
            Ok(response)
        })
    }
}

/// A response extension asking for the access line at `debug` instead of `info`: for health
/// probes, which a balancer sends every second or two and which would drown the lines worth
/// reading.
#[derive(Debug, Clone, Copy)]
pub struct Quiet;

/// What an access line says.
struct Fields<'a> {
    id: &'a str,
    method: &'a Method,
    path: &'a str,
    status: StatusCode,
    latency: Duration,
}

fn record(span: &Span, fields: Fields<'_>) {
    if !tracing::enabled!(target: "http", Level::INFO) {
        return;
    }
    let latency_us = u64::try_from(fields.latency.as_micros()).unwrap_or(u64::MAX);
    match HAND_FORMATTED.get() {
        // Only what needs no escaping (tracing prints strings with `Debug`), and only when the
        // span is on (its fields are the line's prefix).
        Some(writer) if !span.is_disabled() && plain(fields.id) && plain(fields.path) => {
            LINE.with_borrow_mut(|line| {
                line.format(SystemTime::now(), &fields, latency_us);
                writer.append(&line.bytes);
            });
        }
        _ => span.in_scope(|| {
            tracing::info!(target: "http", status = fields.status.as_u16(), latency_us);
        }),
    }
}

/// Visible ASCII that `Debug` prints as it is.
pub(crate) fn plain(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

thread_local! {
    /// This thread's line, reused from one request to the next.
    static LINE: RefCell<Line> = RefCell::new(Line::default());
}

/// A line being formatted, and the date and time (to the second) it last began with.
struct Line {
    bytes: Vec<u8>,
    second: Option<u64>,
    date_time: String,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            bytes: Vec::with_capacity(192),
            second: None,
            date_time: String::new(),
        }
    }
}

impl Line {
    fn format(&mut self, now: SystemTime, fields: &Fields<'_>, latency_us: u64) {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since_epoch.as_secs();
        if self.second != Some(second) {
            // Once a second per thread: the calendar is the slow part of a timestamp.
            self.date_time = i64::try_from(second)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            self.second = Some(second);
        }
        let mut numbers = itoa::Buffer::new();
        let bytes = &mut self.bytes;
        bytes.clear();
        bytes.extend_from_slice(self.date_time.as_bytes());
        bytes.push(b'.');
        push_micros(bytes, since_epoch.subsec_micros());
        bytes.extend_from_slice(b"Z  INFO request{id=\"");
        bytes.extend_from_slice(fields.id.as_bytes());
        bytes.extend_from_slice(b"\" method=");
        bytes.extend_from_slice(fields.method.as_str().as_bytes());
        bytes.extend_from_slice(b" path=\"");
        bytes.extend_from_slice(fields.path.as_bytes());
        bytes.extend_from_slice(b"\"}: http: status=");
        bytes.extend_from_slice(numbers.format(fields.status.as_u16()).as_bytes());
        bytes.extend_from_slice(b" latency_us=");
        bytes.extend_from_slice(numbers.format(latency_us).as_bytes());
        bytes.push(b'\n');
    }
}

/// Six digits, zero-padded.
fn push_micros(bytes: &mut Vec<u8>, micros: u32) {
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        // `rest % 10` is below 10: it always fits.
        *digit = b'0' + u8::try_from(rest % 10).unwrap_or_default();
        rest /= 10;
    }
    bytes.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CapturedLog;

    fn line(now: SystemTime, method: &Method, path: &str, status: u16, latency_us: u64) -> String {
        let mut line = Line::default();
        let fields = Fields {
            id: "0b5e62d4-1f3a-4c2e-8000-00000000002a",
            method,
            path,
            status: StatusCode::from_u16(status).unwrap(),
            latency: Duration::ZERO,
        };
        line.format(now, &fields, latency_us);
        String::from_utf8(line.bytes).unwrap()
    }

    #[test]
    fn the_line_has_the_time_to_the_microsecond_the_span_and_the_two_fields() {
        let now = UNIX_EPOCH + Duration::from_micros(1_795_530_351_000_042);
        assert_eq!(
            line(now, &Method::GET, "/api/me", 200, 12),
            "2026-11-24T14:25:51.000042Z  INFO request{id=\"0b5e62d4-1f3a-4c2e-8000-00000000002a\" \
             method=GET path=\"/api/me\"}: http: status=200 latency_us=12\n"
        );
    }

    #[test]
    fn a_new_second_gets_a_new_date_and_time() {
        let first = UNIX_EPOCH + Duration::from_micros(1_795_530_351_999_999);
        let second = first + Duration::from_micros(1);
        assert!(
            line(first, &Method::POST, "/x", 200, 1).starts_with("2026-11-24T14:25:51.999999Z")
        );
        assert!(
            line(second, &Method::POST, "/x", 200, 1).starts_with("2026-11-24T14:25:52.000000Z")
        );
    }

    #[test]
    fn a_path_under_a_secret_prefix_is_logged_without_its_rest_and_others_as_they_are() {
        let secret = &["/api/auth/reset-password/"];
        assert_eq!(
            loggable(
                "/api/auth/reset-password/s3cr3tT0ken?callbackURL=%2F",
                secret
            ),
            "/api/auth/reset-password/REDACTED"
        );
        assert_eq!(
            loggable("/api/auth/reset-password", secret),
            "/api/auth/reset-password"
        );
        assert!(matches!(
            loggable("/api/me", secret),
            Cow::Borrowed("/api/me")
        ));
        assert_eq!(
            loggable("/api/auth/reset-password/x", &[]),
            "/api/auth/reset-password/x"
        );
    }

    #[test]
    fn the_line_is_the_one_tracing_writes_for_the_same_event_in_the_same_span() {
        let captured = CapturedLog::default();
        let subscriber = crate::logging::subscriber(
            crate::LogFormat::Text,
            tracing_subscriber::EnvFilter::new("info"),
            captured.clone(),
            false,
        );
        let (method, path, status, latency_us) = (Method::DELETE, "/api/u1/tasks/7", 404, 1234);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!(
                target: "request",
                "request",
                id = "0b5e62d4-1f3a-4c2e-8000-00000000002a",
                method = %method,
                path,
            )
            .in_scope(|| tracing::info!(target: "http", status, latency_us));
        });
        let traced = captured.text();
        let ours = line(SystemTime::now(), &method, path, status, latency_us);
        // Everything after the timestamp (`2026-11-27T14:25:51.899314Z`, 27 bytes) is the same.
        assert_eq!(traced.get(27..), ours.get(27..), "{traced:?} vs {ours:?}");
    }

    #[test]
    fn only_text_debug_prints_unchanged_is_formatted_by_hand() {
        assert!(plain("/api/u1/tasks"));
        for escaped in ["/a\"b", "/a\\b", "/caf\u{e9}", "a b", ""] {
            assert_eq!(plain(escaped), escaped.is_empty(), "{escaped:?}");
        }
    }

    #[tokio::test]
    async fn a_quiet_answer_gets_no_info_access_line_and_others_do() {
        use axum::Router;
        use axum::body::Body;
        use axum::response::IntoResponse as _;
        use axum::routing::get;
        use tower::ServiceExt as _;

        let lines = CapturedLog::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::INFO)
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
            .layer(layer(Options::default()));
        for path in ["/healthz", "/api/me"] {
            let request = Request::builder().uri(path).body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let written = lines.text();
        assert!(written.contains(r#"path="/api/me""#), "{written}");
        assert!(written.contains("status=200"), "{written}");
        assert!(!written.contains("/healthz"), "{written}");
    }

    #[test]
    fn micros_are_six_digits_zero_padded() {
        for (micros, text) in [
            (0, "000000"),
            (7, "000007"),
            (123_456, "123456"),
            (999_999, "999999"),
        ] {
            let mut bytes = Vec::new();
            push_micros(&mut bytes, micros);
            assert_eq!(bytes, text.as_bytes());
        }
    }
}
