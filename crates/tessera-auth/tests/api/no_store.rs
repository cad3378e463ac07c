//! Answers that carry a session token, a JWT or a session list are never stored by a cache
//! (OWASP ASVS 5.0 14.3.2): `Cache-Control: no-store` and `Pragma: no-cache`. Only `/jwks`,
//! public keys, is cacheable.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[track_caller]
fn assert_no_store(resp: &Resp, what: &str) {
    assert_eq!(
        resp.header("cache-control"),
        Some("no-store"),
        "{what}: {resp:?}"
    );
    assert_eq!(resp.header("pragma"), Some("no-cache"), "{what}: {resp:?}");
}

on_both_backends! {
    async fn every_answer_that_carries_a_session_token_or_a_jwt_is_no_store(app) {
        let email = "no-store@example.com";
        let signed_up = app
            .post("/sign-up/email", json!({"name": "N", "email": email, "password": PASSWORD}))
            .await;
        assert_eq!(signed_up.status, 200, "{}", signed_up.text);
        assert!(signed_up.body["token"].is_string());
        assert_no_store(&signed_up, "sign-up");

        let signed_in = app
            .post("/sign-in/email", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text);
        assert!(signed_in.header("set-auth-token").is_some());
        assert_no_store(&signed_in, "sign-in");
        let user = app.user_from(&signed_in, email);

        let token = app.get_as(&user, "/token").await;
        assert!(token.body["token"].is_string(), "{}", token.text);
        assert_no_store(&token, "/token");

        let session = app.get_as(&user, "/get-session").await;
        assert!(session.header("set-auth-jwt").is_some(), "{}", session.text);
        assert_no_store(&session, "get-session");

        let sessions = app.get_as(&user, "/list-sessions").await;
        assert_eq!(sessions.body.as_array().map(Vec::len), Some(2), "{}", sessions.text);
        assert_no_store(&sessions, "list-sessions");

        // A new session cookie and token, the other sessions revoked.
        let changed = app
            .post_as(&user, "/change-password", json!({
                "currentPassword": PASSWORD,
                "newPassword": "another long password",
                "revokeOtherSessions": true,
            }))
            .await;
        assert_eq!(changed.status, 200, "{}", changed.text);
        assert!(changed.set_cookie(&app.state.cookies.session_token).is_some());
        assert_no_store(&changed, "change-password");
    }

    async fn refusals_are_no_store_too_and_only_the_jwks_is_cacheable(app) {
        let refused = app
            .post("/sign-in/email", json!({"email": "nobody@example.com", "password": PASSWORD}))
            .await;
        assert_eq!(refused.status, 401, "{}", refused.text);
        assert_no_store(&refused, "a failed sign-in");
        let anonymous = app.send(Method::GET, "/token", None, None, &[]).await;
        assert_eq!(anonymous.status, 401);
        assert_no_store(&anonymous, "an anonymous /token");

        let jwks = app.get("/jwks").await;
        assert_eq!(jwks.status, 200);
        let cache_control = jwks.header("cache-control").unwrap();
        assert!(cache_control.contains("max-age="), "{cache_control}");
        assert_eq!(jwks.header("pragma"), None);
    }
}
