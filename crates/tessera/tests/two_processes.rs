//! The brief's deployment as two processes: `tessera serve` (the auth server, :3000 in the
//! brief) and `tessera api` (the tasks API, :8000) on separate databases. A user signs in on
//! one and calls the other with the JWT; the API verifies it through the auth server's JWKS (or
//! the shared secret in HS256 mode) without ever calling it per request.
//!
//! Each process announces its address on stdout once it listens, so the test waits for that
//! line instead of polling or sleeping.
//!
//! After a sign-out, `tessera serve`'s own tasks API refuses the old JWT at once (its guard
//! hears of it in process); `tessera api` does so within a second when it follows the auth
//! server's revocation feed or Redis, and not at all (until `exp`) when it follows neither.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "two-processes-test-secret-0123456789abcdef";

/// A running `tessera` process, killed when dropped.
struct Process {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `tessera <args>` with `env` in a fresh data directory and waits for its
/// "listening on http://…" line.
async fn start(args: &[&str], env: &[(&str, &str)]) -> Process {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(args)
        .current_dir(dir.path())
        .env("TESSERA_DATA_DIR", dir.path())
        .env("TESSERA_ENV", "development")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // Nothing from the caller's environment may change what is tested.
    for name in [
        "DATABASE_URL",
        "BETTER_AUTH_SECRET",
        "BETTER_AUTH_SECRETS",
        "BETTER_AUTH_URL",
        "BETTER_AUTH_TRUSTED_ORIGINS",
        "TESSERA_JWT_ALG",
        "TESSERA_JWKS_URL",
        "TESSERA_ADDR",
        "TESSERA_API_ADDR",
        "TESSERA_REVOCATIONS_URL",
        "REDIS_URL",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("tessera {args:?} exited before listening"));
        if let Some((_, url)) = line.split_once("listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Process {
        child,
        url,
        _dir: dir,
    }
}

/// A port that was free a moment ago (the auth server must know its own URL up front).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the auth server signing with `alg`.
async fn auth_server(alg: &str) -> Process {
    auth_server_with(alg, &[]).await
}

/// Starts the auth server signing with `alg`, with more environment.
async fn auth_server_with(alg: &str, env: &[(&str, &str)]) -> Process {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut all = vec![("BETTER_AUTH_SECRET", SECRET), ("TESSERA_JWT_ALG", alg)];
    all.extend_from_slice(env);
    start(&["serve", "--addr", &addr], &all).await
}

/// Redis the tests use: `TEST_REDIS_URL`, or the local default.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Signs a new user up on the auth server; returns (session cookie, user id).
async fn sign_up(client: &reqwest::Client, auth: &Process) -> (String, String) {
    let response = client
        .post(format!("{}/api/auth/sign-up/email", auth.url))
        .header("origin", &auth.url)
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
async fn jwt(client: &reqwest::Client, auth: &Process, cookie: &str) -> reqwest::Response {
    client
        .get(format!("{}/api/auth/token", auth.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
) -> (StatusCode, Value) {
    let mut request = client.request(method.clone(), url).bearer_auth(token);
    if method == reqwest::Method::POST {
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
async fn sign_in_then_call_the_api(auth: &Process, api: &Process) -> SignedOut {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (cookie, user_id) = sign_up(&client, auth).await;
    let token: Value = jwt(&client, auth, &cookie).await.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    let (status, me) = call(
        &client,
        reqwest::Method::GET,
        format!("{}/api/me", api.url),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        json!({ "user_id": user_id, "email": "ada@example.com" })
    );

    let tasks = format!("{}/api/{user_id}/tasks", api.url);
    let (status, task) = call(&client, reqwest::Method::POST, tasks.clone(), &token).await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let (status, list) = call(&client, reqwest::Method::GET, tasks.clone(), &token).await;
    assert_eq!((status, list), (StatusCode::OK, json!([task])));

    // `tessera serve` mounts the same API itself, verifying with its own keys in process.
    let (status, own) = call(
        &client,
        reqwest::Method::GET,
        format!("{}/api/me", auth.url),
        &token,
    )
    .await;
    assert_eq!((status, own), (StatusCode::OK, me));
    let (status, own) = call(
        &client,
        reqwest::Method::GET,
        format!("{}/api/{user_id}/tasks", auth.url),
        &token,
    )
    .await;
    assert_eq!(
        (status, own),
        (StatusCode::OK, json!([])),
        "separate databases"
    );

    let (status, body) = call(
        &client,
        reqwest::Method::GET,
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
    let (status, _) = call(&client, reqwest::Method::GET, tasks.clone(), "not.a.jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Sign-out ends the session: no new JWT, and the JWT already issued is refused at once by
    // the auth server's own tasks API.
    let out = client
        .post(format!("{}/api/auth/sign-out", auth.url))
        .header("origin", &auth.url)
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let at = Instant::now();
    let own = call(
        &client,
        reqwest::Method::GET,
        format!("{}/api/{user_id}/tasks", auth.url),
        &token,
    )
    .await;
    assert_eq!(
        own,
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid or expired token" })
        ),
        "tessera serve refuses the signed-out session's JWT immediately"
    );
    assert_eq!(
        jwt(&client, auth, &cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    SignedOut { token, tasks, at }
}

/// Without `--revocations-url` / `--redis-url` the API never hears of the sign-out: the JWT keeps
/// working until its `exp` (15 minutes), as the guard's README says.
async fn still_accepted_by_the_api(out: SignedOut) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (status, _) = call(&client, reqwest::Method::GET, out.tasks, &out.token).await;
    assert_eq!(status, StatusCode::OK);
}

/// Polls the API with the signed-out JWT until it is refused; fails if that takes more than a
/// second from the sign-out.
async fn refused_by_the_api_within_a_second(out: SignedOut) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = out.at + Duration::from_secs(1);
    loop {
        let (status, body) =
            call(&client, reqwest::Method::GET, out.tasks.clone(), &out.token).await;
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
async fn a_jwt_from_the_auth_server_process_is_accepted_by_the_separate_api_process_via_jwks() {
    let auth = auth_server("EdDSA").await;
    let jwks = format!("{}/api/auth/jwks", auth.url);
    let api = start(&["api", "--addr", "127.0.0.1:0", "--jwks-url", &jwks], &[]).await;
    still_accepted_by_the_api(sign_in_then_call_the_api(&auth, &api).await).await;
}

#[tokio::test]
async fn after_sign_out_the_api_following_the_revocation_feed_refuses_the_old_jwt_within_a_second()
{
    let auth = auth_server("EdDSA").await;
    let jwks = format!("{}/api/auth/jwks", auth.url);
    let feed = format!("{}/api/auth/revocations", auth.url);
    let api = start(
        &[
            "api",
            "--addr",
            "127.0.0.1:0",
            "--jwks-url",
            &jwks,
            "--revocations-url",
            &feed,
        ],
        &[],
    )
    .await;
    refused_by_the_api_within_a_second(sign_in_then_call_the_api(&auth, &api).await).await;
}

#[tokio::test]
async fn after_sign_out_the_api_following_redis_refuses_the_old_jwt_within_a_second() {
    let redis = redis_url();
    let auth = auth_server_with("HS256", &[("REDIS_URL", &redis)]).await;
    let api = start(
        &[
            "api",
            "--addr",
            "127.0.0.1:0",
            "--secret",
            SECRET,
            "--redis-url",
            &redis,
        ],
        &[],
    )
    .await;
    refused_by_the_api_within_a_second(sign_in_then_call_the_api(&auth, &api).await).await;
}

#[tokio::test]
async fn in_hs256_mode_the_separate_api_verifies_with_the_shared_secret() {
    let auth = auth_server("HS256").await;
    let api = start(&["api", "--addr", "127.0.0.1:0", "--secret", SECRET], &[]).await;
    still_accepted_by_the_api(sign_in_then_call_the_api(&auth, &api).await).await;
}

#[tokio::test]
async fn the_api_refuses_to_start_without_a_key_source_or_with_a_short_secret() {
    for args in [
        vec!["api", "--addr", "127.0.0.1:0"],
        vec!["api", "--addr", "127.0.0.1:0", "--secret", "short"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .env("TESSERA_DATA_DIR", dir.path())
            .env_remove("BETTER_AUTH_SECRET")
            .env_remove("TESSERA_JWKS_URL")
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{args:?} started");
    }
}
