//! Failed-attempt limits under concurrency: every check of a password takes its slot before the
//! hash runs, so a burst of guesses is cut off at the limit, with the memory counters and with
//! Redis, on SQLite and PostgreSQL; and change-password's and verify-password's checks count in
//! the same limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};
use tessera_auth::rate_limit::{
    CounterStore, Decision, FallbackCounters, MemoryCounters, RedisCounters, Slot,
};
use tokio::sync::Notify;

use crate::helpers::*;
use crate::rate_limit::{behind_local_proxy, redis_url, sign_in_from};

/// Where the test app keeps its rate-limit counters.
#[derive(Clone, Copy, Debug)]
enum Counters {
    Memory,
    Redis,
}

async fn redis_counters(url: &str) -> RedisCounters {
    RedisCounters::connect(url).await.unwrap_or_else(|e| {
        panic!("Redis is not answering at {url} ({e}); run scripts/test.sh, which starts one")
    })
}

/// The app behind a trusted local proxy (so `X-Forwarded-For` names the client), request-rate
/// limits off so only the failed-attempt limits answer 429.
async fn spawn(backend: Backend, counters: Counters) -> TestApp {
    let counters: Arc<dyn CounterStore> = match counters {
        Counters::Memory => Arc::new(MemoryCounters::default()),
        Counters::Redis => Arc::new(redis_counters(&redis_url()).await),
    };
    TestApp::spawn_with_counters(backend, counters, |c| {
        behind_local_proxy(c, false);
        c.delete_user.enabled = true;
    })
    .await
}

/// Runs each test body on SQLite and PostgreSQL, each with memory and with Redis counters.
/// Every test signs a fresh user up, so runs sharing one Redis count on keys of their own.
macro_rules! on_both_backends_and_counters {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        async fn $name($app: TestApp) $body

        mod $name {
            use super::{Backend, Counters, spawn};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite_in_memory() {
                super::$name(spawn(Backend::Sqlite, Counters::Memory).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite_with_redis() {
                super::$name(spawn(Backend::Sqlite, Counters::Redis).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres_in_memory() {
                super::$name(spawn(Backend::Postgres, Counters::Memory).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres_with_redis() {
                super::$name(spawn(Backend::Postgres, Counters::Redis).await).await;
            }
        }
    )*};
}

/// Audit rows of `kind`, oldest first.
async fn events(app: &TestApp, kind: AuditKind) -> Vec<AuditEvent> {
    let filter = AuditFilter {
        limit: 10_000,
        ..AuditFilter::default()
    };
    let mut rows = app.state.store.list_audit(&filter).await.unwrap();
    rows.reverse();
    rows.retain(|e| e.event == kind.as_str());
    rows
}

/// Asserts a refusal of the failed-attempt limits: Better Auth's 429 with both retry headers,
/// naming a wait within the hour.
fn assert_refused(resp: &Resp) {
    assert_eq!(resp.status, 429, "{}", resp.text);
    assert_eq!(
        resp.body,
        json!({"message": "Too many requests. Please try again later."})
    );
    let wait: u64 = resp
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=3600).contains(&wait), "Retry-After {wait}");
    assert_eq!(resp.header("x-retry-after"), resp.header("retry-after"));
}

/// How many of `responses` have `status`.
fn count(responses: &[Resp], status: u16) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

async fn change_password_from(app: &TestApp, user: &TestUser, client: &str, current: &str) -> Resp {
    let body = json!({"currentPassword": current, "newPassword": "a brand new password"});
    app.send(
        Method::POST,
        "/change-password",
        Some(body),
        Some(&user.cookie),
        &[("x-forwarded-for", client)],
    )
    .await
}

on_both_backends_and_counters! {
    async fn a_burst_of_wrong_passwords_from_one_address_checks_ten_and_refuses_the_rest_at_once(app) {
        let user = app.sign_up().await;
        let attacker = "203.0.113.9";
        // The right guess goes last, while the burst is in flight: as soon as the first
        // refusal shows the limit spent (or, should none come, once every wrong guess is
        // answered).
        let spent = Notify::new();
        let pending = AtomicUsize::new(40);
        let wrong = (0..40).map(|i| {
            let (app, user, spent, pending) = (&app, &user, &spent, &pending);
            async move {
                let resp = sign_in_from(app, attacker, &user.email, &format!("wrong guess {i}")).await;
                if resp.status == 429 || pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                    spent.notify_one();
                }
                resp
            }
        });
        let right = async {
            spent.notified().await;
            sign_in_from(&app, attacker, &user.email, PASSWORD).await
        };
        let (wrong, right) = tokio::join!(join_all(wrong), right);
        assert_eq!(count(&wrong, 401), 10, "exactly the limit is checked");
        assert_eq!(count(&wrong, 429), 30);
        for refused in wrong.iter().filter(|r| r.status == 429) {
            assert_refused(refused);
        }
        assert_refused(&right);
        assert!(right.set_cookies().is_empty(), "the right guess did not sign in");
        assert_eq!(events(&app, AuditKind::SignInFailed).await.len(), 10, "only checked guesses fail");
        let refusal = &events(&app, AuditKind::RateLimited).await[0];
        assert_eq!(refusal.reason.as_deref(), Some("failed_sign_ins"));
        assert_eq!(refusal.detail_json().unwrap()["route"], "/sign-in/email");
        let elsewhere = sign_in_from(&app, "192.0.2.80", &user.email, PASSWORD).await;
        assert_eq!(elsewhere.status, 200, "the user elsewhere is not locked out");
    }

    async fn a_burst_from_many_addresses_checks_the_accounts_hundred_but_spares_its_known_address(app) {
        let user = app.sign_up().await;
        let home = "192.0.2.44";
        assert_eq!(sign_in_from(&app, home, &user.email, PASSWORD).await.status, 200);
        // Twelve addresses, ten guesses each: 120 fit the per-address limits, 100 the account's.
        let guesses = (0..120).map(|i| {
            let client = format!("198.51.100.{}", i % 12 + 1);
            let (app, email) = (&app, &user.email);
            async move { sign_in_from(app, &client, email, "wrong guess wrong").await }
        });
        let answers = join_all(guesses).await;
        assert_eq!(count(&answers, 401), 100, "exactly the account's limit is checked");
        assert_eq!(count(&answers, 429), 20);
        for refused in answers.iter().filter(|r| r.status == 429) {
            assert_refused(refused);
        }
        assert_refused(&sign_in_from(&app, "198.51.100.200", &user.email, PASSWORD).await);
        let owner = sign_in_from(&app, home, &user.email, PASSWORD).await;
        assert_eq!(owner.status, 200, "the user's known address is exempt");
    }

    async fn wrong_current_passwords_on_change_password_are_cut_off_at_the_limit_and_each_is_audited(app) {
        let user = app.sign_up().await;
        let session = app.get_as(&user, "/get-session").await.body["session"]["id"].clone();
        let guesser = "203.0.113.30";
        let guesses = (0..100).map(|i| {
            let (app, user) = (&app, &user);
            async move { change_password_from(app, user, guesser, &format!("wrong current {i}")).await }
        });
        let answers = join_all(guesses).await;
        assert_eq!(count(&answers, 400), 10, "exactly the limit is checked");
        assert_eq!(count(&answers, 429), 90);
        for checked in answers.iter().filter(|r| r.status == 400) {
            assert_eq!(checked.code(), "INVALID_PASSWORD");
        }
        for refused in answers.iter().filter(|r| r.status == 429) {
            assert_refused(refused);
        }
        let failures = events(&app, AuditKind::CredentialCheckFailed).await;
        assert_eq!(failures.len(), 10, "every checked failure is audited");
        for failure in &failures {
            assert_eq!((failure.outcome.as_str(), failure.reason.as_deref()), ("failure", Some("invalid_password")));
            assert_eq!(failure.user_id.as_deref(), Some(user.id.as_str()));
            assert_eq!(failure.session_id.as_deref().map(Value::from), Some(session.clone()));
            assert_eq!((failure.ip.as_str(), failure.detail_json()), (guesser, Some(json!({"route": "/change-password"}))));
        }
        let refusal = &events(&app, AuditKind::RateLimited).await[0];
        assert_eq!(refusal.reason.as_deref(), Some("failed_password_checks"));
        assert_eq!(refusal.detail_json().unwrap()["route"], "/change-password");
        // The right password waits out the hour too, and sign-in shares the limits.
        assert_refused(&change_password_from(&app, &user, guesser, PASSWORD).await);
        assert_refused(&sign_in_from(&app, guesser, &user.email, PASSWORD).await);
        assert_eq!(sign_in_from(&app, "192.0.2.81", &user.email, PASSWORD).await.status, 200, "unchanged");
        let elsewhere = change_password_from(&app, &user, "192.0.2.81", PASSWORD).await;
        assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);
    }
}

async fn with_redis_cut_a_burst_of_guesses_is_limited_in_the_process_and_the_user_signs_in(
    backend: Backend,
) {
    let redis = url::Url::parse(&redis_url()).expect("TEST_REDIS_URL is a URL");
    let target = tokio::net::lookup_host((
        redis.host_str().expect("a host"),
        redis.port().unwrap_or(6379),
    ))
    .await
    .expect("resolve Redis")
    .next()
    .expect("an address");
    let proxy = CuttableProxy::start(target).await;
    let mut through = redis.clone();
    through.set_host(Some("127.0.0.1")).expect("host");
    through.set_port(Some(proxy.addr.port())).expect("port");
    // What `rate_limit::counters` builds for a Redis URL.
    let redis = Arc::new(redis_counters(through.as_str()).await);
    let counters = Arc::new(FallbackCounters::new(redis));
    let app = TestApp::spawn_with_counters(backend, counters, |c| {
        behind_local_proxy(c, false);
        c.delete_user.enabled = true;
    })
    .await;
    let user = app.sign_up().await;
    proxy.cut();
    let guesser = "192.0.2.90";
    let guesses = (0..40).map(|i| {
        let (app, email) = (&app, &user.email);
        async move { sign_in_from(app, guesser, email, &format!("wrong guess {i}")).await }
    });
    let answers = join_all(guesses).await;
    assert_eq!(
        count(&answers, 401),
        10,
        "exactly the limit is checked, locally"
    );
    assert_eq!(count(&answers, 429), 30);
    for refused in answers.iter().filter(|r| r.status == 429) {
        assert_refused(refused);
    }
    assert_refused(&sign_in_from(&app, guesser, &user.email, PASSWORD).await);
    assert_eq!(events(&app, AuditKind::SignInFailed).await.len(), 10);
    let owner = sign_in_from(&app, "192.0.2.91", &user.email, PASSWORD).await;
    assert_eq!(
        owner.status, 200,
        "sign-in goes on without Redis: {}",
        owner.text
    );
    let changed = change_password_from(&app, &user, "192.0.2.91", PASSWORD).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_cut_failed_checks_are_limited_locally_on_sqlite() {
    with_redis_cut_a_burst_of_guesses_is_limited_in_the_process_and_the_user_signs_in(
        Backend::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_cut_failed_checks_are_limited_locally_on_postgres() {
    with_redis_cut_a_burst_of_guesses_is_limited_in_the_process_and_the_user_signs_in(
        Backend::Postgres,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_reservations_from_two_connections_never_take_more_than_the_limit() {
    let url = redis_url();
    let stores = [
        Arc::new(redis_counters(&url).await),
        Arc::new(redis_counters(&url).await),
    ];
    let key = format!("test-reserve|{}", tessera_auth::ids::generate_id(12));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = Arc::clone(&stores[i % 2]);
            let key = key.clone();
            tokio::spawn(async move {
                let slot = Slot {
                    key: &key,
                    window_ms: 60_000,
                    max: Some(10),
                };
                store.reserve(&[slot], 0).await.unwrap()
            })
        })
        .collect();
    let mut decisions = Vec::new();
    for task in tasks {
        decisions.push(task.await.unwrap());
    }
    let allowed = decisions
        .iter()
        .filter(|d| **d == Decision::Allowed)
        .count();
    assert_eq!(allowed, 10);
    assert!(decisions.iter().all(|d| match d {
        Decision::Allowed => true,
        Decision::Limited { retry_after } => (1..=60).contains(retry_after),
    }));
    let (held, left) = stores[0].peek(&key, 0).await.unwrap();
    assert_eq!(held, 10);
    assert!(
        left > 0 && left <= 60_000,
        "the window's expiry is set: {left}"
    );
    stores[1].release(&key, 0).await.unwrap();
    assert_eq!(stores[0].peek(&key, 0).await.unwrap().0, 9);
    let missing = format!("test-release|{}", tessera_auth::ids::generate_id(12));
    stores[0].release(&missing, 0).await.unwrap();
    assert_eq!(
        stores[0].peek(&missing, 0).await.unwrap(),
        (0, 0),
        "a release never makes a count"
    );
}

on_both_backends_and_counters! {
    async fn wrong_passwords_on_verify_password_are_cut_off_at_the_limit_shared_with_sign_in(app) {
        let user = app.sign_up().await;
        let guesser = "203.0.113.31";
        let verify = |password: String, client: &'static str| {
            let (app, user) = (&app, &user);
            async move {
                app.send(Method::POST, "/verify-password", Some(json!({"password": password})), Some(&user.cookie), &[("x-forwarded-for", client)]).await
            }
        };
        let answers = join_all((0..30).map(|i| verify(format!("wrong guess {i}"), guesser))).await;
        assert_eq!(count(&answers, 400), 10, "exactly the limit is checked");
        assert_eq!(count(&answers, 429), 20);
        let failures = events(&app, AuditKind::CredentialCheckFailed).await;
        assert_eq!(failures.len(), 10, "every checked failure is audited");
        assert_eq!(failures[0].detail_json(), Some(json!({"route": "/verify-password"})));
        assert_eq!(failures[0].user_id.as_deref(), Some(user.id.as_str()));
        assert_refused(&verify(PASSWORD.to_string(), guesser).await);
        assert_refused(&sign_in_from(&app, guesser, &user.email, PASSWORD).await);
        let elsewhere = verify(PASSWORD.to_string(), "192.0.2.82").await;
        assert_eq!((elsewhere.status, elsewhere.body.clone()), (200, json!({"status": true})));
    }

    async fn wrong_passwords_on_delete_user_count_in_the_same_limits_and_delete_nothing(app) {
        let user = app.sign_up().await;
        let guesser = "203.0.113.32";
        let delete = |password: String, client: &'static str| {
            let (app, user) = (&app, &user);
            async move {
                app.send(Method::POST, "/delete-user", Some(json!({"password": password})), Some(&user.cookie), &[("x-forwarded-for", client)]).await
            }
        };
        let answers = join_all((0..30).map(|i| delete(format!("wrong guess {i}"), guesser))).await;
        assert_eq!(count(&answers, 400), 10, "exactly the limit is checked");
        assert_eq!(count(&answers, 429), 20);
        let failures = events(&app, AuditKind::CredentialCheckFailed).await;
        assert_eq!(failures.len(), 10);
        assert_eq!(failures[0].detail_json(), Some(json!({"route": "/delete-user"})));
        assert_refused(&delete(PASSWORD.to_string(), guesser).await);
        assert_refused(&sign_in_from(&app, guesser, &user.email, PASSWORD).await);
        assert!(app.state.store.find_user_by_id(&user.id).await.unwrap().is_some(), "nothing deleted");
        let elsewhere = delete(PASSWORD.to_string(), "192.0.2.83").await;
        assert_eq!((elsewhere.status, elsewhere.body.clone()), (200, json!({"success": true, "message": "User deleted"})));
    }
}
