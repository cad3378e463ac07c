//! Load shedding for password hashing: beyond the wait bound sign-in and sign-up answer 503
//! `TOO_BUSY` with `Retry-After` at once, counted and audited, while another address is still
//! admitted. The hashing threads are held (`PasswordHasher::hold`) and the cost of a hash is
//! fixed, so the queue's state is known exactly: nothing here depends on the host's speed.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::AuthConfig;
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};
use tessera_auth::password::{HashCost, QueueLimits};
use tessera_auth::rate_limit::TrustedProxies;
use tokio::task::JoinHandle;

use crate::helpers::*;

const FLOOD: &str = "198.51.100.1";
const OTHER: &str = "203.0.113.9";

/// One hashing thread, each queued hash costing 100 ms, at most `max_wait` of waiting; the test
/// client trusted as a proxy so `X-Forwarded-For` can stand for several addresses.
fn queue_of_one(config: &mut AuthConfig, max_wait: Duration) {
    config.trusted_proxies = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
    config.email_password.hash_concurrency = 1;
    config.email_password.hash_queue = QueueLimits {
        max_wait,
        cost: HashCost::Fixed(Duration::from_millis(100)),
    };
}

/// Sends a POST from `client` in the background: it will wait for a hashing thread.
fn spawn_post(app: &TestApp, path: &str, client: &str, body: Value) -> JoinHandle<(u16, Value)> {
    let (url, client) = (app.url(path), client.to_owned());
    tokio::spawn(async move {
        let resp = reqwest::Client::new()
            .post(url)
            .header("x-forwarded-for", client)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

/// Far longer than any answer here takes: a request still waiting then was queued behind the
/// held thread instead of being shed, and the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(30);

/// A POST from `client` that must be answered while the hashing thread is held.
async fn post_from(app: &TestApp, path: &str, client: &str, body: Value) -> Resp {
    let headers = [("x-forwarded-for", client)];
    let send = app.send(Method::POST, path, Some(body), None, &headers);
    tokio::time::timeout(BOUND, send)
        .await
        .expect("answered at once, not queued behind the held hashing thread")
}

/// Waits until `queued` hashes wait for a thread, within [`BOUND`].
async fn until_queued(app: &TestApp, queued: usize) {
    let wait = async {
        while app.state.email_password.hasher.queued() != queued {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(BOUND, wait)
        .await
        .unwrap_or_else(|_| panic!("{queued} hashes never queued"));
}

async fn overloaded_rows(app: &TestApp) -> Vec<AuditEvent> {
    let filter = AuditFilter {
        limit: 10_000,
        ..AuditFilter::default()
    };
    let rows = app.state.store.list_audit(&filter).await.unwrap();
    rows.into_iter()
        .filter(|e| e.event == AuditKind::Overloaded.as_str())
        .collect()
}

fn assert_too_busy(resp: &Resp, retry_after: &str) {
    assert_eq!(resp.status, 503, "{}", resp.text);
    assert_eq!(
        resp.body,
        json!({
            "code": "TOO_BUSY",
            "message": "The server is too busy to check passwords right now. Please try again shortly."
        })
    );
    assert_eq!(resp.header("retry-after"), Some(retry_after));
    assert!(resp.set_cookies().is_empty());
}

async fn beyond_the_wait_bound_sign_ins_get_503_at_once_while_another_address_is_admitted(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |c| queue_of_one(c, Duration::from_secs(1))).await;
    let user = app.sign_up().await;
    let hold = app.state.email_password.hasher.hold().await;
    // The held hash and the k queued before it: the k-th of the flood waits (k + 1) × 100 ms,
    // so ten fit in 1 s. Unknown emails, so the per-account throttle stays out of it.
    let mut flood = Vec::new();
    for i in 0..10 {
        let body =
            json!({"email": format!("nobody-{i}@example.com"), "password": "wrong password"});
        flood.push(spawn_post(&app, "/sign-in/email", FLOOD, body));
        until_queued(&app, i + 1).await;
    }
    // The only hashing thread is held: these answers were given without running a hash, and
    // alike for an unknown email and a real account (1.1 s implied, 0.1 s over: retry in 1 s).
    let unknown = post_from(
        &app,
        "/sign-in/email",
        FLOOD,
        json!({"email": "nobody@example.com", "password": PASSWORD}),
    )
    .await;
    let known = post_from(
        &app,
        "/sign-in/email",
        FLOOD,
        json!({"email": user.email, "password": PASSWORD}),
    )
    .await;
    assert_too_busy(&unknown, "1");
    assert_too_busy(&known, "1");
    assert_eq!(app.state.email_password.hasher.queued(), 10);
    assert_eq!(app.state.email_password.hasher.shed_count(), 2);
    // Another address is admitted all the same: it waits for the held hash and one of the flood's.
    let other = spawn_post(
        &app,
        "/sign-in/email",
        OTHER,
        json!({"email": user.email, "password": PASSWORD}),
    );
    until_queued(&app, 11).await;
    drop(hold);
    let (status, body) = other.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], user.id.as_str());
    for flooded in flood {
        assert_eq!(flooded.await.unwrap().0, 401);
    }
    assert_eq!(app.state.email_password.hasher.shed_count(), 2);
    // One row for the flooding address (identical refusals are coalesced), none for the other.
    let rows = overloaded_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert_eq!((row.ip.as_str(), row.outcome.as_str()), (FLOOD, "failure"));
    assert_eq!(row.reason.as_deref(), Some("hashing_queue_full"));
    assert_eq!(row.detail_json(), Some(json!({"path": "/sign-in/email"})));
    assert_eq!(row.user_id, None, "a refusal names no account");
}

async fn a_sign_up_beyond_the_wait_bound_is_503_and_creates_no_user(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| queue_of_one(c, Duration::from_millis(100))).await;
    let hold = app.state.email_password.hasher.hold().await;
    let queued = spawn_post(
        &app,
        "/sign-in/email",
        FLOOD,
        json!({"email": "nobody@example.com", "password": "wrong password"}),
    );
    until_queued(&app, 1).await;
    // Behind the held hash and the queued one: 200 ms, over the 100 ms allowed.
    let body = json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD});
    let refused = post_from(&app, "/sign-up/email", FLOOD, body.clone()).await;
    assert_too_busy(&refused, "1");
    assert!(
        app.state
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.state.email_password.hasher.shed_count(), 1);
    let rows = overloaded_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        rows[0].detail_json(),
        Some(json!({"path": "/sign-up/email"}))
    );
    drop(hold);
    assert_eq!(queued.await.unwrap().0, 401);
    // The queue drained: the same sign-up goes through.
    let admitted = post_from(&app, "/sign-up/email", FLOOD, body).await;
    assert_eq!(admitted.status, 200, "{}", admitted.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_shedding_on_sqlite() {
    beyond_the_wait_bound_sign_ins_get_503_at_once_while_another_address_is_admitted(
        Backend::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_shedding_on_postgres() {
    beyond_the_wait_bound_sign_ins_get_503_at_once_while_another_address_is_admitted(
        Backend::Postgres,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_shedding_on_sqlite() {
    a_sign_up_beyond_the_wait_bound_is_503_and_creates_no_user(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_shedding_on_postgres() {
    a_sign_up_beyond_the_wait_bound_is_503_and_creates_no_user(Backend::Postgres).await;
}
