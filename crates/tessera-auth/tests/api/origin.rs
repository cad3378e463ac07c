use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

on_both_backends! {
    async fn a_cookie_carrying_post_needs_a_trusted_origin(app) {
        let user = app.sign_up().await;
        let no_origin = reqwest::Client::new()
            .post(app.url("/revoke-other-sessions"))
            .header("cookie", &user.cookie)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(no_origin.status(), 403);
        assert_eq!(no_origin.json::<serde_json::Value>().await.unwrap()["code"], "MISSING_OR_NULL_ORIGIN");
        let untrusted = reqwest::Client::new()
            .post(app.url("/sign-out"))
            .header("cookie", &user.cookie)
            .header("origin", "http://evil.example")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(untrusted.status(), 403);
        assert_eq!(untrusted.json::<serde_json::Value>().await.unwrap()["code"], "INVALID_ORIGIN");
        assert!(app.get_as(&user, "/get-session").await.body.is_object(), "the refused sign-out changed nothing");
        let frontend = reqwest::Client::new()
            .post(app.url("/sign-out"))
            .header("cookie", &user.cookie)
            .header("origin", FRONTEND)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(frontend.status(), 200);
    }

    async fn bearer_only_requests_are_not_origin_checked(app) {
        let user = app.sign_up().await;
        let auth = format!("Bearer {}", user.token);
        let resp = app.send(Method::POST, "/revoke-other-sessions", Some(json!({})), None, &[("authorization", &auth)]).await;
        assert_eq!(resp.status, 200);
    }

    async fn a_cross_site_navigation_cannot_sign_in_but_curl_can(app) {
        let user = app.sign_up().await;
        let body = json!({"email": user.email, "password": PASSWORD});
        let nav = app
            .send(Method::POST, "/sign-in/email", Some(body.clone()), None, &[("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate"), ("origin", "http://evil.example")])
            .await;
        assert_eq!((nav.status, nav.code()), (403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"));
        let evil = app.send(Method::POST, "/sign-in/email", Some(body.clone()), None, &[("origin", "http://evil.example")]).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_ORIGIN"));
        let same_site = app
            .send(Method::POST, "/sign-in/email", Some(body.clone()), None, &[("sec-fetch-site", "same-origin"), ("origin", ORIGIN)])
            .await;
        assert_eq!(same_site.status, 200);
        assert_eq!(app.post("/sign-in/email", body).await.status, 200);
    }

    async fn redirect_targets_are_vetted_on_every_post_in_body_and_query(app) {
        let user = app.sign_up().await;
        // No cookie needed: Better Auth checks them for every state-changing request.
        let query = app.post("/sign-out?callbackURL=https%3A%2F%2Fevil.example", json!({})).await;
        assert_eq!((query.status, query.body.clone()), (403, json!({"message": "Invalid callbackURL", "code": "INVALID_CALLBACK_URL"})));
        for (field, code) in [("redirectTo", "INVALID_REDIRECT_URL"), ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"), ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL")] {
            let resp = app.post_as(&user, "/revoke-session", json!({"token": "x", field: "https://evil.example"})).await;
            assert_eq!((resp.status, resp.code()), (403, code), "{field}");
        }
        let number = app.post("/sign-up/email", json!({"name": "A", "email": "n@b.co", "password": PASSWORD, "callbackURL": 5})).await;
        assert_eq!((number.status, number.body.clone()), (400, json!({"message": "Invalid callbackURL: expected a string"})));
        let relative = app.post_as(&user, "/revoke-session", json!({"token": "x", "callbackURL": "/tasks"})).await;
        assert_eq!(relative.body, json!({"status": true}));
    }

    async fn a_null_origin_on_a_same_origin_fetch_is_the_servers_own_origin(app) {
        let user = app.sign_up().await;
        // The Host header names the server's own origin (its base URL is http://localhost:3000).
        let resp = reqwest::Client::new()
            .post(app.url("/revoke-session"))
            .header("cookie", &user.cookie)
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .header("host", "localhost:3000")
            .json(&json!({"token": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let cross = reqwest::Client::new()
            .post(app.url("/revoke-session"))
            .header("cookie", &user.cookie)
            .header("origin", "null")
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"token": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403);
    }
}
