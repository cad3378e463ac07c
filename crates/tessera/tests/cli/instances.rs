//! Three `tessera serve` processes on one PostgreSQL and one Redis act as one service: a
//! session ended on one is refused by the others at once (their session caches on, so only the
//! announcement can make them forget it), failed passwords count together, and a key rotated
//! with `tessera keys rotate` signs on every instance within a second.

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_db::testing::{Backend, TestDatabase};

use crate::helpers::{
    ORIGIN, PASSWORD, client, eventually, get_with_cookie, get_with_token, redis_url, serve,
    sign_out, sign_up, tessera, unique_email,
};

const SECOND: Duration = Duration::from_secs(1);

/// The `kid` in a JWT's header.
fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A JWT for `cookie`'s session from the instance at `at`.
async fn token(client: &reqwest::Client, at: &str, cookie: &str) -> String {
    let (status, body) = get_with_cookie(client, at, "/api/auth/token", cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_postgres_and_redis_act_as_one_service() {
    let database = TestDatabase::create(
        Backend::Postgres,
        &[
            tessera_auth::store::migrations,
            tessera_tasks::store::migrations,
        ],
    )
    .await;
    let redis = redis_url();
    let env = [
        ("DATABASE_URL", database.url()),
        ("REDIS_URL", redis.as_str()),
        // Each instance remembers sessions far longer than the test waits: only the
        // announcement through Redis can make B forget a session A ended.
        ("TESSERA_SESSION_CACHE_TTL", "60"),
        // The per-path limits would stop the twelve attempts first; the per-account limit
        // on failed passwords stays on regardless.
        ("TESSERA_RATE_LIMIT", "off"),
    ];
    let (a, b, c) = tokio::join!(serve(&env), serve(&env), serve(&env));
    let client = client();

    // Sign up on A, a JWT from B, tasks on C.
    let email = unique_email("instances");
    let cookie = sign_up(&client, &a.url, &email).await;
    let (status, session) =
        get_with_cookie(&client, &b.url, "/api/auth/get-session", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["user"]["email"], email.as_str(), "{session}");
    let jwt = token(&client, &b.url, &cookie).await;
    assert_eq!(
        get_with_token(&client, &c.url, "/api/me", &jwt).await,
        StatusCode::OK
    );

    // Sign out on A: C refuses the JWT and B's get-session is null, within a second.
    assert_eq!(sign_out(&client, &a.url, &cookie).await, StatusCode::OK);
    eventually(SECOND, "C refuses the signed-out session's JWT", || async {
        get_with_token(&client, &c.url, "/api/me", &jwt).await == StatusCode::UNAUTHORIZED
    })
    .await;
    eventually(
        SECOND,
        "B's get-session forgets the signed-out session",
        || async {
            get_with_cookie(&client, &b.url, "/api/auth/get-session", &cookie)
                .await
                .1
                == Value::Null
        },
    )
    .await;

    // Twelve wrong passwords from one address, spread over A, B and C: the per-address limit
    // on the account (ten an hour) holds across them.
    let wrong = json!({ "email": email, "password": format!("not {PASSWORD}") });
    let mut statuses = Vec::new();
    for at in [&a, &b, &c].into_iter().cycle().take(12) {
        let response = client
            .post(format!("{}/api/auth/sign-in/email", at.url))
            .header("origin", ORIGIN)
            .json(&wrong)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 2], "{statuses:?}");

    // A fresh session, a JWT from B and C with the current key; then `tessera keys rotate`.
    let cookie = sign_up(&client, &a.url, &unique_email("rotation")).await;
    let before = kid(&token(&client, &b.url, &cookie).await);
    assert_eq!(kid(&token(&client, &c.url, &cookie).await), before);
    let dir = tempfile::tempdir().unwrap();
    let rotated = tessera(dir.path(), &env)
        .args(["keys", "rotate"])
        .output()
        .await
        .unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let printed = String::from_utf8_lossy(&rotated.stdout);
    let new_kid = printed
        .lines()
        .find_map(|line| line.strip_prefix("new current "))
        .and_then(|rest| rest.split(": ").nth(1))
        .unwrap_or_else(|| panic!("{printed}"))
        .trim()
        .to_owned();
    assert_ne!(new_kid, before);
    for at in [&b, &c] {
        eventually(
            SECOND,
            "the instance mints with the rotated key",
            || async { kid(&token(&client, &at.url, &cookie).await) == new_kid },
        )
        .await;
    }
    // And the tokens of the new key verify on every instance.
    let fresh = token(&client, &b.url, &cookie).await;
    for at in [&a, &b, &c] {
        assert_eq!(
            get_with_token(&client, &at.url, "/api/me", &fresh).await,
            StatusCode::OK
        );
    }
    drop((a, b, c));
    drop(database);
}
