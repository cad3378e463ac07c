use serde_json::json;

use crate::helpers::*;

on_both_backends! {
    async fn the_right_password_opens_a_new_session(app) {
        let user = app.sign_up().await;
        let resp = app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["redirect"], false);
        assert!(resp.body.get("url").is_none());
        assert_eq!(resp.body["user"]["id"], user.id.as_str());
        let token = resp.body["token"].as_str().unwrap();
        assert_ne!(token, user.token, "a new session, not the sign-up one");
        assert!(resp.set_cookie("better-auth.session_token").unwrap().contains("Max-Age=604800"));
    }

    async fn a_wrong_password_and_an_unknown_email_get_identical_answers(app) {
        let user = app.sign_up().await;
        let wrong = app.post("/sign-in/email", json!({"email": user.email, "password": "wrong password"})).await;
        let unknown = app.post("/sign-in/email", json!({"email": "nobody@example.com", "password": "wrong password"})).await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.body, json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD"}));
        assert_eq!((wrong.status, &wrong.text), (unknown.status, &unknown.text));
        assert!(wrong.set_cookies().is_empty() && unknown.set_cookies().is_empty());
    }

    async fn a_malformed_email_is_400_invalid_email(app) {
        let resp = app.post("/sign-in/email", json!({"email": "nope", "password": PASSWORD})).await;
        assert_eq!(resp.status, 400);
        assert_eq!(resp.body, json!({"message": "Invalid email", "code": "INVALID_EMAIL"}));
    }

    async fn a_callback_url_asks_the_client_to_redirect(app) {
        let user = app.sign_up().await;
        let resp = app
            .post("/sign-in/email", json!({"email": user.email, "password": PASSWORD, "callbackURL": "/tasks"}))
            .await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body["redirect"], true);
        assert_eq!(resp.body["url"], "/tasks");
        assert_eq!(resp.header("location"), Some("/tasks"));
    }

    async fn remember_me_false_gives_a_browser_session_cookie_that_never_slides(app) {
        let user = app.sign_up().await;
        let resp = app
            .post("/sign-in/email", json!({"email": user.email, "password": PASSWORD, "rememberMe": false}))
            .await;
        assert_eq!(resp.status, 200);
        let session_cookie = resp.set_cookie("better-auth.session_token").unwrap();
        assert!(!session_cookie.contains("Max-Age"), "{session_cookie}");
        let marker = resp.set_cookie("better-auth.dont_remember").unwrap();
        assert!(marker.starts_with("better-auth.dont_remember=true."), "{marker}");
        let signed_in = app.user_from(&resp, &user.email);
        let cookie = format!("{}; {}", signed_in.cookie, marker.split(';').next().unwrap());
        let as_user = TestUser { cookie, ..signed_in };
        let session = app.get_as(&as_user, "/get-session").await;
        let created = chrono::DateTime::parse_from_rfc3339(session.body["session"]["createdAt"].as_str().unwrap()).unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(session.body["session"]["expiresAt"].as_str().unwrap()).unwrap();
        assert_eq!(expires - created, chrono::Duration::days(1));
        app.clock.advance(chrono::Duration::hours(23));
        let later = app.get_as(&as_user, "/get-session").await;
        assert_eq!(later.body["session"]["expiresAt"], session.body["session"]["expiresAt"], "no sliding");
        assert!(later.set_cookies().is_empty());
        app.clock.advance(chrono::Duration::hours(2));
        assert!(app.get_as(&as_user, "/get-session").await.body.is_null());
    }

    async fn a_better_auth_scrypt_hash_signs_in_and_is_upgraded_to_argon2id(app) {
        let user = app.sign_up().await;
        let account = app.state.store.find_credential_account(&user.id).await.unwrap().unwrap();
        // Better Auth's test vector for "password123".
        let scrypt = "0123456789abcdef0123456789abcdef:e8b256b6f9f4b1641136a66d4a26ba41a47b6c8c9bad6aa4145559ffda45ece1f0f16dec8482a3e5545feada0ba62f2b05eeb943b750c9396874e1762c78d27d";
        app.state.store.update_password(&account.id, scrypt, chrono::Utc::now(), None).await.unwrap();
        let resp = app.post("/sign-in/email", json!({"email": user.email, "password": "password123"})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let upgraded = app.state.store.find_credential_account(&user.id).await.unwrap().unwrap();
        assert!(upgraded.password.unwrap().starts_with("$argon2id$"));
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": "password123"})).await.status, 200);
    }

    async fn concurrent_sign_ins_never_run_more_hashes_than_the_cap(app) {
        // Every attempt in flight holds a slot of the per-account throttle (10 per account and
        // address), so the 25 successes are spread over three accounts to stay under it.
        let users = [app.sign_up().await, app.sign_up().await, app.sign_up().await];
        let cap = app.state.email_password.hasher.cap();
        let app = &app;
        let attempts = (0..50).map(|i| {
            // Failures use distinct unknown emails so the per-account throttle stays out of it.
            let body = if i % 2 == 0 {
                json!({"email": users[i / 2 % 3].email, "password": PASSWORD})
            } else {
                json!({"email": format!("nobody-{i}@example.com"), "password": "wrong password"})
            };
            async move { app.post("/sign-in/email", body).await.status }
        });
        let statuses = futures::future::join_all(attempts).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 25);
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 25);
        let peak = app.state.email_password.hasher.peak_concurrency();
        assert!(peak <= cap, "peak {peak} exceeded the cap {cap}");
        assert_eq!(peak, cap, "the cap was never reached, so this run proved nothing");
    }
}
