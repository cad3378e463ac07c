use std::sync::Arc;

use chrono::Duration;
use reqwest::Method;
use serde_json::json;
use tessera_auth::rate_limit::{
    CounterError, CounterStore, Decision, FallbackCounters, RedisCounters, Slot, TrustedProxies,
};

use crate::helpers::*;

/// Trust the test client (127.0.0.1) as a proxy so `X-Forwarded-For` can stand for many clients.
pub(crate) fn behind_local_proxy(config: &mut tessera_auth::AuthConfig, rate_limit: bool) {
    config.rate_limit = rate_limit;
    config.trusted_proxies = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
}

pub(crate) async fn sign_in_from(app: &TestApp, client: &str, email: &str, password: &str) -> Resp {
    let body = json!({"email": email, "password": password});
    post_from(app, client, "/sign-in/email", body).await
}

/// `POST path` with `body` from `client` (behind the local proxy).
async fn post_from(app: &TestApp, client: &str, path: &str, body: serde_json::Value) -> Resp {
    let client = [("x-forwarded-for", client)];
    app.send(Method::POST, path, Some(body), None, &client)
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

/// Better Auth's rule for the paths that send mail: 3 requests per 60 s per client, so one
/// client cannot make the server mail many addresses quickly (the per-recipient limit protects
/// each inbox; this one the sender's reputation). The counters are in memory: one backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fourth_reset_request_in_a_minute_is_429_until_the_minute_has_passed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| behind_local_proxy(c, true)).await;
    let request = |email: &'static str| {
        app.send(
            Method::POST,
            "/request-password-reset",
            Some(json!({"email": email})),
            None,
            &[("x-forwarded-for", "203.0.113.9")],
        )
    };
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(request(email).await.status, 200, "{email}");
    }
    let limited = request("d@example.com").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("60"));
    app.clock.advance(Duration::seconds(61));
    assert_eq!(request("d@example.com").await.status, 200);
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

/// A counter store that is down: every call fails, as an unreachable Redis makes it.
struct DownCounters;

#[async_trait::async_trait]
impl CounterStore for DownCounters {
    async fn hit(&self, _: &str, _: u64, _: u64, _: u64) -> Result<Decision, CounterError> {
        Err(CounterError("connection refused".into()))
    }
    async fn incr(&self, _: &str, _: u64, _: u64) -> Result<u64, CounterError> {
        Err(CounterError("connection refused".into()))
    }
    async fn reserve(&self, _: &[Slot<'_>], _: u64) -> Result<Decision, CounterError> {
        Err(CounterError("connection refused".into()))
    }
    async fn release(&self, _: &str, _: u64) -> Result<(), CounterError> {
        Err(CounterError("connection refused".into()))
    }
    async fn peek(&self, _: &str, _: u64) -> Result<(u64, u64), CounterError> {
        Err(CounterError("connection refused".into()))
    }
    async fn reset(&self, _: &str) -> Result<(), CounterError> {
        Err(CounterError("connection refused".into()))
    }
}

/// The counters `rate_limit::counters` builds for a Redis URL, over a shared store that is down.
fn with_redis_down() -> Arc<FallbackCounters> {
    Arc::new(FallbackCounters::new(Arc::new(DownCounters)))
}

/// The `n`-th sign-up of a test (its own email), from `client`.
async fn sign_up_from(app: &TestApp, client: &str, n: usize) -> Resp {
    let body = json!({"name": "N", "email": format!("n{n}@example.com"), "password": PASSWORD});
    post_from(app, client, "/sign-up/email", body).await
}

async fn with_the_shared_counters_down_request_limits_hold_in_the_process(backend: Backend) {
    let app =
        TestApp::spawn_with_counters(backend, with_redis_down(), |c| behind_local_proxy(c, true))
            .await;
    for n in 0..3 {
        let resp = sign_up_from(&app, "203.0.113.70", n).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
    }
    let limited = sign_up_from(&app, "203.0.113.70", 3).await;
    assert_eq!(limited.status, 429, "the fourth sign-up in ten seconds");
    assert_eq!(limited.header("retry-after"), Some("10"));
    assert_eq!(sign_up_from(&app, "198.51.100.70", 4).await.status, 200);
    app.clock.advance(Duration::seconds(11));
    assert_eq!(sign_up_from(&app, "203.0.113.70", 5).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits_hold_locally_while_redis_is_down_on_sqlite() {
    with_the_shared_counters_down_request_limits_hold_in_the_process(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits_hold_locally_while_redis_is_down_on_postgres() {
    with_the_shared_counters_down_request_limits_hold_in_the_process(Backend::Postgres).await;
}

async fn with_the_shared_counters_down_the_throttle_counts_in_the_process(backend: Backend) {
    let app =
        TestApp::spawn_with_counters(backend, with_redis_down(), |c| behind_local_proxy(c, false))
            .await;
    let user = app.sign_up().await;
    for _ in 0..10 {
        let resp = sign_in_from(&app, "203.0.113.71", &user.email, "wrong password").await;
        assert_eq!(resp.status, 401, "{}", resp.text);
    }
    let locked = sign_in_from(&app, "203.0.113.71", &user.email, PASSWORD).await;
    assert_eq!(
        locked.status, 429,
        "the eleventh, even right, waits out the hour"
    );
    assert!(locked.set_cookies().is_empty());
    let owner = sign_in_from(&app, "192.0.2.71", &user.email, PASSWORD).await;
    assert_eq!(
        owner.status, 200,
        "the user signs in without Redis: {}",
        owner.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_counts_locally_while_redis_is_down_on_sqlite() {
    with_the_shared_counters_down_the_throttle_counts_in_the_process(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_counts_locally_while_redis_is_down_on_postgres() {
    with_the_shared_counters_down_the_throttle_counts_in_the_process(Backend::Postgres).await;
}

/// A store that fails without a fallback (not one `rate_limit::counters` builds) still never
/// lets a password check through unbounded: every sign-in is refused before the password is
/// looked at, and no session is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_without_fallback_refuses_every_sign_in() {
    let app = TestApp::spawn_with_counters(Backend::Sqlite, Arc::new(DownCounters), |c| {
        c.rate_limit = true;
    })
    .await;
    let user = app.sign_up().await;
    for attempt in 0..12 {
        let password = if attempt % 2 == 0 {
            PASSWORD
        } else {
            "wrong password"
        };
        let resp = app
            .post(
                "/sign-in/email",
                json!({"email": user.email, "password": password}),
            )
            .await;
        assert_eq!(resp.status, 429, "attempt {attempt}: {}", resp.text);
        assert_eq!(resp.header("retry-after"), Some("5"));
        assert!(resp.set_cookies().is_empty(), "{:?}", resp.set_cookies());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_redis_stops_answering_the_limits_are_counted_in_the_process() {
    // The real Redis behind a relay the test cuts: the counters were working, then vanish.
    let url = url::Url::parse(&redis_url()).unwrap();
    let target = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(6379)))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = CuttableProxy::start(target).await;
    let mut relayed = url.clone();
    relayed
        .set_host(Some(&proxy.addr.ip().to_string()))
        .unwrap();
    relayed.set_port(Some(proxy.addr.port())).unwrap();
    let counters = tessera_auth::rate_limit::counters(Some(relayed.as_str()))
        .await
        .unwrap_or_else(|e| panic!("Redis is not answering at {url} ({e}); run scripts/test.sh"));
    let app = TestApp::spawn_with_counters(Backend::Sqlite, counters, |c| {
        behind_local_proxy(c, true);
    })
    .await;
    let user = app.sign_up().await;
    app.sign_in(&user.email, PASSWORD).await;
    proxy.cut();
    let resp = sign_in_from(&app, "192.0.2.72", &user.email, PASSWORD).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    // A client address of its own per run: Redis kept earlier runs' counts, not this process.
    let client = format!("2001:db8:{:x}::2", rand_u16());
    for n in 0..3 {
        assert_eq!(sign_up_from(&app, &client, n).await.status, 200);
    }
    assert_eq!(sign_up_from(&app, &client, 3).await.status, 429);
}
