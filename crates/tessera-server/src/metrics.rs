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
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tessera_db::Database;
use tessera_db::metrics::PoolMetrics;
use tessera_mail::Outbox;

/// The longest a scrape waits for the outbox count; past it the last value is served (and a
/// warning logged), so a slow database slows no scrape past Prometheus' own timeout.
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(1);

/// Builds the listener's router around `registry` (already holding every other metric), after
/// adding the scrape-time gauges of `db` and `outbox`.
pub fn router(mut registry: Registry, db: Database, outbox: Outbox) -> Router {
    let pool = PoolMetrics::register(&mut registry, db);
    let pending: Gauge = Gauge::default();
    registry.register(
        "tessera_mail_outbox_pending",
        "Mails neither sent nor given up on",
        pending.clone(),
    );
    let sample: tessera_http::metrics::Sample = Arc::new(move || {
        pool.sample();
        let (outbox, pending) = (outbox.clone(), pending.clone());
        Box::pin(async move {
            match tokio::time::timeout(PENDING_TIMEOUT, outbox.pending()).await {
                Ok(Ok(count)) => {
                    pending.set(i64::try_from(count).unwrap_or(i64::MAX));
                }
                Ok(Err(err)) => tracing::warn!(error = %err, "mail outbox not counted for metrics"),
                Err(_) => tracing::warn!("mail outbox count timed out for metrics"),
            }
        })
    });
    tessera_http::metrics::listener(registry, Some(sample))
}
