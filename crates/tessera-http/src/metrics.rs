//! Per-request metrics: `tessera_http_requests_total{route,method,status}` and
//! `tessera_http_request_duration_seconds{route}`, recorded by the access-log layer
//! ([`crate::access_log`]) when the edge has them ([`crate::Edge::with_metrics`]), and the
//! scrape endpoint's answer ([`render`]).
//!
//! `route` is the template the router matched (`/api/{user_id}/tasks`, axum's
//! [`MatchedPath`]), never the path as sent: a path carries user ids, and a label per distinct
//! path would let any client grow the registry without bound. A request no route matched (a
//! 404, a preflight the edge answers, a 413 or 503 from the edge's limits) is counted under
//! [`UNMATCHED`]; a method outside the standard ones under `OTHER`. So every label takes a
//! bounded set of values fixed by the code, and none carries a client's input.
//!
//! The route is known only inside the router, the status and latency only outside it, so
//! [`route_layer`] (on the router) hands the matched template to the access-log layer in the
//! answer's extensions. Without metrics neither runs: the edge adds no layer and the access
//! log checks one `Option`. [`listener`] is the metrics listener's router both servers bind.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `route` of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Buckets of `tessera_http_request_duration_seconds`, in seconds: from a cached token check
/// (well under a millisecond) through a password hash (tens of milliseconds) to the handler
/// timeout's order (seconds).
const BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The labels of `tessera_http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// The label of `tessera_http_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

/// The per-request counter and histogram; clones share them.
#[derive(Debug, Clone)]
pub struct HttpMetrics(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabel, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    /// The two metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let inner = Inner {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
        };
        registry.register(
            "tessera_http_requests",
            "HTTP requests answered, by route template, method and status",
            inner.requests.clone(),
        );
        registry.register(
            "tessera_http_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by route template",
            inner.duration.clone(),
        );
        Self(Arc::new(inner))
    }

    /// Counts one answered request, under the route template the router matched (see
    /// [`route_of`]).
    pub(crate) fn record(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        latency: Duration,
    ) {
        let route = route.to_owned();
        self.0
            .duration
            .get_or_create(&RouteLabel {
                route: route.clone(),
            })
            .observe(latency.as_secs_f64());
        self.0
            .requests
            .get_or_create(&RequestLabels {
                route,
                method: method_label(method),
                status: status.as_u16(),
            })
            .inc();
    }
}

/// The `route` label of `response`: the template [`route_layer`] put in its extensions, or
/// [`UNMATCHED`]. Never the request's path, which carries user ids.
pub(crate) fn route_of<R>(response: &Response<R>) -> &str {
    response
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// The method as a label: the standard ones, every other `OTHER` (a client may send any
/// token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The `Content-Type` of [`render`]'s text: Prometheus' text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// `registry` in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut text = String::with_capacity(8 * 1024);
    // Writing into a `String` cannot fail; an encoder error would be a metric's own bug, and a
    // partial page is still parsable.
    if let Err(err) = prometheus_client::encoding::prometheus_text::encode(&mut text, registry) {
        tracing::error!(error = %err, "encoding metrics failed");
    }
    text
}

/// Work a scrape does before the page is rendered: gauges sampled from their source (a pool's
/// connections, a count of rows).
pub type Sample = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A metrics listener's router, for `tessera serve` and `tessera api` alike: `GET /metrics`
/// runs `sample`, then answers `registry` ([`render`], [`CONTENT_TYPE`]), `no-store`, and out
/// of the access log: scraped every few seconds, its line would drown the ones worth reading.
pub fn listener(registry: Registry, sample: Option<Sample>) -> axum::Router {
    let scrape = Arc::new(Scrape { registry, sample });
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape_page))
        .with_state(scrape)
}

/// What [`listener`] serves.
struct Scrape {
    registry: Registry,
    sample: Option<Sample>,
}

async fn scrape_page(
    axum::extract::State(scrape): axum::extract::State<Arc<Scrape>>,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse as _;
    if let Some(sample) = &scrape.sample {
        sample().await;
    }
    let mut response = render(&scrape.registry).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(crate::access_log::Quiet);
    response
}

/// The layer the edge puts on the router when it has metrics: the matched route template
/// travels back to the access-log layer in the answer's extensions.
pub(crate) fn route_layer() -> RouteLayer {
    RouteLayer
}

/// See [`route_layer`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteLayer;

impl<S> tower::Layer<S> for RouteLayer {
    type Service = Route<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Route { inner }
    }
}

/// `inner`, its answers carrying the request's [`MatchedPath`].
#[derive(Debug, Clone)]
pub(crate) struct Route<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for Route<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RouteFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        RouteFuture {
            answer: self.inner.call(request),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner answer, then the route put in its extensions (a named future: no box per
    /// request).
    pub(crate) struct RouteFuture<F> {
        #[pin]
        answer: F,
        route: Option<MatchedPath>,
    }
}

impl<F, R, E> Future for RouteFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.answer.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_outside_the_standard_ones_is_counted_as_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&custom), "OTHER");
    }

    #[test]
    fn the_text_names_the_counter_with_total_and_the_histogram_with_its_buckets() {
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry);
        metrics.record(
            UNMATCHED,
            &Method::GET,
            StatusCode::NOT_FOUND,
            Duration::from_millis(3),
        );
        let text = render(&registry);
        assert!(
            text.contains(
                r#"tessera_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"tessera_http_request_duration_seconds_bucket{route="unmatched",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE tessera_http_request_duration_seconds histogram"));
    }
}
