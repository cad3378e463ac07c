use chrono::Duration;
use reqwest::Method;
use serde_json::json;
use tessera_auth::cookies::signed_value;
use tessera_auth::secret::Secret;

use crate::helpers::*;

on_both_backends! {
    async fn get_session_without_a_cookie_is_null_and_never_cached(app) {
        let resp = app.get("/get-session").await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text, "null");
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        assert_eq!(resp.header("pragma"), Some("no-cache"));
        assert!(resp.header("set-auth-jwt").is_none());
    }

    async fn get_session_returns_the_session_and_user_and_a_fresh_jwt(app) {
        let user = app.sign_up().await;
        let resp = app.get_as(&user, "/get-session").await;
        assert_eq!(resp.status, 200);
        let session = &resp.body["session"];
        assert_eq!(session["token"], user.token.as_str());
        assert_eq!(session["userId"], user.id.as_str());
        assert_eq!(session["ipAddress"], "127.0.0.1");
        assert_eq!(resp.body["user"]["email"], user.email.as_str());
        let jwt = resp.header("set-auth-jwt").expect("set-auth-jwt");
        assert_eq!(jwt_payload(jwt)["sub"], user.id.as_str());
        assert!(resp.header("access-control-expose-headers").unwrap().contains("set-auth-jwt"));
        assert!(resp.set_cookies().is_empty(), "no refresh on a brand-new session");
    }

    async fn a_cookie_with_a_forged_signature_is_no_session(app) {
        let user = app.sign_up().await;
        let forged = format!("better-auth.session_token={}", signed_value(&Secret::new("another-secret-another-secret-0123"), &user.token));
        let resp = app.send(Method::GET, "/get-session", None, Some(&forged), &[]).await;
        assert_eq!(resp.text, "null");
    }

    async fn a_session_slides_forward_once_update_age_has_passed(app) {
        let user = app.sign_up().await;
        let first = app.get_as(&user, "/get-session").await;
        app.clock.advance(Duration::hours(23));
        let early = app.get_as(&user, "/get-session").await;
        assert!(early.set_cookies().is_empty(), "not yet a day since the last extension");
        assert_eq!(early.body["session"]["expiresAt"], first.body["session"]["expiresAt"]);
        app.clock.advance(Duration::hours(2));
        let slid = app.get_as(&user, "/get-session").await;
        let cookie = slid.set_cookie("better-auth.session_token").expect("cookie re-issued");
        assert!(cookie.contains("Max-Age=604800"));
        assert!(slid.header("set-auth-token").is_some());
        let before = chrono::DateTime::parse_from_rfc3339(first.body["session"]["expiresAt"].as_str().unwrap()).unwrap();
        let after = chrono::DateTime::parse_from_rfc3339(slid.body["session"]["expiresAt"].as_str().unwrap()).unwrap();
        assert_eq!(after - before, Duration::hours(25));
    }

    async fn disable_refresh_stops_sliding_even_when_set_to_false(app) {
        let user = app.sign_up().await;
        app.clock.advance(Duration::days(2));
        let resp = app.get_as(&user, "/get-session?disableRefresh=false").await;
        assert!(resp.body["session"].is_object());
        assert!(resp.set_cookies().is_empty());
    }

    async fn an_expired_session_is_deleted_and_its_cookies_expired(app) {
        let user = app.sign_up().await;
        app.clock.advance(Duration::days(8));
        let resp = app.get_as(&user, "/get-session").await;
        assert_eq!(resp.text, "null");
        let expired = resp.set_cookie("better-auth.session_token").unwrap();
        assert_eq!(expired, "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
        assert!(resp.set_cookie("better-auth.dont_remember").is_some());
        assert!(app.state.store.find_session(&user.token).await.unwrap().is_none());
    }

    async fn post_get_session_is_405_without_deferred_refresh(app) {
        let resp = app.send(Method::POST, "/get-session", None, None, &[]).await;
        assert_eq!(resp.status, 405);
        assert_eq!(resp.code(), "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED");
        // Like every get-session answer in Better Auth, the refusal is not cacheable.
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        assert_eq!(resp.header("pragma"), Some("no-cache"));
    }

    async fn a_bearer_token_works_signed_or_raw_and_a_bad_one_falls_back_to_the_cookie(app) {
        let user = app.sign_up().await;
        let signed = signed_value(&Secret::new(SECRET), &user.token);
        for credential in [signed.clone(), user.token.clone(), tessera_auth::cookies::encode_value(&signed)] {
            let auth = format!("Bearer {credential}");
            let resp = app.send(Method::GET, "/get-session", None, None, &[("authorization", &auth)]).await;
            assert_eq!(resp.body["user"]["id"], user.id.as_str(), "{credential}");
        }
        let lower = format!("bearer {signed}");
        let resp = app.send(Method::GET, "/get-session", None, None, &[("authorization", &lower)]).await;
        assert_eq!(resp.body["user"]["id"], user.id.as_str());
        // A JWT (or any badly signed value) in Authorization must not hide a valid cookie.
        let resp = app
            .send(Method::GET, "/get-session", None, Some(&user.cookie), &[("authorization", "Bearer abc.def")])
            .await;
        assert_eq!(resp.body["user"]["id"], user.id.as_str());
    }

    async fn sign_out_deletes_the_session_and_expires_every_cookie(app) {
        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/sign-out", json!({})).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, json!({"success": true}));
        for name in ["better-auth.session_token", "better-auth.session_data", "better-auth.dont_remember"] {
            assert!(resp.set_cookie(name).unwrap().contains("Max-Age=0"), "{name}");
        }
        assert!(resp.header("set-auth-token").is_none());
        assert_eq!(app.get_as(&user, "/get-session").await.text, "null");
        let again = app.post("/sign-out", json!({})).await;
        assert_eq!((again.status, again.body.clone()), (200, json!({"success": true})));
    }

    async fn list_sessions_shows_live_sessions_and_needs_a_fresh_one(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let resp = app.get_as(&user, "/list-sessions").await;
        assert_eq!(resp.status, 200);
        let tokens: Vec<_> = resp.body.as_array().unwrap().iter().map(|s| s["token"].as_str().unwrap().to_owned()).collect();
        assert!(tokens.contains(&user.token) && tokens.contains(&second.token), "{tokens:?}");
        assert_eq!(app.get("/list-sessions").await.status, 401);
        app.clock.advance(Duration::days(1));
        let stale = app.get_as(&user, "/list-sessions").await;
        assert_eq!((stale.status, stale.code()), (403, "SESSION_NOT_FRESH"));
    }

    async fn revoke_session_ends_only_the_callers_own_sessions(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let stranger = app.sign_up().await;
        let resp = app.post_as(&user, "/revoke-session", json!({"token": stranger.token})).await;
        assert_eq!((resp.status, resp.body.clone()), (200, json!({"status": true})));
        assert!(app.get_as(&stranger, "/get-session").await.body.is_object(), "someone else's session survives");
        let resp = app.post_as(&user, "/revoke-session", json!({"token": second.token})).await;
        assert_eq!(resp.body, json!({"status": true}));
        assert_eq!(app.get_as(&second, "/get-session").await.text, "null");
        assert!(app.get_as(&user, "/get-session").await.body.is_object());
        let missing = app.post_as(&user, "/revoke-session", json!({})).await;
        assert_eq!((missing.status, missing.code()), (400, "VALIDATION_ERROR"));
    }

    async fn revoke_other_sessions_keeps_the_current_one(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let resp = app.post_as(&user, "/revoke-other-sessions", json!({})).await;
        assert_eq!(resp.body, json!({"status": true}));
        assert_eq!(app.get_as(&second, "/get-session").await.text, "null");
        assert!(app.get_as(&user, "/get-session").await.body.is_object());
    }

    async fn revoke_sessions_ends_every_session_including_the_current_one(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let resp = app.post_as(&user, "/revoke-sessions", json!({})).await;
        assert_eq!(resp.body, json!({"status": true}));
        // The answer itself expires the session cookies, as Better Auth's does.
        assert_eq!(
            resp.set_cookie("better-auth.session_token").as_deref(),
            Some("better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax")
        );
        assert!(resp.set_cookie("better-auth.dont_remember").is_some());
        assert_eq!(app.get_as(&second, "/get-session").await.text, "null");
        assert_eq!(app.get_as(&user, "/get-session").await.text, "null");
        assert_eq!(app.post("/revoke-sessions", json!({})).await.status, 401);
    }
}

async fn a_cookie_signed_with_an_older_secret_is_accepted_and_re_signed(backend: Backend) {
    let old = "old-secret-old-secret-old-secret-0123";
    let new = "new-secret-new-secret-new-secret-4567";
    let app = TestApp::spawn_with(backend, |c| {
        c.secrets =
            tessera_auth::secret::SecretSet::parse_versioned(&format!("2:{new},1:{old}"), None)
                .unwrap();
    })
    .await;
    let user = app.sign_up().await;
    let old_cookie = format!(
        "better-auth.session_token={}",
        tessera_auth::cookies::encode_value(&signed_value(&Secret::new(old), &user.token))
    );
    let resp = app
        .send(Method::GET, "/get-session", None, Some(&old_cookie), &[])
        .await;
    assert_eq!(
        resp.body["user"]["id"],
        user.id.as_str(),
        "the old signature still verifies"
    );
    let renewed = resp
        .set_cookie("better-auth.session_token")
        .expect("re-signed cookie");
    let expected =
        tessera_auth::cookies::encode_value(&signed_value(&Secret::new(new), &user.token));
    assert!(
        renewed.starts_with(&format!("better-auth.session_token={expected};")),
        "{renewed}"
    );
    let current = app
        .send(Method::GET, "/get-session", None, Some(&user.cookie), &[])
        .await;
    assert!(
        current.set_cookies().is_empty(),
        "a current signature is left alone"
    );
    let unknown = format!(
        "better-auth.session_token={}",
        tessera_auth::cookies::encode_value(&signed_value(
            &Secret::new("retired-secret-retired-secret-0000"),
            &user.token
        ))
    );
    assert_eq!(
        app.send(Method::GET, "/get-session", None, Some(&unknown), &[])
            .await
            .text,
        "null"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_rotation_on_sqlite() {
    a_cookie_signed_with_an_older_secret_is_accepted_and_re_signed(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_rotation_on_postgres() {
    a_cookie_signed_with_an_older_secret_is_accepted_and_re_signed(Backend::Postgres).await;
}
