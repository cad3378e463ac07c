//! The brief's deployment as two services: the auth server (`tessera serve`'s
//! `Application`, the brief's :3000) and a separate tasks API (`tessera api`'s `Api`, :8000),
//! each on its own database and its own socket. A user signs in on one and calls the other
//! with the JWT; the API verifies it through the auth server's JWKS (or the shared secret in
//! HS256 mode) without calling it per request.
//!
//! Both run in this process but talk only over real sockets, as two processes would: the API
//! fetches the JWKS and polls the revocation feed over HTTP, or follows Redis.
//!
//! After a sign-out, the auth server's own tasks API refuses the old JWT at once (its guard
//! hears of it in process); the separate API does so within a second when it follows the
//! revocation feed or Redis, and not at all (until `exp`) when it follows neither.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_api::{Api, ApiSettings, KeySettings, TasksSettings};
use tessera_jwt::Algorithm;
use tokio::sync::oneshot;

use crate::helpers::{ORIGIN, SECRET, TestApp, limits, spawn_app_with};
use crate::metrics::{parse, value};

/// A running `tessera api`; stopped when dropped.
struct TestApi {
    url: String,
    /// The metrics listener, when the settings asked for one.
    metrics: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `tessera api`'s defaults (those of the command line) on a SQLite file of its own. With a
/// JWKS URL the auth server's origin is named as issuer and audience (the default, the JWKS
/// URL's origin, is `127.0.0.1:port`, not the configured base URL); with the shared secret
/// none is, as `tessera api --secret` runs (Tessera's HS256 tokens carry no `aud`).
async fn spawn_api(keys: KeySettings, configure: impl FnOnce(&mut ApiSettings)) -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let pinned = match keys {
        KeySettings::Jwks { .. } => vec![ORIGIN.to_owned()],
        _ => Vec::new(),
    };
    let mut settings = ApiSettings {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: format!("sqlite://{}", dir.path().join("tasks.db").display()),
        keys,
        issuers: pinned.clone(),
        audiences: pinned,
        leeway: Duration::ZERO,
        allow_insecure_http: false,
        revocations_url: None,
        redis_url: None,
        cors_origins: Vec::new(),
        tasks: TasksSettings {
            token_cache: 4096,
            list_cache_ttl: None,
        },
        limits: limits(),
        metrics_addr: None,
    };
    configure(&mut settings);
    let api = Api::build(settings).await.unwrap();
    let url = format!("http://{}", api.local_addr().unwrap());
    let metrics = api.metrics_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(api.run(async {
        let _ = stopped.await;
    }));
    TestApi {
        url,
        metrics,
        stop: Some(stop),
        _dir: dir,
    }
}

/// The auth server signing with `alg`, publishing to `redis` when given.
async fn auth_server(alg: Algorithm, redis: Option<String>) -> (TestApp, String) {
    let app = spawn_app_with(|settings| {
        settings.auth.jwt.alg = alg;
        settings.redis_url = redis;
    })
    .await;
    let url = format!("http://{}", app.addr);
    (app, url)
}

/// The auth server's JWKS, as the API is configured with it.
fn jwks(auth: &str) -> KeySettings {
    KeySettings::Jwks {
        url: format!("{auth}/api/auth/jwks"),
        cooldown: Duration::from_secs(10),
    }
}

/// Redis the tests use: `TEST_REDIS_URL`, or the local default.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Signs a new user up on the auth server; returns (session cookie, user id).
async fn sign_up(client: &reqwest::Client, auth: &str) -> (String, String) {
    let response = client
        .post(format!("{auth}/api/auth/sign-up/email"))
        .header("origin", ORIGIN)
        .json(&json!({ "name": "Ada", "email": "ada@example.com", "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("better-auth.session_token="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    (cookie, body["user"]["id"].as_str().unwrap().to_owned())
}

/// `GET /api/auth/token` with the session cookie.
async fn jwt(client: &reqwest::Client, auth: &str, cookie: &str) -> reqwest::Response {
    client
        .get(format!("{auth}/api/auth/token"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: String,
    token: &str,
) -> (StatusCode, Value) {
    let mut request = client.request(method.clone(), url).bearer_auth(token);
    if method == Method::POST {
        request = request.json(&json!({ "title": "written through the separate API" }));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// What is left after a sign-out: the JWT issued before it, the API URL it was used on, and
/// when the sign-out was answered.
struct SignedOut {
    token: String,
    tasks: String,
    at: Instant,
}

/// Sign in on the auth server, use the JWT on the API (and on the auth server's own tasks API),
/// then sign out: the auth server's own tasks API refuses the JWT from then on.
async fn sign_in_then_call_the_api(auth: &str, api: &TestApi) -> SignedOut {
    let client = client();
    let (cookie, user_id) = sign_up(&client, auth).await;
    let token: Value = jwt(&client, auth, &cookie).await.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    let (status, me) = call(&client, Method::GET, format!("{}/api/me", api.url), &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        json!({ "user_id": user_id, "email": "ada@example.com" })
    );

    let tasks = format!("{}/api/{user_id}/tasks", api.url);
    let (status, task) = call(&client, Method::POST, tasks.clone(), &token).await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let (status, list) = call(&client, Method::GET, tasks.clone(), &token).await;
    assert_eq!((status, list), (StatusCode::OK, json!([task])));

    // The auth server mounts the same API itself, verifying with its own keys in process.
    let (status, own) = call(&client, Method::GET, format!("{auth}/api/me"), &token).await;
    assert_eq!((status, own), (StatusCode::OK, me));
    let own_tasks = format!("{auth}/api/{user_id}/tasks");
    let (status, own) = call(&client, Method::GET, own_tasks.clone(), &token).await;
    assert_eq!(
        (status, own),
        (StatusCode::OK, json!([])),
        "separate databases"
    );

    let (status, body) = call(
        &client,
        Method::GET,
        format!("{}/api/someone-else/tasks", api.url),
        &token,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({ "detail": "Cannot access other user's data" })
        )
    );
    let (status, _) = call(&client, Method::GET, tasks.clone(), "not.a.jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Sign-out ends the session: no new JWT, and the JWT already issued is refused at once by
    // the auth server's own tasks API.
    let out = client
        .post(format!("{auth}/api/auth/sign-out"))
        .header("origin", ORIGIN)
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let at = Instant::now();
    assert_eq!(
        call(&client, Method::GET, own_tasks, &token).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid or expired token" })
        ),
        "the auth server refuses the signed-out session's JWT immediately"
    );
    assert_eq!(
        jwt(&client, auth, &cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    SignedOut { token, tasks, at }
}

/// Without a revocation feed or Redis the API never hears of the sign-out: the JWT keeps
/// working until its `exp` (15 minutes), as the guard's README says.
async fn still_accepted_by_the_api(out: SignedOut) {
    let (status, _) = call(&client(), Method::GET, out.tasks, &out.token).await;
    assert_eq!(status, StatusCode::OK);
}

/// Asks the API with the signed-out JWT until it is refused; fails if that takes more than a
/// second from the sign-out. (What is measured is the feed's or Redis's latency, so this
/// one test polls the wall clock.)
async fn refused_by_the_api_within_a_second(out: SignedOut) {
    let client = client();
    let deadline = out.at + Duration::from_secs(1);
    loop {
        let (status, body) = call(&client, Method::GET, out.tasks.clone(), &out.token).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body, json!({ "detail": "Invalid or expired token" }));
            return;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            Instant::now() < deadline,
            "the API still accepted the JWT a second after the sign-out"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_jwt_from_the_auth_server_is_accepted_by_the_separate_api_via_jwks() {
    let (_auth, url) = auth_server(Algorithm::EdDSA, None).await;
    let api = spawn_api(jwks(&url), |_| {}).await;
    still_accepted_by_the_api(sign_in_then_call_the_api(&url, &api).await).await;
}

#[tokio::test]
async fn after_sign_out_the_api_following_the_revocation_feed_refuses_the_old_jwt_within_a_second()
{
    let (_auth, url) = auth_server(Algorithm::EdDSA, None).await;
    let feed = format!("{url}/api/auth/revocations");
    let api = spawn_api(jwks(&url), |api| api.revocations_url = Some(feed)).await;
    refused_by_the_api_within_a_second(sign_in_then_call_the_api(&url, &api).await).await;
}

#[tokio::test]
async fn after_sign_out_the_api_following_redis_refuses_the_old_jwt_within_a_second() {
    let redis = redis_url();
    let (_auth, url) = auth_server(Algorithm::HS256, Some(redis.clone())).await;
    let api = spawn_api(KeySettings::Secret(SECRET.to_owned()), |api| {
        api.redis_url = Some(redis);
    })
    .await;
    refused_by_the_api_within_a_second(sign_in_then_call_the_api(&url, &api).await).await;
}

#[tokio::test]
async fn in_hs256_mode_the_separate_api_verifies_with_the_shared_secret() {
    let (_auth, url) = auth_server(Algorithm::HS256, None).await;
    let api = spawn_api(KeySettings::Secret(SECRET.to_owned()), |_| {}).await;
    still_accepted_by_the_api(sign_in_then_call_the_api(&url, &api).await).await;
}

#[tokio::test]
async fn the_separate_api_counts_its_requests_and_verifications_on_its_own_metrics_listener() {
    let (_auth, url) = auth_server(Algorithm::EdDSA, None).await;
    let api = spawn_api(jwks(&url), |api| {
        api.metrics_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let client = client();
    let (cookie, user_id) = sign_up(&client, &url).await;
    let token: Value = jwt(&client, &url, &cookie).await.json().await.unwrap();
    let token = token["token"].as_str().unwrap();
    let tasks = format!("{}/api/{user_id}/tasks", api.url);
    assert_eq!(
        call(&client, Method::GET, tasks.clone(), token).await.0,
        StatusCode::OK
    );
    let forged = call(&client, Method::GET, tasks, "not.a.token").await.0;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    // The public listener does not serve metrics: a 404 like any unknown path.
    let public = client
        .get(format!("{}/metrics", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);

    let metrics = api.metrics.expect("a metrics listener");
    let scraped = client
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert_eq!(
        scraped.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = scraped.text().await.unwrap();
    let samples = parse(&body);
    let route = "/api/{user_id}/tasks";
    for (name, labels, count) in [
        (
            "tessera_http_requests_total",
            vec![("route", route), ("method", "GET"), ("status", "200")],
            1.0,
        ),
        (
            "tessera_http_requests_total",
            vec![("route", route), ("method", "GET"), ("status", "401")],
            1.0,
        ),
        (
            "tessera_http_requests_total",
            vec![("route", "unmatched"), ("method", "GET"), ("status", "404")],
            1.0,
        ),
        (
            "tessera_http_request_duration_seconds_count",
            vec![("route", route)],
            2.0,
        ),
        (
            "tessera_guard_verifications_total",
            vec![("result", "valid")],
            1.0,
        ),
        (
            "tessera_guard_verifications_total",
            vec![("result", "invalid")],
            1.0,
        ),
    ] {
        assert_eq!(
            value(&samples, name, &labels),
            Some(count),
            "{name} {labels:?}\n{body}"
        );
    }
    // The pool holds a connection; whether it is back in the pool by the scrape is a race
    // (it is given back in a task of its own), so only the two states together are known.
    let pool = |state| value(&samples, "tessera_db_pool_connections", &[("state", state)]);
    let held = pool("idle")
        .zip(pool("in_use"))
        .map(|(idle, in_use)| idle + in_use);
    assert!(held.is_some_and(|held| held >= 1.0), "{body}");
    // No user id, and nothing of the auth server's: this process has none of it.
    assert!(!body.contains(&user_id), "{body}");
    assert!(!body.contains("tessera_sign_ins_total"), "{body}");
}
