//! `/healthz` and `/readyz` on the main listener: what a load balancer probes.

use std::time::{Duration, Instant};

use crate::helpers::{TestApp, get, pg_database, spawn_app, spawn_app_with};

/// `GET /readyz`: the status and the JSON body.
async fn readyz(app: &TestApp) -> (u16, serde_json::Value) {
    let reply = get(app, "/readyz", None).await;
    let body = serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("{}", reply.body));
    (reply.status, body)
}

async fn assert_ready_and_alive(app: &TestApp) {
    let alive = get(app, "/healthz", None).await;
    assert_eq!(alive.status, 200, "{}", alive.body);
    assert_eq!(alive.header("cache-control"), Some("no-store"));
    let (status, body) = readyz(app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn a_migrated_sqlite_database_makes_the_instance_ready() {
    let app = spawn_app().await;
    assert_ready_and_alive(&app).await;
    assert!(readyz(&app).await.1["checks"].get("redis").is_none());
}

#[tokio::test]
async fn a_migrated_postgres_database_and_a_reachable_redis_make_the_instance_ready() {
    let database = pg_database().await;
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    let app = spawn_app_with(|s| {
        s.database_url = database.url().to_owned();
        s.redis_url = Some(redis);
    })
    .await;
    assert_ready_and_alive(&app).await;
    assert_eq!(readyz(&app).await.1["checks"]["redis"], "ok");
    drop(app);
    drop(database);
}

/// The database going away: `/readyz` names it, fast; `/healthz` and Better Auth's `/ok` (which
/// checks nothing, as Better Auth's does) still answer 200.
async fn assert_a_closed_pool_is_unready(app: &TestApp) {
    app.auth.store.close().await;
    let started = Instant::now();
    let (status, body) = readyz(app).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "unreachable");
    let reply = get(app, "/readyz", None).await;
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(get(app, "/healthz", None).await.status, 200);
    assert_eq!(get(app, "/api/auth/ok", None).await.status, 200);
}

#[tokio::test]
async fn a_closed_sqlite_pool_makes_readyz_answer_503_naming_the_database() {
    let app = spawn_app().await;
    assert_a_closed_pool_is_unready(&app).await;
}

#[tokio::test]
async fn a_closed_postgres_pool_makes_readyz_answer_503_naming_the_database() {
    let database = pg_database().await;
    let app = spawn_app_with(|s| s.database_url = database.url().to_owned()).await;
    assert_a_closed_pool_is_unready(&app).await;
    drop(app);
    drop(database);
}

#[tokio::test]
async fn probes_are_never_rate_limited() {
    let app = spawn_app().await;
    // Better Auth's default rule allows 100 requests per 10 s from one address.
    for _ in 0..120 {
        assert_eq!(get(&app, "/healthz", None).await.status, 200);
    }
    assert_eq!(readyz(&app).await.0, 200);
}
