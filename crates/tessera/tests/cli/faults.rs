//! Faults the service survives, each with its own throwaway PostgreSQL cluster or redis-server
//! that the test stops under it: answers stay fast and precise (503 with `Retry-After`, never
//! a hang or a crash), `/readyz` says what is missing, everything comes back by itself, and a
//! process killed mid-write leaves nothing half-written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_db::Database;
use tessera_db::testing::{Backend, TestDatabase};

use crate::helpers::{
    BOUND, Instance, ORIGIN, PASSWORD, ThrowawayPostgres, ThrowawayRedis, client, eventually,
    get_with_cookie, get_with_token, serve, sign_out, sign_up, sign_up_raw, unique_email,
};

/// `GET /readyz`: the status and the checks.
async fn readyz(client: &reqwest::Client, at: &Instance) -> (StatusCode, Value) {
    let response = client
        .get(format!("{}/readyz", at.url))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json::<Value>().await.unwrap()["checks"].clone(),
    )
}

/// `/readyz` answers 503 with `failed` not ok; the checks.
async fn assert_unready(client: &reqwest::Client, at: &Instance, failed: &str) -> Value {
    let (status, checks) = readyz(client, at).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{checks}");
    assert_ne!(checks[failed], "ok", "{checks}");
    checks
}

/// Two clients asking for the session over and over until told to stop: the load the
/// database goes away under.
fn load(at: &Instance, cookie: &str, stop: &Arc<AtomicBool>) -> Arc<AtomicUsize> {
    let answered = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let (url, cookie, stop, answered) = (
            at.url.clone(),
            cookie.to_owned(),
            Arc::clone(stop),
            Arc::clone(&answered),
        );
        tokio::spawn(async move {
            let client = client();
            while !stop.load(Ordering::Relaxed) {
                if get_with_cookie(&client, &url, "/api/auth/get-session", &cookie)
                    .await
                    .0
                    != StatusCode::OK
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_gives_fast_503s_and_the_server_recovers_by_itself() {
    let pg = ThrowawayPostgres::start();
    let url = pg.url();
    let mut instance = serve(&[("DATABASE_URL", &url)]).await;
    let client = client();
    let cookie = sign_up(&client, &instance.url, &unique_email("pg-down")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = load(&instance, &cookie, &stop);

    pg.halt();
    let halted = Instant::now();
    // Within 5 s of the database going away, a request is answered 503 with Retry-After, and
    // no request takes longer than that.
    loop {
        let started = Instant::now();
        let response = client
            .get(format!("{}/api/auth/get-session", instance.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(response.headers().contains_key("retry-after"));
            break;
        }
        assert!(
            halted.elapsed() < Duration::from_secs(5),
            "still {} after 5 s",
            response.status()
        );
    }
    assert_unready(&client, &instance, "database").await;
    assert!(instance.is_running());
    let before = answered.load(Ordering::Relaxed);

    pg.resume();
    eventually(BOUND, "the server answers the session again", || async {
        get_with_cookie(&client, &instance.url, "/api/auth/get-session", &cookie)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    eventually(BOUND, "/readyz is 200 again", || async {
        readyz(&client, &instance).await.0 == StatusCode::OK
    })
    .await;
    // The load goes on (no client of it hangs), then stops.
    eventually(BOUND, "the load is answered again", || async {
        answered.load(Ordering::Relaxed) > before
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    assert!(instance.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_falls_back_without_a_crash_and_comes_back_with_redis() {
    let mut redis = ThrowawayRedis::start();
    let redis_url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut instance = serve(&[("DATABASE_URL", &database), ("REDIS_URL", &redis_url)]).await;
    let client = client();
    let email = unique_email("redis-down");
    let cookie = sign_up(&client, &instance.url, &email).await;
    let at = instance.url.clone();
    let sign_in = || async {
        client
            .post(format!("{at}/api/auth/sign-in/email"))
            .header("origin", ORIGIN)
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(sign_in().await, StatusCode::OK);

    redis.halt();
    // Sessions are read from the database, request rates fail open; the password throttle
    // fails closed (a guess is never unbounded), promptly.
    let (status, session) =
        get_with_cookie(&client, &instance.url, "/api/auth/get-session", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let started = Instant::now();
    assert_eq!(sign_in().await, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        assert_unready(&client, &instance, "redis").await["database"],
        "ok"
    );
    // Signing out still works, and the session is gone on this instance at once.
    assert_eq!(
        sign_out(&client, &instance.url, &cookie).await,
        StatusCode::OK
    );
    assert_eq!(
        get_with_cookie(&client, &instance.url, "/api/auth/get-session", &cookie)
            .await
            .1,
        Value::Null
    );
    assert!(instance.is_running());

    redis.resume();
    eventually(BOUND, "sign-ins are checked again", || async {
        sign_in().await == StatusCode::OK
    })
    .await;
    eventually(BOUND, "/readyz is 200 again", || async {
        readyz(&client, &instance).await.0 == StatusCode::OK
    })
    .await;
}

/// How soon another instance must refuse a session ended during a Redis outage: its follower
/// reads the revocation records every second; the rest is margin for a loaded machine.
const OUTAGE_DELAY: Duration = Duration::from_secs(2);

/// The Redis key revocations are announced under (tessera-revocation's `REDIS_KEY`).
const REVOCATIONS_KEY: &str = "tessera:revocations";

/// A JWT for `cookie`'s session from the instance at `at`.
async fn jwt(client: &reqwest::Client, at: &Instance, cookie: &str) -> String {
    let (status, body) = get_with_cookie(client, &at.url, "/api/auth/token", cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Whether `at` has forgotten `cookie`'s session and refuses `jwt` on its tasks API.
async fn forgotten(client: &reqwest::Client, at: &Instance, cookie: &str, jwt: &str) -> bool {
    get_with_token(client, &at.url, "/api/me", jwt).await == StatusCode::UNAUTHORIZED
        && get_with_cookie(client, &at.url, "/api/auth/get-session", cookie)
            .await
            .1
            == Value::Null
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_while_redis_is_down_is_refused_by_the_other_instance_within_seconds() {
    let database = TestDatabase::create(
        Backend::Postgres,
        &[
            tessera_auth::store::migrations,
            tessera_tasks::store::migrations,
        ],
    )
    .await;
    let mut redis = ThrowawayRedis::start();
    let redis_url = redis.url();
    let env = [
        ("DATABASE_URL", database.url()),
        ("REDIS_URL", redis_url.as_str()),
        // B remembers sessions far longer than the test waits: only the catch-up from the
        // database (or a Redis announcement) can make it forget one A ended.
        ("TESSERA_SESSION_CACHE_TTL", "600"),
    ];
    let (mut a, mut b) = tokio::join!(serve(&env), serve(&env));
    let client = client();
    let during = sign_up(&client, &a.url, &unique_email("outage")).await;
    let after = sign_up(&client, &a.url, &unique_email("after-outage")).await;
    let (during_jwt, after_jwt) = (
        jwt(&client, &a, &during).await,
        jwt(&client, &a, &after).await,
    );
    for (cookie, token) in [(&during, &during_jwt), (&after, &after_jwt)] {
        assert!(!forgotten(&client, &b, cookie, token).await);
    }

    redis.halt();
    assert_eq!(sign_out(&client, &a.url, &during).await, StatusCode::OK);
    let took = eventually(
        OUTAGE_DELAY,
        "B learns of a sign-out on A while Redis is down",
        || forgotten(&client, &b, &during, &during_jwt),
    )
    .await;
    eprintln!("B refused the signed-out session {took:?} after the sign-out on A");

    redis.resume();
    eventually(BOUND, "B is ready again with Redis", || async {
        readyz(&client, &b).await.0 == StatusCode::OK
    })
    .await;
    assert!(forgotten(&client, &b, &during, &during_jwt).await);
    // New sign-outs travel through Redis again (the restarted, empty Redis never heard of the
    // one during the outage).
    assert_eq!(sign_out(&client, &a.url, &after).await, StatusCode::OK);
    assert_eq!(redis.zcard(REVOCATIONS_KEY), 1);
    eventually(
        Duration::from_secs(1),
        "B learns of a sign-out on A with Redis back",
        || forgotten(&client, &b, &after, &after_jwt),
    )
    .await;
    assert!(a.is_running() && b.is_running());
}

/// Users without their credential account, and sessions without their user.
async fn half_written(url: &str) -> (i64, i64, i64) {
    const USERS: &str = r#"SELECT COUNT(*) FROM "user""#;
    const ORPHAN_USERS: &str = r#"SELECT COUNT(*) FROM "user" u WHERE NOT EXISTS
        (SELECT 1 FROM "account" a WHERE a."userId" = u."id" AND a."providerId" = 'credential')"#;
    const ORPHAN_SESSIONS: &str = r#"SELECT COUNT(*) FROM "session" s WHERE NOT EXISTS
        (SELECT 1 FROM "user" u WHERE u."id" = s."userId")"#;
    let db = tessera_db::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for query in [USERS, ORPHAN_USERS, ORPHAN_SESSIONS] {
        let count: i64 = match &db {
            Database::Sqlite(pool) => sqlx::query_scalar(query).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await.unwrap(),
        };
        counts.push(count);
    }
    db.close().await;
    (counts[0], counts[1], counts[2])
}

/// Signs up many users at once on a `tessera serve` over `url`, kills it with SIGKILL once a
/// few have succeeded, restarts it: nothing is half-written, and it serves again.
async fn assert_a_kill_during_a_sign_up_storm_leaves_nothing_half_written(url: &str) {
    let instance = serve(&[("DATABASE_URL", url), ("TESSERA_RATE_LIMIT", "off")]).await;
    let signed_up = Arc::new(AtomicUsize::new(0));
    for i in 0..24 {
        let (at, signed_up) = (instance.url.clone(), Arc::clone(&signed_up));
        tokio::spawn(async move {
            let email = unique_email(&format!("storm{i}"));
            if let Ok(response) = sign_up_raw(&client(), &at, &email).await
                && response.status() == StatusCode::OK
            {
                signed_up.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    eventually(BOUND, "a few sign-ups succeed", || async {
        signed_up.load(Ordering::Relaxed) >= 3
    })
    .await;
    instance.kill().await;

    let restarted = serve(&[("DATABASE_URL", url)]).await;
    let client = client();
    assert_eq!(readyz(&client, &restarted).await.0, StatusCode::OK);
    let (users, users_without_account, sessions_without_user) = half_written(url).await;
    assert!(users >= 3, "{users}");
    assert_eq!(users_without_account, 0);
    assert_eq!(sessions_without_user, 0);
    // And the server works on what the killed one left.
    sign_up(&client, &restarted.url, &unique_email("after-storm")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_sign_up_storm_leaves_nothing_half_written_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("storm.db").display());
    assert_a_kill_during_a_sign_up_storm_leaves_nothing_half_written(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_sign_up_storm_leaves_nothing_half_written_on_postgres() {
    let pg = ThrowawayPostgres::start();
    assert_a_kill_during_a_sign_up_storm_leaves_nothing_half_written(&pg.url()).await;
}
