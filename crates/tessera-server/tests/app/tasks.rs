//! The tasks API inside `tessera serve`: its guard verifies the auth server's JWTs with the key
//! manager's published keys, in memory, and picks up a key another process rotated in.

use tessera_auth::clock::{Clock as _, SystemClock};
use tessera_auth::features::jwt::KeyManager;
use tessera_jwt::{Algorithm, SigningKey};

use crate::helpers::{ORIGIN, TestApp, auth_config, get, request, signed_up, spawn_app};

/// `GET /api/me` with `token`; the status.
async fn me(app: &TestApp, token: &str) -> u16 {
    let bearer = format!("Bearer {token}");
    request(app, "GET", "/api/me", &[("Authorization", &bearer)], "")
        .await
        .status
}

/// A token for `user` signed by `key`, with the claims the auth server would put in.
fn signed_by(key: &SigningKey, user: &str) -> String {
    let now = SystemClock.now().timestamp();
    let claims = serde_json::json!({
        "sub": user, "iss": ORIGIN, "aud": ORIGIN, "iat": now, "exp": now + 300,
    });
    key.sign(claims.as_object().unwrap()).unwrap()
}

#[tokio::test]
async fn the_guard_verifies_the_auth_servers_tokens_and_a_key_rotated_in_by_another_process() {
    let app = spawn_app().await;
    let (cookie, user) = signed_up(&app).await;
    let minted = get(&app, "/api/auth/token", Some(&cookie)).await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let body: serde_json::Value = serde_json::from_str(&minted.body).unwrap();
    assert_eq!(me(&app, body["token"].as_str().unwrap()).await, 200);

    // `tessera keys rotate`, as another process over the same database would run it.
    let store = tessera_auth::store::connect(&app.database_url)
        .await
        .unwrap();
    let other = KeyManager::new(&auth_config());
    let now = SystemClock.now();
    other
        .rotate(store.as_ref(), Algorithm::EdDSA, now)
        .await
        .unwrap();
    let rotated_in = other.signing_key(store.as_ref(), now).await.unwrap();
    assert_eq!(me(&app, &signed_by(&rotated_in, &user)).await, 200);

    // A key nobody published is refused, however well-formed its token.
    let stranger = SigningKey::generate(Algorithm::EdDSA, "not-published").unwrap();
    assert_eq!(me(&app, &signed_by(&stranger, &user)).await, 401);
}
