//! The metrics listener of `tessera serve` (`TESSERA_METRICS_ADDR`, off by default):
//! `GET /metrics` in the Prometheus text format, on an address of its own and nowhere else,
//! so the public listener never answers it (a 404 there, like any unknown path).
//!
//! The registry is this application's own (no process-wide recorder): the edge's per-request
//! metrics ([`tessera_http::metrics`]), the auth server's ([`tessera_auth::metrics`]), the
//! tasks guard's verifications, and two gauges sampled at each scrape: the database pool's
//! connections by state and the mail outbox's pending rows (one count, bounded by
//! [`PENDING_TIMEOUT`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tessera_db::Database;
use tessera_http::access_log::Quiet;
use tessera_mail::Outbox;

/// The longest a scrape waits for the outbox count; past it the last value is served (and a
/// warning logged), so a slow database slows no scrape past Prometheus' own timeout.
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The registry and what is sampled into it at each scrape.
struct Scrape {
    registry: Registry,
    db: Database,
    outbox: Outbox,
    pool: Family<StateLabel, Gauge>,
    pending: Gauge,
}

/// Builds the listener's router around `registry` (already holding every other metric), after
/// adding the scrape-time gauges of `db` and `outbox`.
pub fn router(mut registry: Registry, db: Database, outbox: Outbox) -> Router {
    let pool = Family::<StateLabel, Gauge>::default();
    let pending = Gauge::default();
    registry.register(
        "tessera_db_pool_connections",
        "Database pool connections, by state (idle, in_use)",
        pool.clone(),
    );
    registry.register(
        "tessera_mail_outbox_pending",
        "Mails neither sent nor given up on",
        pending.clone(),
    );
    let scrape = Scrape {
        registry,
        db,
        outbox,
        pool,
        pending,
    };
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(Arc::new(scrape))
}

/// `GET /metrics`: the gauges sampled, then the whole registry as text.
async fn metrics(State(scrape): State<Arc<Scrape>>) -> Response {
    let (size, idle) = match &scrape.db {
        Database::Sqlite(pool) => (pool.size(), pool.num_idle()),
        Database::Postgres(pool) => (pool.size(), pool.num_idle()),
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    scrape
        .pool
        .get_or_create(&StateLabel { state: "idle" })
        .set(i64::from(idle));
    scrape
        .pool
        .get_or_create(&StateLabel { state: "in_use" })
        .set(i64::from(size.saturating_sub(idle)));
    match tokio::time::timeout(PENDING_TIMEOUT, scrape.outbox.pending()).await {
        Ok(Ok(pending)) => {
            scrape
                .pending
                .set(i64::try_from(pending).unwrap_or(i64::MAX));
        }
        Ok(Err(err)) => tracing::warn!(error = %err, "mail outbox not counted for metrics"),
        Err(_) => tracing::warn!("mail outbox count timed out for metrics"),
    }
    let mut response = tessera_http::metrics::render(&scrape.registry).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(tessera_http::metrics::CONTENT_TYPE),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Scraped every few seconds: its access line would drown the ones worth reading.
    response.extensions_mut().insert(Quiet);
    response
}
