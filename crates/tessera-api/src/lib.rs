//! `tessera api`: the tasks API as a service of its own, verifying tokens of a separate auth
//! server (Tessera or Better Auth) through its JWKS URL, or with the shared HS256 secret; and,
//! when asked (`--revocations-url`, `--redis-url`), refusing tokens of sessions that ended.
//!
//! Nothing here knows the auth server's code: `cargo tree -p tessera-api` shows no
//! `tessera-auth`. `tessera serve` reuses the tasks half ([`tasks_store`], [`TasksSettings`],
//! [`GuardRevocations`]) with a guard over its own keys.
//!
//! Errors: [`ApiError`], one type for start-up and serving (the error map is in
//! tessera-server's crate documentation).
#![forbid(unsafe_code)]

mod error;
mod revocations;
mod tasks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;
use tessera_db::metrics::PoolMetrics;
use tessera_guard::keys::{HttpJwksFetcher, JwksCache};
use tessera_guard::{Guard, GuardBuilder};
use tessera_http::metrics::{HttpMetrics, Sample};
use tessera_http::{Bound, ConnectionLimits, Edge, origin_matches, origin_of};
use tessera_tasks::TasksState;

pub use error::ApiError;
pub use revocations::GuardRevocations;
pub use tasks::{TasksSettings, tasks_store, with_list_cache};

/// Where `tessera api` takes its keys from.
#[derive(Clone)]
pub enum KeySettings {
    /// The auth server's JWKS URL (EdDSA, ES256, RS256), refetched at most every `cooldown`.
    Jwks {
        /// e.g. `http://127.0.0.1:3000/api/auth/jwks`.
        url: String,
        /// Least time between two fetches.
        cooldown: Duration,
    },
    /// The shared secret, for HS256 tokens.
    Secret(String),
    /// Neither was configured: start-up refuses, saying what is missing.
    Missing,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks { url, cooldown } => f
                .debug_struct("Jwks")
                .field("url", url)
                .field("cooldown", cooldown)
                .finish(),
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
            Self::Missing => f.write_str("Missing"),
        }
    }
}

/// Everything `tessera api` is configured with.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Address to listen on (port 0: any free port, see [`Api::local_addr`]).
    pub addr: SocketAddr,
    /// The tasks database.
    pub database_url: String,
    /// The verifying keys.
    pub keys: KeySettings,
    /// Accepted `iss` values. Empty with a JWKS URL: its origin.
    pub issuers: Vec<String>,
    /// Accepted `aud` values. Empty with a JWKS URL: its origin.
    pub audiences: Vec<String>,
    /// Clock-skew leeway for `exp` / `nbf`.
    pub leeway: Duration,
    /// Allow plain-http JWKS and feed URLs to non-loopback hosts.
    pub allow_insecure_http: bool,
    /// The auth server's revocation feed, polled.
    pub revocations_url: Option<String>,
    /// The Redis revocations are published to.
    pub redis_url: Option<String>,
    /// Browser origins allowed besides the issuers (wildcards as in trusted origins).
    pub cors_origins: Vec<String>,
    /// The tasks API's caches.
    pub tasks: TasksSettings,
    /// Limits on client connections.
    pub limits: ConnectionLimits,
    /// Where `GET /metrics` is served, never on [`Self::addr`]; `None`: no metrics listener,
    /// and the request path records nothing.
    pub metrics_addr: Option<SocketAddr>,
}

/// The resource server, bound and ready to [`run`](Self::run).
pub struct Api {
    server: Bound,
    /// The metrics listener, when asked for.
    metrics: Option<Bound>,
}

impl Api {
    /// Builds the guard, opens and migrates the tasks store, binds the address.
    ///
    /// # Errors
    /// A missing or unusable key source, a database or Redis that cannot be reached, an
    /// address that cannot be bound.
    pub async fn build(settings: ApiSettings) -> Result<Self, ApiError> {
        let (guard, issuers) = guard(&settings).await?;
        let (db, store) = tasks_store(&settings.database_url, &settings.tasks).await?;
        let app: Router = tessera_tasks::router(TasksState::new(store, guard.clone()));
        // A browser frontend on the auth server's origin (the brief's :3000) calls this API
        // (:8000) cross-origin; admit it and any origin named explicitly.
        let origins: Vec<String> = issuers
            .iter()
            .chain(&settings.cors_origins)
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let cors = (!origins.is_empty()).then(|| {
            tessera_http::cors(move |origin| origins.iter().any(|p| origin_matches(p, origin)))
        });
        let mut edge = Edge::new(app, cors, panic_response);
        // As `tessera serve`'s listener (tessera-server's `metrics.rs`), without the auth
        // server's metrics and the mail outbox, which this process has not.
        let metrics = match settings.metrics_addr {
            Some(addr) => {
                let mut registry = Registry::default();
                edge = edge.with_metrics(HttpMetrics::register(&mut registry));
                guard.register_metrics(&mut registry);
                let pool = PoolMetrics::register(&mut registry, db);
                let sample: Sample = Arc::new(move || {
                    pool.sample();
                    Box::pin(async {})
                });
                let router = tessera_http::metrics::listener(registry, Some(sample));
                let edge = Edge::new(router, None, panic_response);
                Some(Bound::bind(addr, edge, settings.limits).await?)
            }
            None => None,
        };
        let server = Bound::bind(settings.addr, edge, settings.limits).await?;
        Ok(Self { server, metrics })
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

    /// Serves until `shutdown` resolves, then finishes the requests in flight; the metrics
    /// listener, when configured, stops after them.
    ///
    /// # Errors
    /// Only when the listener itself is unusable.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ApiError> {
        let metrics = self.metrics.map(|metrics| metrics.spawn("metrics"));
        let served = self.server.run(shutdown).await;
        if let Some(metrics) = metrics {
            metrics.stop().await;
        }
        Ok(served?)
    }
}

/// A panic becomes a FastAPI-shaped 500: no message, no backtrace reaches the client.
fn panic_response() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "detail": "Internal Server Error" })),
    )
        .into_response()
}

/// The guard the settings describe, and the issuer origins it accepts.
async fn guard(settings: &ApiSettings) -> Result<(Guard, Vec<String>), ApiError> {
    let mut issuers = settings.issuers.clone();
    let mut audiences = settings.audiences.clone();
    let builder: GuardBuilder = match &settings.keys {
        KeySettings::Jwks { url, cooldown } => {
            // Better Auth's convention: `iss` = `aud` = the origin of its base URL, which is
            // also the origin of its JWKS URL.
            let origin =
                origin_of(url).ok_or_else(|| ApiError::JwksUrlNotHttp { url: url.clone() })?;
            if issuers.is_empty() {
                issuers.push(origin.clone());
            }
            if audiences.is_empty() {
                audiences.push(origin);
            }
            let fetcher = HttpJwksFetcher::builder(url)
                .allow_insecure_http(settings.allow_insecure_http)
                .build()
                .map_err(|source| ApiError::Guard {
                    setting: "--jwks-url",
                    source,
                })?;
            let source = JwksCache::new(fetcher).with_cooldown(*cooldown);
            if let Err(err) = source.prefetch().await {
                // Not fatal: the auth server may simply start later; requests will retry.
                tracing::warn!(error = %err, %url, "could not fetch the JWKS yet");
            }
            Guard::builder(source)
        }
        KeySettings::Secret(secret) => {
            Guard::hs256([secret.as_bytes()]).map_err(|source| ApiError::Guard {
                setting: "--secret / BETTER_AUTH_SECRET",
                source,
            })?
        }
        KeySettings::Missing => return Err(ApiError::NoKeySource),
    };
    let mut builder = builder
        .leeway(settings.leeway)
        .token_cache(settings.tasks.token_cache);
    if let Some(revocations) = GuardRevocations::remote(
        settings.revocations_url.as_deref(),
        settings.allow_insecure_http,
        settings.redis_url.as_deref(),
    )
    .await?
    {
        builder = builder.revocations(revocations);
    }
    for issuer in &issuers {
        builder = builder.issuer(issuer.clone());
    }
    for audience in audiences {
        builder = builder.audience(audience);
    }
    Ok((builder.build(), issuers))
}
