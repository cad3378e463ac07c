//! The composition root of `tessera serve`: [`Application::build`] opens one database pool for
//! the auth server and the tasks API, builds the auth state, the tasks guard over the auth
//! server's own keys and revocations ([`tasks`]), mounts the web app ([`web`]), the tasks API
//! and the auth router behind the edge, and binds the listener. The binary calls it with the
//! settings it parsed; the whole-stack tests call it through `spawn_app()` on port 0.
//!
//! # The error map
//!
//! One error type per layer; each keeps its cause (`#[source]`, never flattened into a string)
//! and has a stable `code()`. From the bottom up:
//!
//! | Layer | Type | Meets the outside as |
//! |---|---|---|
//! | database (`tessera-db`) | `tessera_db::StoreError` | a cause of the errors above it |
//! | tokens (`tessera-jwt`) | `tessera_jwt::JwtError` | a cause; never shown to a client |
//! | guard (`tessera-guard`) | `GuardError` (per request), `ConfigError` (start-up) | 401 / 503 by the tasks API; a cause of [`tessera_api::ApiError`] |
//! | tasks API (`tessera-tasks`) | `tessera_tasks::error::ApiError` | its JSON answer (FastAPI's shape) |
//! | auth server (`tessera-auth`) | `tessera_auth::error::ApiError`; `CounterError`, `RevocationError` | its JSON answer (Better Auth's shape); causes of [`ServerError`] |
//! | mail (`tessera-mail`) | `tessera_mail::MailError` (outbox storage), `MailSettingsError` (start-up), `SendError` (one send: a code stored on the row) | logged by the worker; `MailSettingsError` a cause of [`ServerError`]; never an HTTP answer |
//! | HTTP plumbing (`tessera-http`) | `tessera_http::ListenError` (bind, serve) | a cause of the start-up errors below |
//! | `tessera api` start-up (`tessera-api`) | [`tessera_api::ApiError`] | the process's exit message |
//! | `tessera serve` start-up (this crate) | [`ServerError`] | the process's exit message |
//! | the binary (`tessera`: command line, admin commands) | `anyhow::Error` | printed with its chain of causes |
//!
//! Only the binary, at the very top, uses `anyhow`: what it prints is the chain the layers
//! kept.
#![forbid(unsafe_code)]

mod error;
pub mod health;
pub mod instances;
mod mail_audit;
pub mod metrics;
mod tasks;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;
use tessera_api::TasksSettings;
use tessera_auth::clock::Clock as _;
use tessera_auth::clock::SystemClock;
use tessera_auth::origin::TrustedOrigins;
use tessera_auth::revocation::RedisRevocationSink;
use tessera_auth::store::Store;
use tessera_auth::{AuthConfig, AuthState};
use tessera_http::{Bound, ConnectionLimits, Edge, HttpMetrics};
use tessera_mail::{MailSettings, Outbox, WorkerHandle};
use tessera_tasks::store::TaskStore;

pub use error::ServerError;

/// Everything `tessera serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address to listen on (port 0: any free port, see [`Application::local_addr`]).
    pub addr: SocketAddr,
    /// The auth server's configuration.
    pub auth: AuthConfig,
    /// The database both the auth server and the tasks API keep their tables in.
    pub database_url: String,
    /// Redis for rate-limit counters and revocations shared by every process.
    pub redis_url: Option<String>,
    /// The tasks API's caches.
    pub tasks: TasksSettings,
    /// `Strict-Transport-Security` on every answer (only honoured with an https base URL).
    pub hsts: bool,
    /// Limits on client connections.
    pub limits: ConnectionLimits,
    /// How mail is delivered (SMTP, webhook or `.eml` files).
    pub mail: MailSettings,
    /// Where `GET /metrics` is served ([`metrics`]), never on [`Self::addr`]; `None` (the
    /// default): no metrics listener, and the request path records nothing.
    pub metrics_addr: Option<SocketAddr>,
}

/// Paths whose rest is a secret, kept out of the request span and the access line: Better
/// Auth's reset link carries its token in the path (`GET /reset-password/{token}`,
/// `tessera_auth::features::password_reset`), which any log reader could otherwise use.
const SECRET_PATHS: &[&str] = &["/api/auth/reset-password/"];

/// `tessera serve`, assembled and bound: [`Self::run`] serves it.
pub struct Application {
    server: Bound,
    /// The metrics listener, when asked for.
    metrics: Option<Bound>,
    state: AuthState,
    /// Follows the other instances through Redis, while the application lives.
    _follower: Option<instances::Follower>,
    outbox: Outbox,
    /// The mail worker, when mail is delivered: shut down gracefully by [`Self::run`]; dropped
    /// otherwise, which stops it (a mail it held is taken again after its lease, by this or
    /// another instance).
    mailer: Option<WorkerHandle>,
    /// What `/readyz` answers from; told when shutdown begins.
    health: health::Health,
    /// The shutdown drain and grace together: the longest a shutdown takes.
    shutdown_bound: Duration,
}

impl Application {
    /// Opens and migrates the database, connects Redis when configured, builds every router
    /// and binds the address.
    ///
    /// # Errors
    /// A database or Redis that cannot be reached or migrated, an address that cannot be bound.
    pub async fn build(settings: ServerSettings) -> Result<Self, ServerError> {
        let config = settings.auth;
        let (db, auth_store, task_store) = open_stores(&settings.database_url).await?;
        let sqlite = settings.database_url.starts_with("sqlite:");
        let task_store = tessera_api::with_list_cache(task_store, sqlite, &settings.tasks)
            .map_err(ServerError::Tasks)?;
        let trusted = TrustedOrigins::new(&config.base_origin, &config.trusted_origins);
        let hsts = settings.hsts && config.secure_cookies();
        let redis_url = settings.redis_url.as_deref();
        let counters = tessera_auth::rate_limit::counters(redis_url)
            .await
            .map_err(ServerError::RedisCounters)?;
        let state = AuthState::with_counters(config, auth_store, Arc::new(SystemClock), counters);
        let outbox = Outbox::new(db.clone(), || SystemClock.now());
        // With a way to deliver (SMTP, a webhook, `.eml` files in development) the worker runs
        // and the endpoints that send mail are served, waking it when they commit one. Without
        // (production with neither SMTP nor webhook), no outbox is attached: those endpoints
        // answer as Better Auth's do without a sender, rather than queue mail nobody sends.
        let mailer = if settings.mail.delivers() {
            state.attach_outbox(outbox.clone());
            let worker = settings
                .mail
                .worker(outbox.clone())
                .map_err(ServerError::Mail)?;
            Some(
                worker
                    .with_hook(Arc::new(mail_audit::AuditGiveUps(state.clone())))
                    .spawn(),
            )
        } else {
            tracing::warn!(
                "mail delivery is off (neither TESSERA_SMTP_URL nor TESSERA_MAIL_WEBHOOK_URL is set): password reset and email verification are disabled"
            );
            None
        };
        // The tasks guard subscribes to revocations first: it hears of them before Redis does.
        let tasks = tasks::in_process(&state, task_store, redis_url, &settings.tasks)
            .map_err(ServerError::Tasks)?;
        let guard = tasks.guard.clone();
        if let Some(redis_url) = redis_url {
            let sink = RedisRevocationSink::connect(redis_url)
                .await
                .map_err(ServerError::RedisRevocations)?;
            state.revocations.add_sink(Arc::new(sink));
        }
        let follower = redis_url
            .map(|url| instances::follow(state.clone(), url))
            .transpose()
            .map_err(ServerError::RedisHealth)?;
        let metrics_db = db.clone();
        let health = health::Health::new(db, health_redis(redis_url).await?);
        let app = Router::new()
            .merge(health::router(health.clone()))
            .merge(web::router(state.clone()))
            .merge(tessera_tasks::router(tasks))
            .nest("/api/auth", tessera_auth::router(state.clone()));
        let cors = tessera_http::cors(move |origin| trusted.contains(origin));
        // `x-request-id` is believed from the proxies the client address is taken from.
        let proxies = state.proxies.clone();
        let mut edge = Edge::new(app, Some(cors), panic_response)
            .trusting_request_ids_from(Arc::new(move |peer| proxies.trusts(peer)))
            .with_secret_paths(SECRET_PATHS);
        if hsts {
            edge = edge.with_hsts();
        }
        let shutdown_bound = settings.limits.shutdown_drain + settings.limits.shutdown_grace;
        let metrics = match settings.metrics_addr {
            Some(addr) => {
                let mut registry = Registry::default();
                edge = edge.with_metrics(HttpMetrics::register(&mut registry));
                state.register_metrics(&mut registry);
                guard.register_metrics(&mut registry);
                let router = metrics::router(registry, metrics_db, outbox.clone());
                let edge = Edge::new(router, None, panic_response);
                Some(Bound::bind(addr, edge, settings.limits).await?)
            }
            None => None,
        };
        let server = Bound::bind(settings.addr, edge, settings.limits).await?;
        Ok(Self {
            server,
            metrics,
            state,
            _follower: follower,
            outbox,
            mailer,
            health,
            shutdown_bound,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// When the socket cannot say.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// The metrics listener's bound address, when it has one.
    ///
    /// # Errors
    /// When the socket cannot say.
    pub fn metrics_addr(&self) -> std::io::Result<Option<SocketAddr>> {
        self.metrics.as_ref().map(Bound::local_addr).transpose()
    }

    /// The auth server's state (for operator tasks and tests that inspect it).
    pub fn auth(&self) -> &AuthState {
        &self.state
    }

    /// The mail outbox (the worker delivering it, when mail is delivered, runs as long as the
    /// application).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Serves until `shutdown` resolves (SIGTERM or Ctrl-C in the binary; any future in a
    /// test), then shuts down gracefully: `/readyz` answers 503 at once and the mail worker
    /// claims nothing more; new clients are still served for the shutdown drain, then refused;
    /// the requests in flight finish within the grace, and the mail being sent within the same
    /// bound (its lease, and those of mail not begun, are given back for another instance).
    /// Audit rows need no flushing: each is written in its request's own transaction.
    /// The metrics listener, when configured, stops once the requests in flight are done (so
    /// the drain can be watched).
    ///
    /// # Errors
    /// Only when the listener itself is unusable.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Self {
            server,
            mailer,
            health,
            shutdown_bound,
            metrics,
            ..
        } = self;
        let metrics = metrics.map(|metrics| metrics.spawn("metrics"));
        let mut begun = None;
        let begin = async {
            shutdown.await;
            health.begin_shutdown();
            if let Some(mailer) = &mailer {
                mailer.stop_claiming();
            }
            begun = Some(tokio::time::Instant::now());
            tracing::info!("shutdown begun: /readyz answers 503");
        };
        let served = server.run(begin).await;
        if let Some(metrics) = metrics {
            metrics.stop().await;
        }
        // The mail in progress gets what is left of the shutdown's bound.
        let left = begun.map_or(Duration::ZERO, |at| {
            shutdown_bound.saturating_sub(at.elapsed())
        });
        if let Some(mailer) = mailer
            && let Err(err) = mailer.shut_down(left).await
        {
            tracing::error!(code = err.code(), error = %err, "mail leases not given back; taken again after they run out");
        }
        tracing::info!("shut down");
        Ok(served?)
    }
}

/// The auth and tasks stores and the mail outbox over ONE pool on `database_url`, all migrated.
async fn open_stores(
    database_url: &str,
) -> Result<(tessera_db::Database, Arc<dyn Store>, Arc<dyn TaskStore>), ServerError> {
    let db = tessera_db::connect(database_url)
        .await
        .map_err(ServerError::Connect)?;
    let auth = tessera_auth::store::open(db.clone());
    let tasks = tessera_tasks::store::open(db.clone());
    let failed = |store| move |source| ServerError::Migrate { store, source };
    auth.migrate().await.map_err(failed("auth"))?;
    tasks.migrate().await.map_err(failed("tasks"))?;
    tessera_db::migrate(&db, [tessera_mail::migrations()])
        .await
        .map_err(failed("mail"))?;
    Ok((db, auth, tasks))
}

/// The connection `/readyz` pings Redis on, when one is configured.
async fn health_redis(
    redis_url: Option<&str>,
) -> Result<Option<redis::aio::ConnectionManager>, ServerError> {
    let Some(url) = redis_url else {
        return Ok(None);
    };
    let client = redis::Client::open(url).map_err(ServerError::RedisHealth)?;
    let conn = redis::aio::ConnectionManager::new(client)
        .await
        .map_err(ServerError::RedisHealth)?;
    Ok(Some(conn))
}

/// `tessera migrate`: the auth server's, the tasks API's and the mail outbox's migrations.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn migrate(database_url: &str) -> Result<(), ServerError> {
    let (_, auth, tasks) = open_stores(database_url).await?;
    // One pool: closing it through either store closes it for both.
    drop(tasks);
    auth.close().await;
    Ok(())
}

/// A panic becomes a plain JSON 500: no message, no backtrace reaches the client.
fn panic_response() -> Response {
    let mut response = (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"message": "Internal Server Error", "code": "INTERNAL_SERVER_ERROR"})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
