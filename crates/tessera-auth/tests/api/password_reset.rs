//! Password reset from a link: Better Auth's `verification` rows (`reset-password:<token>`, value
//! the user id) taken as Better Auth writes them, the link's redirects, single use, expiry, and
//! the optional end of every session — on SQLite and PostgreSQL.

use chrono::Duration;
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use tessera_auth::audit::{AuditFilter, AuditKind};
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

async fn audit_events(app: &TestApp, kind: AuditKind) -> Vec<tessera_auth::audit::AuditEvent> {
    let filter = AuditFilter {
        limit: 1_000,
        ..AuditFilter::default()
    };
    let mut rows = app.state.store.list_audit(&filter).await.unwrap();
    rows.retain(|e| e.event == kind.as_str());
    rows
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
