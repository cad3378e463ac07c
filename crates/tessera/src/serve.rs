//! Wiring: database, auth router, tasks API, middleware, listener.

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_auth::AuthState;
use tessera_auth::clock::SystemClock;
use tessera_auth::cors::Cors;
use tessera_auth::origin::TrustedOrigins;
use tessera_auth::revocation::RedisRevocationSink;

use crate::access_log::AccessLog;
use crate::cli::{DatabaseArgs, ServeArgs, Toggle};
use crate::edge::Edge;
use crate::settings;

/// `tessera migrate`.
pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let url = settings::database_url(&args)?;
    let store = tessera_auth::store::connect(&url)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("migrating")?;
    crate::tasks::migrate(&url).await?;
    println!("migrations applied");
    Ok(())
}

/// `tessera serve`.
pub async fn run(args: ServeArgs, access_log: AccessLog) -> anyhow::Result<()> {
    let config = settings::auth_config(&args)?;
    let url = settings::database_url(&args.database)?;
    let store = tessera_auth::store::connect(&url)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("migrating")?;
    let trusted = TrustedOrigins::new(&config.base_origin, &config.trusted_origins);
    let https = config.secure_cookies();
    let counters = tessera_auth::rate_limit::counters(args.redis_url.as_deref())
        .await
        .context("connecting to Redis")?;
    let state = AuthState::with_counters(config, store, Arc::new(SystemClock), counters);
    // The tasks guard subscribes to revocations first: it hears of them before Redis does.
    let tasks =
        crate::tasks::in_process(&state, &url, args.redis_url.as_deref(), &args.tasks_caches)
            .await?;
    if let Some(redis_url) = args.redis_url.as_deref() {
        let sink = RedisRevocationSink::connect(redis_url)
            .await
            .context("connecting to Redis")?;
        state.revocations.add_sink(Arc::new(sink));
    }
    let app = Router::new()
        .merge(crate::web::router(state.clone()))
        .merge(tessera_tasks::router(tasks))
        .nest("/api/auth", tessera_auth::router(state));
    let mut app = Edge::new(app, Some(Cors::new(trusted)), panic_response, access_log);
    if https && args.hsts == Toggle::On {
        app = app.with_hsts();
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    println!("Tessera listening on http://{local}");
    crate::server::serve(listener, app, &args.connections, shutdown_signal()).await
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

/// Resolves on Ctrl-C or SIGTERM, for graceful shutdown.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
