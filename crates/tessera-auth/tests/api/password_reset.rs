//! Password reset from a link: Better Auth's `verification` rows (`reset-password:<token>`, value
//! the user id) taken as Better Auth writes them, the link's redirects, single use, expiry, and
//! the optional end of every session — on SQLite and PostgreSQL.

use chrono::Duration;
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;

use crate::helpers::*;

/// Issues a reset token for `user_id` the way Better Auth's `request-password-reset` stores it,
/// valid for an hour from the test clock's now.
async fn issue_token(app: &TestApp, user_id: &str, token: &str) {
    let now = app.state.clock.now();
    app.state
        .store
        .create_verification(
            &format!("reset-password:{token}"),
            user_id,
            now + Duration::hours(1),
            now,
        )
        .await
        .unwrap();
}

fn revoke_on_reset(config: &mut AuthConfig) {
    config.password_reset.revoke_sessions = true;
}

on_both_backends! {
    async fn a_reset_token_sets_the_new_password_once_and_keeps_the_sessions_by_default(app) {
        let user = app.sign_up().await;
        let token = "AbCdEfGhIjKlMnOpQrStUvWx";
        issue_token(&app, &user.id, token).await;
        let resp = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": token})).await;
        assert_eq!((resp.status, resp.body.clone()), (200, json!({"status": true})), "{}", resp.text);
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await.status, 401);
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": "a brand new password"})).await.status, 200);
        assert!(app.get_as(&user, "/get-session").await.body.is_object(), "sessions survive by default");
        let again = app.post("/reset-password", json!({"newPassword": "yet another password", "token": token})).await;
        assert_eq!((again.status, again.body.clone()), (400, json!({"message": "Invalid token", "code": "INVALID_TOKEN"})), "single use");
        let rows = app.raw_sql(r#"SELECT "identifier" FROM "verification""#).await;
        assert!(rows.is_empty(), "the row is spent: {rows:?}");
        let reset = audit_events(&app, AuditKind::PasswordReset).await;
        assert_eq!(reset.len(), 1);
        assert_eq!(reset[0].user_id.as_deref(), Some(user.id.as_str()));
    }

    async fn a_reset_token_is_accepted_in_the_query_too(app) {
        let user = app.sign_up().await;
        issue_token(&app, &user.id, "QueryTokenQueryTokenQuer").await;
        let resp = app.post("/reset-password?token=QueryTokenQueryTokenQuer", json!({"newPassword": "a brand new password"})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
    }

    async fn an_expired_reset_token_is_invalid_and_sets_nothing(app) {
        let user = app.sign_up().await;
        issue_token(&app, &user.id, "ExpiredTokenExpiredToken").await;
        app.clock.advance(Duration::seconds(3601));
        let resp = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": "ExpiredTokenExpiredToken"})).await;
        assert_eq!(resp.code(), "INVALID_TOKEN");
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await.status, 200);
        let link = app.get("/reset-password/ExpiredTokenExpiredToken?callbackURL=%2Freset").await;
        assert_eq!(link.status, 302);
        assert_eq!(link.header("location"), Some(format!("{ORIGIN}/reset?error=INVALID_TOKEN").as_str()));
    }

    async fn a_reset_checks_the_new_password_before_spending_the_token(app) {
        let user = app.sign_up().await;
        issue_token(&app, &user.id, "PolicyTokenPolicyTokenPo").await;
        let short = app.post("/reset-password", json!({"newPassword": "short", "token": "PolicyTokenPolicyTokenPo"})).await;
        assert_eq!(short.code(), "PASSWORD_TOO_SHORT");
        let ok = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": "PolicyTokenPolicyTokenPo"})).await;
        assert_eq!(ok.status, 200, "the refused attempt did not spend the token: {}", ok.text);
    }

    async fn concurrent_resets_with_one_token_set_exactly_one_password(app) {
        let user = app.sign_up().await;
        issue_token(&app, &user.id, "RaceTokenRaceTokenRaceTo").await;
        let attempts = (0..6).map(|i| {
            let app = &app;
            async move {
                app.post("/reset-password", json!({"newPassword": format!("racing password {i}"), "token": "RaceTokenRaceTokenRaceTo"})).await
            }
        });
        let answers = join_all(attempts).await;
        let won: Vec<_> = answers.iter().filter(|r| r.status == 200).collect();
        assert_eq!(won.len(), 1, "{:?}", answers.iter().map(|r| &r.text).collect::<Vec<_>>());
        assert!(answers.iter().filter(|r| r.status != 200).all(|r| r.code() == "INVALID_TOKEN"));
        assert_eq!(audit_events(&app, AuditKind::PasswordReset).await.len(), 1);
    }

    async fn the_reset_link_redirects_with_the_token_to_a_trusted_callback_only(app) {
        let user = app.sign_up().await;
        issue_token(&app, &user.id, "LinkTokenLinkTokenLinkTo").await;
        let ok = app.get("/reset-password/LinkTokenLinkTokenLinkTo?callbackURL=%2Freset%3Ftoken%3Dold%26a%3D1").await;
        assert_eq!(ok.status, 302);
        assert_eq!(ok.header("location"), Some(format!("{ORIGIN}/reset?a=1&token=LinkTokenLinkTokenLinkTo").as_str()));
        let evil = app.get("/reset-password/LinkTokenLinkTokenLinkTo?callbackURL=https%3A%2F%2Fevil.example%2F").await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_CALLBACK_URL"));
        assert_eq!(evil.header("location"), None, "no open redirect");
        let unknown = app.get("/reset-password/NoSuchToken?callbackURL=%2Freset").await;
        assert_eq!(unknown.header("location"), Some(format!("{ORIGIN}/reset?error=INVALID_TOKEN").as_str()));
        // Landing on the link spends nothing.
        let resp = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": "LinkTokenLinkTokenLinkTo"})).await;
        assert_eq!(resp.status, 200);
    }

    async fn a_reset_for_a_deleted_user_is_user_not_found(app) {
        let user = app.sign_up().await;
        issue_token(&app, "NoSuchUserNoSuchUserNoSuchUser00", "GoneTokenGoneTokenGoneTo").await;
        let resp = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": "GoneTokenGoneTokenGoneTo"})).await;
        assert_eq!((resp.status, resp.code()), (400, "USER_NOT_FOUND"));
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await.status, 200);
    }

    async fn a_user_without_a_password_gets_a_credential_account_from_a_reset(app) {
        let user = app.sign_up().await;
        app.raw_sql(&format!(r#"DELETE FROM "account" WHERE "userId" = '{}'"#, user.id)).await;
        issue_token(&app, &user.id, "SocialTokenSocialTokenSo").await;
        let resp = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": "SocialTokenSocialTokenSo"})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let signed_in = app.post("/sign-in/email", json!({"email": user.email, "password": "a brand new password"})).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    }
}

on_both_backends! {
    config = revoke_on_reset;

    async fn with_revoke_sessions_on_reset_every_session_ends_and_is_announced(app) {
        let user = app.sign_up().await;
        let other = app.sign_in(&user.email, PASSWORD).await;
        issue_token(&app, &user.id, "RevokeTokenRevokeTokenRe").await;
        let resp = app
            .send(Method::POST, "/reset-password", Some(json!({"newPassword": "a brand new password", "token": "RevokeTokenRevokeTokenRe"})), None, &[])
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(app.get_as(&user, "/get-session").await.text, "null");
        assert_eq!(app.get_as(&other, "/get-session").await.text, "null");
        let revoked = audit_events(&app, AuditKind::SessionRevoked).await;
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].reason.as_deref(), Some("password_reset"));
        let feed = app.get("/revocations").await;
        assert_eq!(feed.body["revoked"].as_array().map(Vec::len), Some(2), "{}", feed.text);
    }
}

on_both_backends! {

    async fn a_reset_request_answers_the_same_for_any_address_and_queues_a_link_only_for_an_account(app) {
        let user = app.sign_up().await;
        let known = app.post("/request-password-reset", json!({"email": user.email, "redirectTo": "/reset?x=1"})).await;
        let unknown = app.post("/request-password-reset", json!({"email": "nobody-here@example.com"})).await;
        let expected = json!({"status": true, "message": "If this email exists in our system, check your email for the reset link"});
        assert_eq!((known.status, &known.body), (200, &expected));
        assert_eq!((unknown.status, &unknown.body), (200, &expected));
        assert_eq!(known.set_cookies(), unknown.set_cookies());
        events_written(&app, AuditKind::PasswordResetRequested, 2).await;
        assert!(queued_links(&app, "nobody-here@example.com", "reset-password").await.is_empty());
        let links = queued_links(&app, &user.email, "reset-password").await;
        assert_eq!(links.len(), 1);
        let prefix = format!("{ORIGIN}/api/auth/reset-password/");
        let rest = links[0].strip_prefix(&prefix).expect("Better Auth's link from the base URL");
        let (token, query) = rest.split_once('?').unwrap();
        assert_eq!(query, "callbackURL=%2Freset%3Fx%3D1", "encodeURIComponent of redirectTo");
        assert_eq!(token.len(), 24);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        let rows = app.raw_sql(&format!(r#"SELECT "value" FROM "verification" WHERE "identifier" = 'reset-password:{token}'"#)).await;
        assert_eq!(rows, std::slice::from_ref(&user.id), "Better Auth's verification row");
        let landing = app.get(&links[0][ORIGIN.len() + "/api/auth".len()..]).await;
        assert_eq!(landing.header("location"), Some(format!("{ORIGIN}/reset?x=1&token={token}").as_str()));
        let reset = app.post("/reset-password", json!({"newPassword": "a brand new password", "token": token})).await;
        assert_eq!(reset.status, 200, "{}", reset.text);
    }

    async fn an_address_gets_at_most_three_reset_mails_an_hour_whoever_asks(app) {
        let user = app.sign_up().await;
        for sent in 1..=5 {
            let resp = app.post("/request-password-reset", json!({"email": user.email})).await;
            assert_eq!(resp.status, 200, "the answer never changes");
            // One at a time, so the count each request sees is settled.
            events_written(&app, AuditKind::PasswordResetRequested, sent).await;
        }
        assert_eq!(queued_links(&app, &user.email, "reset-password").await.len(), 3);
        let limited = audit_events(&app, AuditKind::PasswordResetRequested).await;
        assert_eq!(limited.iter().filter(|e| e.reason.as_deref() == Some("recipient_limit")).count(), 2);
        app.clock.advance(Duration::minutes(61));
        app.post("/request-password-reset", json!({"email": user.email})).await;
        events_written(&app, AuditKind::PasswordResetRequested, 6).await;
        assert_eq!(queued_links(&app, &user.email, "reset-password").await.len(), 4, "a new hour, a new allowance");
    }

    async fn concurrent_requests_for_one_address_still_send_at_most_three_mails(app) {
        let user = app.sign_up().await;
        let answers = join_all((0..8).map(|_| app.post("/request-password-reset", json!({"email": user.email})))).await;
        assert!(answers.iter().all(|a| a.status == 200));
        events_written(&app, AuditKind::PasswordResetRequested, 8).await;
        assert_eq!(queued_links(&app, &user.email, "reset-password").await.len(), 3, "the allowance holds under concurrency");
        let limited = audit_events(&app, AuditKind::PasswordResetRequested).await;
        assert_eq!(limited.iter().filter(|e| e.reason.as_deref() == Some("recipient_limit")).count(), 5);
    }

    async fn a_reset_request_refuses_an_untrusted_redirect_and_a_bad_address(app) {
        let evil = app.post("/request-password-reset", json!({"email": "a@example.com", "redirectTo": "https://evil.example/"})).await;
        assert_eq!(evil.status, 403, "{}", evil.text);
        let bad = app.post("/request-password-reset", json!({"email": "not-an-email"})).await;
        assert_eq!(bad.status, 400);
        assert!(audit_events(&app, AuditKind::PasswordResetRequested).await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mail_delivery_a_reset_request_is_better_auths_reset_password_disabled() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_without_mail(backend).await;
        let user = app.sign_up().await;
        let resp = app
            .post("/request-password-reset", json!({"email": user.email}))
            .await;
        assert_eq!(
            (resp.status, resp.body.clone()),
            (
                400,
                json!({"message": "Reset password isn't enabled", "code": "RESET_PASSWORD_DISABLED"})
            )
        );
        assert!(
            app.raw_sql(r#"SELECT "id" FROM "verification""#)
                .await
                .is_empty()
        );
    }
}
