//! Account deletion as Better Auth 1.7.25 does it: `POST /delete-user` off by default; with a
//! fresh session, a password, or the mailed link (`sendDeleteAccountVerification`) and its
//! `/delete-user/callback`; everything of the user goes, sessions through the revocation path.

use chrono::Duration;
use serde_json::json;
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;

use crate::helpers::*;

fn enabled(config: &mut AuthConfig) {
    config.delete_user.enabled = true;
}

fn by_mail(config: &mut AuthConfig) {
    enabled(config);
    config.delete_user.send_verification = true;
}

async fn exists(app: &TestApp, id: &str) -> bool {
    app.state.store.find_user_by_id(id).await.unwrap().is_some()
}

async fn count(app: &TestApp, sql: &str) -> usize {
    app.raw_sql(sql).await.len()
}

/// Asserts every session cookie is expired in `resp`.
fn assert_cookies_expired(app: &TestApp, resp: &Resp) {
    let cookie = resp
        .set_cookie(&app.state.cookies.session_token)
        .expect("the session cookie is expired");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
}

on_both_backends! {
    async fn delete_user_is_off_by_default_and_answers_as_better_auth_does(app) {
        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/delete-user", json!({})).await;
        assert_eq!((resp.status, resp.text.as_str()), (404, ""));
        assert_eq!(resp.header("content-type"), Some("application/json"), "Better Auth's bodiless JSON 404");
        let callback = app.get_as(&user, "/delete-user/callback?token=x").await;
        assert_eq!((callback.status, &callback.body), (404, &json!({"message": "Not found", "code": "NOT_FOUND"})));
        assert!(exists(&app, &user.id).await);
    }
}

on_both_backends! {
    config = enabled;

    async fn a_fresh_session_deletes_the_user_their_accounts_and_every_session_which_guards_see_revoked(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let resp = app.post_as(&user, "/delete-user", json!({})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"success": true, "message": "User deleted"})));
        assert_cookies_expired(&app, &resp);
        assert!(!exists(&app, &user.id).await);
        assert_eq!(count(&app, &format!(r#"SELECT "id" FROM "account" WHERE "userId" = '{}'"#, user.id)).await, 0);
        assert_eq!(count(&app, &format!(r#"SELECT "id" FROM "session" WHERE "userId" = '{}'"#, user.id)).await, 0);
        assert_eq!(count(&app, &format!(r#"SELECT "session_id" FROM "revocation" WHERE "user_id" = '{}'"#, user.id)).await, 2, "both sessions are recorded as revoked");
        let session = app.get_as(&second, "/get-session").await;
        assert_eq!(session.body, json!(null), "the other device is signed out");
        let deleted = audit_events(&app, AuditKind::AccountDeleted).await;
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].detail_json(), Some(json!({"via": "fresh_session"})));
        let revoked = audit_events(&app, AuditKind::SessionRevoked).await;
        assert_eq!(revoked[0].reason.as_deref(), Some("account_deleted"));
        let again = app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await;
        assert_eq!(again.status, 401, "the credential went with the user");
    }

    async fn a_session_older_than_fresh_age_needs_the_password(app) {
        let user = app.sign_up().await;
        app.clock.advance(Duration::days(1));
        let stale = app.post_as(&user, "/delete-user", json!({})).await;
        assert_eq!((stale.status, &stale.body), (400, &json!({"message": "Session expired. Re-authenticate to perform this action.", "code": "SESSION_EXPIRED"})));
        let wrong = app.post_as(&user, "/delete-user", json!({"password": "not the password"})).await;
        assert_eq!((wrong.status, wrong.code()), (400, "INVALID_PASSWORD"));
        let long = app.post_as(&user, "/delete-user", json!({"password": "z".repeat(129)})).await;
        assert_eq!((long.status, long.code()), (400, "PASSWORD_TOO_LONG"));
        assert!(exists(&app, &user.id).await);
        let ok = app.post_as(&user, "/delete-user", json!({"password": PASSWORD})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert!(!exists(&app, &user.id).await);
        assert_eq!(audit_events(&app, AuditKind::AccountDeleted).await[0].detail_json(), Some(json!({"via": "password"})));
    }

    async fn without_a_session_or_with_bad_fields_nothing_is_deleted(app) {
        let user = app.sign_up().await;
        let anonymous = app.post("/delete-user", json!({})).await;
        assert_eq!((anonymous.status, anonymous.code()), (401, "UNAUTHORIZED"));
        let typed = app.post_as(&user, "/delete-user", json!({"password": 12})).await;
        assert_eq!((typed.status, typed.code()), (400, "VALIDATION_ERROR"));
        let token = app.post_as(&user, "/delete-user", json!({"token": "not-a-token"})).await;
        assert_eq!((token.status, &token.body), (404, &json!({"message": "Invalid token", "code": "INVALID_TOKEN"})));
        assert!(exists(&app, &user.id).await);
    }
}

on_both_backends! {
    config = by_mail;

    async fn with_verification_the_mailed_link_deletes_only_when_followed_signed_in_as_the_user(app) {
        let user = app.sign_up().await;
        let other = app.sign_up().await;
        let resp = app.post_as(&user, "/delete-user", json!({"callbackURL": "/goodbye"})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"success": true, "message": "Verification email sent"})));
        assert!(exists(&app, &user.id).await, "nothing deleted before the link");
        let link = queued_links(&app, &user.email, "delete-account").await.pop().expect("the link is mailed");
        let token = link.split("token=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        assert_eq!(link, format!("{ORIGIN}/api/auth/delete-user/callback?token={token}&callbackURL=%2Fgoodbye"));
        assert!(token.len() == 32 && token.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()), "{token}");
        let stored = app.raw_sql(&format!(r#"SELECT "value" FROM "verification" WHERE "identifier" = 'delete-account-{token}'"#)).await;
        assert_eq!(stored, vec![user.id.clone()], "Better Auth's row");
        let anonymous = app.get(path_of(&link)).await;
        assert_eq!((anonymous.status, &anonymous.body), (404, &json!({"message": "Failed to get user info", "code": "FAILED_TO_GET_USER_INFO"})));
        let evil = app.get_as(&user, &format!("/delete-user/callback?token={token}&callbackURL=https%3A%2F%2Fevil.example")).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_CALLBACK_URL"));
        let followed = app.get_as(&user, path_of(&link)).await;
        assert_eq!((followed.status, followed.header("location")), (302, Some("/goodbye")));
        assert_cookies_expired(&app, &followed);
        assert!(!exists(&app, &user.id).await);
        assert!(exists(&app, &other.id).await);
        assert_eq!(audit_events(&app, AuditKind::AccountDeleted).await[0].detail_json(), Some(json!({"via": "token"})));
        assert_eq!(audit_events(&app, AuditKind::AccountDeletionRequested).await.len(), 1);
    }

    async fn a_deletion_token_is_spent_by_any_use_and_never_deletes_another_user(app) {
        let user = app.sign_up().await;
        let other = app.sign_up().await;
        app.post_as(&user, "/delete-user", json!({})).await;
        let link = queued_links(&app, &user.email, "delete-account").await.pop().unwrap();
        let token = link.split("token=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        let foreign = app.post_as(&other, "/delete-user", json!({"token": token})).await;
        assert_eq!((foreign.status, foreign.code()), (404, "INVALID_TOKEN"));
        assert!(exists(&app, &other.id).await && exists(&app, &user.id).await);
        let spent = app.post_as(&user, "/delete-user", json!({"token": token})).await;
        assert_eq!((spent.status, spent.code()), (404, "INVALID_TOKEN"), "Better Auth consumes the token before comparing");
        assert!(exists(&app, &user.id).await);
    }

    async fn an_expired_deletion_link_deletes_nothing_and_a_live_one_posted_back_deletes(app) {
        let user = app.sign_up().await;
        app.post_as(&user, "/delete-user", json!({})).await;
        let link = queued_links(&app, &user.email, "delete-account").await.pop().unwrap();
        app.clock.advance(Duration::seconds(86_400));
        let expired = app.get_as(&user, path_of(&link).split("&callbackURL").next().unwrap()).await;
        assert_eq!((expired.status, expired.code()), (404, "INVALID_TOKEN"));
        app.post_as(&user, "/delete-user", json!({})).await;
        let link = queued_links(&app, &user.email, "delete-account").await.pop().unwrap();
        let token = link.split("token=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        let resp = app.post_as(&user, "/delete-user", json!({"token": token})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"success": true, "message": "User deleted"})));
        assert!(!exists(&app, &user.id).await);
    }
}

fn both_enabled(config: &mut AuthConfig) {
    enabled(config);
    config.change_email.enabled = true;
}

on_both_backends! {
    config = both_enabled;

    async fn a_cross_site_cookie_post_can_neither_delete_the_account_nor_change_its_address(app) {
        let user = app.sign_up().await;
        for (path, body) in [("/delete-user", json!({})), ("/change-email", json!({"newEmail": "attacker@evil.example"}))] {
            let headers = [("cookie", user.cookie.as_str()), ("origin", "http://evil.example")];
            let resp = app.send(reqwest::Method::POST, path, Some(body), None, &headers).await;
            assert_eq!((resp.status, resp.code()), (403, "INVALID_ORIGIN"), "{path}");
        }
        assert!(exists(&app, &user.id).await);
        assert!(queued_links(&app, "attacker@evil.example", "change-email-verification").await.is_empty());
    }
}
