//! The remote JWKS cache against a real HTTP server on 127.0.0.1:0, counting its requests.
//! Time is a manual clock: cooldowns and max-ages are crossed by moving it, never by sleeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tessera_guard::keys::{HttpJwksFetcher, KeySource, RemoteJwks};
use tessera_guard::tessera_jwt::{Algorithm, JwkSet, SigningKey};
use tessera_guard::{Guard, GuardError, ManualClock};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinSet;

use crate::helpers::*;

/// What the JWKS endpoint answers right now.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    cache_control: Option<String>,
    body: String,
}

/// A JWKS server whose answer the test changes, counting the requests it gets.
struct JwksServer {
    base: String,
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start() -> Self {
        let answer = Arc::new(Mutex::new(Answer {
            status: StatusCode::OK,
            cache_control: None,
            body: r#"{"keys":[]}"#.into(),
        }));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, h) = (Arc::clone(&answer), Arc::clone(&hits));
        let router = Router::new()
            .route(
                "/api/auth/jwks",
                get(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                    let answer = a.lock().unwrap().clone();
                    async move { respond(answer) }
                }),
            )
            .route(
                "/moved",
                get(|| async { Redirect::temporary("/api/auth/jwks") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            base,
            answer,
            hits,
            task,
        }
    }

    fn url(&self) -> String {
        format!("{}/api/auth/jwks", self.base)
    }

    fn serve(&self, keys: &[&SigningKey], cache_control: Option<&str>) {
        self.serve_raw(
            StatusCode::OK,
            cache_control,
            serde_json::to_string(&jwks(keys)).unwrap(),
        );
    }

    fn serve_raw(&self, status: StatusCode, cache_control: Option<&str>, body: String) {
        *self.answer.lock().unwrap() = Answer {
            status,
            cache_control: cache_control.map(str::to_owned),
            body,
        };
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(answer: Answer) -> Response {
    let mut response = (answer.status, answer.body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    if let Some(cc) = answer.cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cc.parse().unwrap());
    }
    response
}

/// A guard over `url` with a 10 s cooldown, on `clock`.
fn remote_guard(url: &str, clock: &ManualClock) -> Guard {
    let source = RemoteJwks::remote(url)
        .unwrap()
        .with_cooldown(Duration::from_secs(10))
        .with_clock(clock.clone());
    Guard::builder(source)
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .build()
}

/// A fresh EdDSA key that no JWKS has published yet.
fn new_key(kid: &str) -> SigningKey {
    SigningKey::generate(Algorithm::EdDSA, kid).unwrap()
}

/// A token naming a `kid` nobody has, validly shaped so it reaches the key lookup.
fn garbage_token(n: usize) -> String {
    hs256_forged(
        b"x",
        &serde_json::json!({ "alg": "EdDSA", "kid": format!("garbage-{n}") }),
        &claims(),
    )
}

#[tokio::test]
async fn the_first_request_fetches_the_key_set_and_later_ones_reuse_it() {
    let server = JwksServer::start().await;
    server.serve(&[&ED, &EC, &RSA], None);
    let clock = clock();
    let app = app(remote_guard(&server.url(), &clock));
    assert_eq!(server.hits(), 0, "nothing is fetched before it is needed");
    for key in asymmetric_keys() {
        get_me(&app, &sign(key, &claims())).await.assert_accepted();
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refetch_and_then_verifies() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("public, max-age=300"));
    let clock = clock();
    let app = app(remote_guard(&server.url(), &clock));
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    assert_eq!(server.hits(), 1);

    // The auth server rotates in a new key; the guard has never seen it.
    let rotated = new_key("ed-rotated");
    server.serve(&[&rotated, &ED], Some("public, max-age=300"));
    clock.advance_secs(10);
    get_me(&app, &sign(&rotated, &claims()))
        .await
        .assert_accepted();
    assert_eq!(server.hits(), 2);
    get_me(&app, &sign(&rotated, &claims()))
        .await
        .assert_accepted();
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    assert_eq!(
        server.hits(),
        2,
        "a known kid never refetches while the set is fresh"
    );
}

#[tokio::test]
async fn garbage_kids_cost_at_most_one_fetch_per_cooldown_however_many_arrive_at_once() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("max-age=3600"));
    let clock = clock();
    let guard = remote_guard(&server.url(), &clock);
    assert!(guard.verify(&sign(&ED, &claims())).await.is_ok());
    assert_eq!(server.hits(), 1);

    // Inside the cooldown: a flood of unknown kids fetches nothing.
    let flood = |guard: &Guard, from: usize| {
        let mut set = JoinSet::new();
        for n in from..from + 50 {
            let guard = guard.clone();
            set.spawn(async move { guard.verify(&garbage_token(n)).await });
        }
        set
    };
    for result in flood(&guard, 0).join_all().await {
        assert_eq!(result, Err(GuardError::InvalidToken));
    }
    assert_eq!(server.hits(), 1);

    // After the cooldown: a concurrent flood fetches exactly once (single-flight).
    clock.advance_secs(10);
    for result in flood(&guard, 100).join_all().await {
        assert_eq!(result, Err(GuardError::InvalidToken));
    }
    assert_eq!(server.hits(), 2);

    // And sequential garbage within the new cooldown adds nothing.
    clock.advance_secs(9);
    for n in 200..220 {
        assert!(guard.verify(&garbage_token(n)).await.is_err());
    }
    assert_eq!(server.hits(), 2);
    // Good tokens were never disturbed.
    assert!(guard.verify(&sign(&ED, &claims())).await.is_ok());
}

#[tokio::test]
async fn concurrent_requests_with_a_just_rotated_kid_all_succeed_on_one_fetch() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("max-age=3600"));
    let clock = clock();
    let guard = remote_guard(&server.url(), &clock);
    assert!(guard.verify(&sign(&ED, &claims())).await.is_ok());
    let rotated = new_key("ed-next");
    server.serve(&[&rotated, &ED], Some("max-age=3600"));
    clock.advance_secs(30);
    let token = sign(&rotated, &claims());
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let (guard, token) = (guard.clone(), token.clone());
        set.spawn(async move { guard.verify(&token).await });
    }
    for result in set.join_all().await {
        assert_eq!(result.unwrap().user_id(), USER);
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn waiters_reuse_the_fetch_they_waited_for_even_with_no_cooldown() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("max-age=3600"));
    let clock = clock();
    let source = RemoteJwks::remote(&server.url())
        .unwrap()
        .with_cooldown(Duration::ZERO)
        .with_clock(clock.clone());
    let guard = Guard::builder(source).clock(clock.clone()).build();
    assert!(guard.verify(&sign(&ED, &claims())).await.is_ok());
    let rotated = new_key("ed-single-flight");
    server.serve(&[&rotated, &ED], Some("max-age=3600"));
    let token = sign(&rotated, &claims());
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let (guard, token) = (guard.clone(), token.clone());
        set.spawn(async move { guard.verify(&token).await });
    }
    for result in set.join_all().await {
        assert!(result.is_ok());
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_last_good_key_set_and_retries_once_per_cooldown() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("max-age=60"));
    let clock = clock();
    let app = app(remote_guard(&server.url(), &clock));
    let token = sign(&ED, &claims());
    get_me(&app, &token).await.assert_accepted();
    assert_eq!(server.hits(), 1);

    server.serve_raw(StatusCode::INTERNAL_SERVER_ERROR, None, "oops".into());
    clock.advance_secs(60); // stale now
    get_me(&app, &token).await.assert_accepted();
    assert_eq!(server.hits(), 2, "a stale set is refetched");
    clock.advance_secs(5);
    get_me(&app, &token).await.assert_accepted();
    assert_eq!(server.hits(), 2, "no retry inside the cooldown");
    clock.advance_secs(5);
    server.serve_raw(StatusCode::OK, None, "this is not JSON".into());
    get_me(&app, &token).await.assert_accepted();
    assert_eq!(server.hits(), 3);

    // Once the server is back, its answer replaces the set.
    let rotated = new_key("ed-after-outage");
    server.serve(&[&rotated], Some("max-age=60"));
    clock.advance_secs(10);
    get_me(&app, &sign(&rotated, &claims()))
        .await
        .assert_accepted();
    assert_eq!(server.hits(), 4);
    get_me(&app, &token).await.assert_invalid_token();
}

#[tokio::test]
async fn cache_control_max_age_decides_when_the_set_is_refetched() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("public, max-age=60"));
    let clock = clock();
    let guard = remote_guard(&server.url(), &clock);
    let token = sign(&ED, &claims_with(serde_json::json!({ "exp": NOW + 3600 })));
    assert!(guard.verify(&token).await.is_ok());
    clock.advance_secs(59);
    assert!(guard.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 1, "still fresh at 59 s");
    clock.advance_secs(1);
    assert!(guard.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 2, "stale at 60 s");

    // no-store: every request would refetch, but the cooldown still spaces the fetches.
    server.serve(&[&ED], Some("no-store"));
    clock.advance_secs(60);
    assert!(guard.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 3);
    for _ in 0..5 {
        assert!(guard.verify(&token).await.is_ok());
    }
    assert_eq!(server.hits(), 3);
    clock.advance_secs(10);
    assert!(guard.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn without_cache_control_a_set_is_fresh_for_the_default_max_age() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], None);
    let clock = clock();
    let source = RemoteJwks::remote(&server.url())
        .unwrap()
        .with_default_max_age(Duration::from_secs(120))
        .with_clock(clock.clone());
    let ring = source.keys().await;
    assert_eq!(ring.len(), 1);
    clock.advance_secs(119);
    source.keys().await;
    assert_eq!(server.hits(), 1);
    clock.advance_secs(1);
    source.keys().await;
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_huge_max_age_is_capped_so_removed_keys_eventually_stop_verifying() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], Some("max-age=31536000"));
    let clock = clock();
    let source = RemoteJwks::remote(&server.url())
        .unwrap()
        .with_max_max_age(Duration::from_secs(3600))
        .with_clock(clock.clone());
    source.keys().await;
    clock.advance_secs(3600);
    source.keys().await;
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    let server = JwksServer::start().await;
    let mut set: JwkSet = jwks(&[&ED]);
    // A valid document, padded past the cap with many copies of the key.
    let copy = set.keys[0].clone();
    set.keys.extend(std::iter::repeat_n(copy, 2000));
    let body = serde_json::to_string(&set).unwrap();
    assert!(body.len() > 64 * 1024);
    server.serve_raw(StatusCode::OK, None, body);
    let clock = clock();
    let app = app(remote_guard(&server.url(), &clock));
    get_me(&app, &sign(&ED, &claims()))
        .await
        .assert_invalid_token();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_oversized_chunked_response_without_content_length_is_refused() {
    // A hand-written HTTP/1.1 server streaming an endless chunked body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{:x}\r\n{}\r\n", 4096, " ".repeat(4096));
        // Stops when the client hangs up after the cap.
        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let fetcher = HttpJwksFetcher::builder(&url)
        .max_bytes(16 * 1024)
        .build()
        .unwrap();
    let result = tessera_guard::keys::FetchJwks::fetch(&fetcher).await;
    assert_eq!(
        result,
        Err(tessera_guard::keys::FetchError::TooLarge { limit: 16 * 1024 })
    );
    server.abort();
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = JwksServer::start().await;
    server.serve(&[&ED], None);
    let clock = clock();
    let app = app(remote_guard(&format!("{}/moved", server.base), &clock));
    get_me(&app, &sign(&ED, &claims()))
        .await
        .assert_invalid_token();
    assert_eq!(server.hits(), 0, "the redirect target was fetched");
}

#[tokio::test]
async fn a_jwks_server_that_never_answers_times_out_instead_of_hanging_requests() {
    // Accepts the connection and then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (_socket, _) = listener.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let fetcher = HttpJwksFetcher::builder(&url)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let clock = clock();
    let source = tessera_guard::keys::JwksCache::new(fetcher).with_clock(clock.clone());
    let guard = Guard::builder(source).clock(clock.clone()).build();
    let started = std::time::Instant::now();
    assert_eq!(
        guard.verify(&sign(&ED, &claims())).await,
        Err(GuardError::InvalidToken)
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    server.abort();
}

#[tokio::test]
async fn a_failed_prefetch_at_start_up_does_not_delay_the_first_request() {
    // The API started before the auth server: the start-up prefetch fails.
    let server = JwksServer::start().await;
    server.serve_raw(StatusCode::SERVICE_UNAVAILABLE, None, "starting".into());
    let clock = clock();
    let source = Arc::new(
        RemoteJwks::remote(&server.url())
            .unwrap()
            .with_cooldown(Duration::from_secs(10))
            .with_clock(clock.clone()),
    );
    assert!(source.prefetch().await.is_err());
    // A moment later the auth server is up; the first request fetches at once.
    server.serve(&[&ED], None);
    clock.advance_secs(1);
    let guard = Guard::builder(Arc::clone(&source))
        .clock(clock.clone())
        .build();
    assert!(guard.verify(&sign(&ED, &claims())).await.is_ok());
    assert_eq!(server.hits(), 2);
    // A successful prefetch, on the other hand, counts like any fetch.
    clock.advance_secs(10);
    assert!(source.prefetch().await.is_ok());
    assert!(source.prefetch().await.is_ok());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn an_unreachable_jwks_url_refuses_tokens_without_panicking() {
    // Port 1 on loopback: connection refused.
    let clock = clock();
    let app = app(remote_guard("http://127.0.0.1:1/api/auth/jwks", &clock));
    get_me(&app, &sign(&ED, &claims()))
        .await
        .assert_invalid_token();
}
