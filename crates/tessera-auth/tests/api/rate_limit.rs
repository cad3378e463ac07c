use std::sync::Arc;

use chrono::Duration;
use reqwest::Method;
use serde_json::json;
use tessera_auth::rate_limit::{RedisCounters, TrustedProxies};

use crate::helpers::*;

/// Trust the test client (127.0.0.1) as a proxy so `X-Forwarded-For` can stand for many clients.
pub(crate) fn behind_local_proxy(config: &mut tessera_auth::AuthConfig, rate_limit: bool) {
    config.rate_limit = rate_limit;
    config.trusted_proxies = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
}

pub(crate) async fn sign_in_from(app: &TestApp, client: &str, email: &str, password: &str) -> Resp {
    let body = json!({"email": email, "password": password});
    app.send(
        Method::POST,
        "/sign-in/email",
        Some(body),
        None,
        &[("x-forwarded-for", client)],
    )
    .await
}

async fn the_fourth_sign_in_in_ten_seconds_is_429_with_retry_headers(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| behind_local_proxy(c, true)).await;
    for _ in 0..3 {
        let resp = sign_in_from(&app, "203.0.113.7", "x@example.com", "wrong password").await;
        assert_eq!(resp.status, 401);
    }
    let limited = sign_in_from(&app, "203.0.113.7", "x@example.com", "wrong password").await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.body,
        json!({"message": "Too many requests. Please try again later."})
    );
    assert_eq!(limited.header("x-retry-after"), Some("10"));
    assert_eq!(limited.header("retry-after"), Some("10"));
    let elsewhere = sign_in_from(&app, "198.51.100.1", "x@example.com", "wrong password").await;
    assert_eq!(elsewhere.status, 401, "another client has its own bucket");
    app.clock.advance(Duration::seconds(11));
    let later = sign_in_from(&app, "203.0.113.7", "x@example.com", "wrong password").await;
    assert_eq!(later.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rate_limits_on_sqlite() {
    the_fourth_sign_in_in_ten_seconds_is_429_with_retry_headers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rate_limits_on_postgres() {
    the_fourth_sign_in_in_ten_seconds_is_429_with_retry_headers(Backend::Postgres).await;
}

async fn failed_sign_ins_lock_out_the_guessing_address_not_the_user(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| behind_local_proxy(c, false)).await;
    let user = app.sign_up().await;
    for _ in 0..10 {
        let resp = sign_in_from(&app, "203.0.113.66", &user.email, "guess guess guess").await;
        assert_eq!(resp.status, 401);
    }
    let locked = sign_in_from(&app, "203.0.113.66", &user.email, PASSWORD).await;
    assert_eq!(
        locked.status, 429,
        "even the right password waits out the hour"
    );
    assert!(locked.header("retry-after").is_some());
    let owner = sign_in_from(&app, "192.0.2.10", &user.email, PASSWORD).await;
    assert_eq!(
        owner.status, 200,
        "the real user elsewhere is not locked out"
    );
    app.clock.advance(Duration::hours(1));
    let after = sign_in_from(&app, "203.0.113.66", &user.email, PASSWORD).await;
    assert_eq!(after.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_throttle_on_sqlite() {
    failed_sign_ins_lock_out_the_guessing_address_not_the_user(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_throttle_on_postgres() {
    failed_sign_ins_lock_out_the_guessing_address_not_the_user(Backend::Postgres).await;
}

/// Redis the tests use: `TEST_REDIS_URL`, or the local default.
pub(crate) fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_share_one_limit() {
    let url = redis_url();
    let counters = |url: String| async move {
        Arc::new(RedisCounters::connect(&url).await.unwrap_or_else(|e| {
            panic!("Redis is not answering at {url} ({e}); run scripts/test.sh, which starts one")
        }))
    };
    let a = TestApp::spawn_with_counters(Backend::Sqlite, counters(url.clone()).await, |c| {
        behind_local_proxy(c, true)
    })
    .await;
    let b = TestApp::spawn_with_counters(Backend::Sqlite, counters(url).await, |c| {
        behind_local_proxy(c, true)
    })
    .await;
    // A client address of its own per run, so earlier runs' counters cannot interfere.
    let client = format!("2001:db8:{:x}::1", rand_u16());
    for app in [&a, &b, &a] {
        assert_eq!(
            sign_in_from(app, &client, "r@example.com", "wrong password")
                .await
                .status,
            401
        );
    }
    let limited = sign_in_from(&b, &client, "r@example.com", "wrong password").await;
    assert_eq!(
        limited.status, 429,
        "the other process saw the same three attempts"
    );
}

fn rand_u16() -> u16 {
    let id = tessera_auth::ids::generate_id(4);
    id.bytes().fold(0u16, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u16::from(b))
    })
}
