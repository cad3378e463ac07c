//! Health probes for load balancers and orchestrators, on the main listener, outside
//! `/api/auth` (so no rate limit counts them) and out of the info-level access log:
//! - `GET /healthz`: the process is up and serving — 200, always;
//! - `GET /readyz`: this instance can serve auth traffic — the database answers and has every
//!   migration of this build, and Redis answers when one is configured. 200 when all hold,
//!   else 503 with `Retry-After` and a JSON body naming each check's outcome; and from the
//!   moment shutdown begins, 503 `{"status":"shutting_down"}` without checking anything, so
//!   the balancer takes the instance out while it still serves (the shutdown drain).
//!
//! Each check is bounded by [`CHECK_TIMEOUT`], so a database that hangs (a network partition, a
//! stopped host) turns into a fast 503 rather than a probe that waits out the balancer's own
//! timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redis::aio::ConnectionManager;
use serde_json::json;
use tessera_db::Database;
use tessera_http::access_log::Quiet;

/// How long one readiness check may take before it counts as failed: well under the 5 s a load
/// balancer's probe typically waits.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// What `/readyz` checks.
#[derive(Clone)]
pub struct Health {
    db: Database,
    redis: Option<ConnectionManager>,
    shutting_down: Arc<AtomicBool>,
}

impl Health {
    /// Checks on `db` (the one pool of the auth server and the tasks API) and `redis` when
    /// configured.
    pub fn new(db: Database, redis: Option<ConnectionManager>) -> Self {
        Self {
            db,
            redis,
            shutting_down: Arc::default(),
        }
    }

    /// Shutdown has begun: `/readyz` answers 503 from now on (every clone shares this).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Runs every check; `true` when all passed, with each check's outcome.
    pub async fn check(&self) -> (bool, serde_json::Value) {
        let database = bounded(self.database()).await;
        let mut checks = json!({ "database": database });
        let mut ready = database == "ok";
        if let Some(conn) = &self.redis {
            let redis = bounded(ping_redis(conn.clone())).await;
            ready &= redis == "ok";
            checks["redis"] = json!(redis);
        }
        (ready, checks)
    }

    async fn database(&self) -> &'static str {
        if self.db.ping().await.is_err() {
            return "unreachable";
        }
        let sets = [
            tessera_auth::store::migrations(),
            tessera_tasks::store::migrations(),
            tessera_mail::migrations(),
        ];
        match tessera_db::applied(&self.db, sets).await {
            Ok(true) => "ok",
            Ok(false) => "not_migrated",
            Err(_) => "unreachable",
        }
    }
}

/// `check`'s outcome, or `"timeout"` once [`CHECK_TIMEOUT`] has passed.
async fn bounded(check: impl Future<Output = &'static str>) -> &'static str {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or("timeout")
}

async fn ping_redis(mut conn: ConnectionManager) -> &'static str {
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
    if pong.is_ok() { "ok" } else { "unreachable" }
}

/// The probes' routes.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn healthz() -> Response {
    no_store(axum::Json(json!({"status": "ok"})).into_response())
}

async fn readyz(State(health): State<Health>) -> Response {
    if health.shutting_down.load(Ordering::Acquire) {
        // No Retry-After: this instance is not coming back.
        let body = json!({"status": "shutting_down"});
        return no_store((StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response());
    }
    let (ready, checks) = health.check().await;
    if ready {
        return no_store(axum::Json(json!({"status": "ok", "checks": checks})).into_response());
    }
    let body = json!({"status": "unavailable", "checks": checks});
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    no_store(response)
}

/// Probes are never cached (a proxy answering from cache would hide an outage), and their
/// access lines are at `debug` only.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(Quiet);
    response
}
