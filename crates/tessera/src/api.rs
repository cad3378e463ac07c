//! `tessera api`: the tasks API as a service of its own, verifying tokens of a separate auth
//! server (Tessera or Better Auth) through its JWKS URL, or with the shared HS256 secret; and,
//! when asked (`--revocations-url`, `--redis-url`), refusing tokens of sessions that ended.

use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_auth::cors::Cors;
use tessera_auth::origin::{TrustedOrigins, origin_of};
use tessera_guard::keys::{HttpJwksFetcher, JwksCache};
use tessera_guard::{Guard, GuardBuilder};
use tessera_tasks::TasksState;

use crate::access_log::AccessLog;
use crate::cli::ApiArgs;
use crate::edge::Edge;
use crate::revocations::GuardRevocations;
use crate::settings;

/// `tessera api`.
pub async fn run(args: ApiArgs, access_log: AccessLog) -> anyhow::Result<()> {
    let (guard, issuers) = guard(&args).await?;
    let url = settings::database_url(&args.database)?;
    let store = crate::tasks::connect(&url, &args.tasks_caches).await?;
    let app: Router = tessera_tasks::router(TasksState::new(store, guard));
    // A browser frontend on the auth server's origin (the brief's :3000) calls this API (:8000)
    // cross-origin; admit it and any origin named explicitly.
    let mut origins = issuers.iter().chain(&args.cors_origins);
    let cors = origins.next().map(|first| {
        let rest: Vec<String> = origins.cloned().collect();
        Cors::new(TrustedOrigins::new(first, &rest))
    });
    let app = Edge::new(app, cors, panic_response, access_log);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    println!(
        "Tessera tasks API listening on http://{}",
        listener.local_addr()?
    );
    crate::server::serve(
        listener,
        app,
        &args.connections,
        crate::serve::shutdown_signal(),
    )
    .await
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

/// The guard the flags describe, and the issuer origins it accepts.
async fn guard(args: &ApiArgs) -> anyhow::Result<(Guard, Vec<String>)> {
    let mut issuers = args.issuer.clone();
    let mut audiences = args.audience.clone();
    let builder: GuardBuilder = match (&args.jwks_url, &args.secret) {
        (Some(url), _) => {
            // Better Auth's convention: `iss` = `aud` = the origin of its base URL, which is
            // also the origin of its JWKS URL.
            let origin = origin_of(url)
                .with_context(|| format!("--jwks-url {url:?} is not an http(s) URL"))?;
            if issuers.is_empty() {
                issuers.push(origin.clone());
            }
            if audiences.is_empty() {
                audiences.push(origin);
            }
            let fetcher = HttpJwksFetcher::builder(url)
                .allow_insecure_http(args.allow_insecure_jwks_http)
                .build()
                .context("--jwks-url")?;
            let source =
                JwksCache::new(fetcher).with_cooldown(Duration::from_secs(args.jwks_cooldown));
            if let Err(err) = source.prefetch().await {
                // Not fatal: the auth server may simply start later; requests will retry.
                tracing::warn!(error = %err, %url, "could not fetch the JWKS yet");
            }
            Guard::builder(source)
        }
        (None, Some(secret)) => {
            Guard::hs256([secret.as_bytes()]).context("--secret / BETTER_AUTH_SECRET")?
        }
        (None, None) => {
            bail!("tessera api needs --jwks-url URL (key pairs) or --secret SECRET (HS256)")
        }
    };
    let mut builder = builder
        .leeway(Duration::from_secs(args.leeway))
        .token_cache(args.tasks_caches.token_cache);
    if let Some(revocations) = GuardRevocations::remote(
        args.revocations_url.as_deref(),
        args.allow_insecure_jwks_http,
        args.redis_url.as_deref(),
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
