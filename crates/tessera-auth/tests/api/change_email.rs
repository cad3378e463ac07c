//! Email change as Better Auth 1.7.25 does it: `POST /change-email` off by default; the
//! verification link to the new address, the confirmation to the current one first, the direct
//! update of an unverified user; the links' landing on `/verify-email`; what it refuses.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;

use crate::helpers::*;

fn enabled(config: &mut AuthConfig) {
    config.change_email.enabled = true;
}

fn with_confirmation(config: &mut AuthConfig) {
    enabled(config);
    config.change_email.send_confirmation = true;
}

fn without_verification(config: &mut AuthConfig) {
    enabled(config);
    config.change_email.update_without_verification = true;
}

/// A link's JWT payload.
fn claims_of(link: &str) -> Value {
    let query = link.split_once('?').unwrap().1;
    let token = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    jwt_payload(&token)
}

async fn verify(app: &TestApp, user: &TestUser) {
    app.raw_sql(&format!(
        r#"UPDATE "user" SET "emailVerified" = true WHERE "id" = '{}'"#,
        user.id
    ))
    .await;
}

fn fresh_address() -> String {
    format!(
        "new-{}@example.com",
        tessera_auth::ids::generate_id(8).to_lowercase()
    )
}

async fn email_of(app: &TestApp, id: &str) -> (String, bool) {
    let user = app.state.store.find_user_by_id(id).await.unwrap().unwrap();
    (user.email, user.email_verified)
}

on_both_backends! {
    async fn change_email_is_off_by_default_as_in_better_auth(app) {
        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/change-email", json!({"newEmail": fresh_address()})).await;
        assert_eq!((resp.status, &resp.body), (400, &json!({"message": "Change email is disabled", "code": "CHANGE_EMAIL_DISABLED"})));
    }
}

on_both_backends! {
    config = enabled;

    async fn a_verified_user_is_mailed_a_link_at_the_new_address_that_moves_the_account_there_verified(app) {
        let user = app.sign_up().await;
        verify(&app, &user).await;
        let new = fresh_address();
        let resp = app.post_as(&user, "/change-email", json!({"newEmail": new.to_uppercase(), "callbackURL": "/moved"})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"status": true})));
        let link = queued_links(&app, &new, "change-email-verification").await.pop().expect("mailed to the new address");
        assert!(link.starts_with(&format!("{ORIGIN}/api/auth/verify-email?token=")) && link.ends_with("&callbackURL=%2Fmoved"), "{link}");
        let claims = claims_of(&link);
        assert_eq!(claims["email"], json!(user.email));
        assert_eq!(claims["updateTo"], json!(new));
        assert_eq!(claims["requestType"], json!("change-email-verification"));
        assert_eq!(claims["userId"], json!(user.id));
        assert_eq!(email_of(&app, &user.id).await, (user.email.clone(), true), "nothing changes before the link");
        let token_only = path_of(&link).split("&callbackURL").next().unwrap().to_owned();
        let followed = app.get_as(&user, &token_only).await;
        assert_eq!(followed.status, 200, "{}", followed.text);
        assert_eq!(followed.body["status"], json!(true));
        assert_eq!(followed.body["user"]["email"], json!(new));
        assert_eq!(followed.body["user"]["emailVerified"], json!(true));
        assert!(followed.set_cookie(&app.state.cookies.session_token).is_some(), "the session cookie is re-set");
        assert_eq!(email_of(&app, &user.id).await, (new.clone(), true));
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!(session.body["user"]["email"], json!(new), "the session sees the new address at once");
        let changed = audit_events(&app, AuditKind::EmailChanged).await;
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].detail_json(), Some(json!({"via": "verification_link", "email_verified": true})));
        let again = app.get(&token_only).await;
        assert_eq!((again.status, again.code()), (401, "INVALID_TOKEN"), "the account has moved: the link is spent");
    }

    async fn an_unverified_user_s_new_address_stays_unverified_and_without_mail_nothing_can_run(app) {
        let user = app.sign_up().await;
        let new = fresh_address();
        assert_eq!(app.post_as(&user, "/change-email", json!({"newEmail": new})).await.status, 200);
        let link = queued_links(&app, &new, "change-email-verification").await.pop().unwrap();
        let followed = app.get(&format!("{}&callbackURL=%2Fdone", path_of(&link).split("&callbackURL").next().unwrap())).await;
        assert_eq!((followed.status, followed.header("location")), (302, Some("/done")));
        assert_eq!(email_of(&app, &user.id).await, (new, false));
    }

    async fn a_taken_address_answers_the_same_and_mails_nothing_and_the_same_address_is_refused(app) {
        let user = app.sign_up().await;
        let other = app.sign_up().await;
        let taken = app.post_as(&user, "/change-email", json!({"newEmail": other.email})).await;
        assert_eq!((taken.status, &taken.body), (200, &json!({"status": true})));
        assert!(queued_links(&app, &other.email, "change-email-verification").await.is_empty());
        let taken_events = audit_events(&app, AuditKind::EmailChangeRequested).await;
        assert_eq!(taken_events[0].reason.as_deref(), Some("address_taken"));
        let same = app.post_as(&user, "/change-email", json!({"newEmail": user.email.to_uppercase()})).await;
        assert_eq!((same.status, &same.body), (400, &json!({"message": "Email is the same"})));
        let bad = app.post_as(&user, "/change-email", json!({"newEmail": "not-an-address"})).await;
        assert_eq!((bad.status, bad.code()), (400, "VALIDATION_ERROR"));
        let anonymous = app.post("/change-email", json!({"newEmail": fresh_address()})).await;
        assert_eq!((anonymous.status, anonymous.code()), (401, "UNAUTHORIZED"));
        let evil = app.post_as(&user, "/change-email", json!({"newEmail": fresh_address(), "callbackURL": "https://evil.example/"})).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_CALLBACK_URL"));
    }

    async fn a_link_whose_new_address_was_taken_meanwhile_is_refused_without_a_server_error(app) {
        let user = app.sign_up().await;
        let new = fresh_address();
        app.post_as(&user, "/change-email", json!({"newEmail": new})).await;
        let link = queued_links(&app, &new, "change-email-verification").await.pop().unwrap();
        let resp = app.post("/sign-up/email", json!({"name": "Squatter", "email": new, "password": PASSWORD})).await;
        assert_eq!(resp.status, 200);
        let followed = app.get(path_of(&link).split("&callbackURL").next().unwrap()).await;
        assert_eq!((followed.status, followed.code()), (401, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"));
        assert_eq!(email_of(&app, &user.id).await.0, user.email);
    }

    async fn a_change_link_followed_while_signed_in_as_someone_else_is_invalid_user(app) {
        let user = app.sign_up().await;
        let other = app.sign_up().await;
        let new = fresh_address();
        app.post_as(&user, "/change-email", json!({"newEmail": new})).await;
        let link = queued_links(&app, &new, "change-email-verification").await.pop().unwrap();
        let path = path_of(&link).split("&callbackURL").next().unwrap().to_owned();
        let resp = app.get_as(&other, &path).await;
        assert_eq!((resp.status, &resp.body), (401, &json!({"message": "Invalid user", "code": "INVALID_USER"})));
        let redirected = app.get_as(&other, &format!("{path}&callbackURL=%2Fx")).await;
        assert_eq!(redirected.header("location"), Some("/x?error=INVALID_USER"));
        assert_eq!(email_of(&app, &user.id).await.0, user.email);
    }
}

on_both_backends! {
    config = with_confirmation;

    async fn with_confirmation_the_current_address_approves_first_then_the_new_one_verifies(app) {
        let user = app.sign_up().await;
        verify(&app, &user).await;
        let new = fresh_address();
        let resp = app.post_as(&user, "/change-email", json!({"newEmail": new, "callbackURL": "/settings"})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"status": true})));
        assert!(queued_links(&app, &new, "change-email-verification").await.is_empty(), "nothing to the new address yet");
        let approve = queued_links(&app, &user.email, "change-email-confirmation").await.pop().expect("mailed to the current address");
        let claims = claims_of(&approve);
        assert_eq!((claims["email"].as_str(), claims["updateTo"].as_str()), (Some(user.email.as_str()), Some(new.as_str())));
        assert_eq!(claims["requestType"], json!("change-email-confirmation"));
        let payload = app.raw_sql(&format!(r#"SELECT "payload" FROM "mail_outbox" WHERE "kind" = 'change-email-confirmation' AND "recipient" = '{}'"#, user.email)).await;
        assert!(payload[0].contains(&new), "the mail names the new address");
        let approved = app.get(path_of(&approve)).await;
        assert_eq!((approved.status, approved.header("location")), (302, Some("/settings")));
        assert_eq!(email_of(&app, &user.id).await.0, user.email, "approval alone moves nothing");
        let verify_link = queued_links(&app, &new, "change-email-verification").await.pop().expect("approval mails the new address");
        assert!(verify_link.ends_with("&callbackURL=%2Fsettings"), "{verify_link}");
        let done = app.get(path_of(&verify_link).split("&callbackURL").next().unwrap()).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(email_of(&app, &user.id).await, (new, true));
    }

    async fn an_unverified_user_is_not_asked_for_confirmation(app) {
        let user = app.sign_up().await;
        let new = fresh_address();
        app.post_as(&user, "/change-email", json!({"newEmail": new})).await;
        assert!(queued_links(&app, &user.email, "change-email-confirmation").await.is_empty());
        assert_eq!(queued_links(&app, &new, "change-email-verification").await.len(), 1);
    }

    async fn the_new_address_gets_at_most_three_change_mails_an_hour(app) {
        let user = app.sign_up().await;
        let new = fresh_address();
        for _ in 0..5 {
            let resp = app.send(Method::POST, "/change-email", Some(json!({"newEmail": new})), Some(&user.cookie), &[]).await;
            assert_eq!(resp.status, 200);
        }
        assert_eq!(queued_links(&app, &new, "change-email-verification").await.len(), 3);
        let limited = audit_events(&app, AuditKind::EmailChangeRequested).await;
        assert_eq!(limited.iter().filter(|e| e.reason.as_deref() == Some("recipient_limit")).count(), 2);
    }
}

on_both_backends! {
    config = without_verification;

    async fn an_unverified_user_s_address_changes_at_once_and_the_new_one_is_mailed_a_verification_link(app) {
        let user = app.sign_up().await;
        let new = fresh_address();
        let resp = app.post_as(&user, "/change-email", json!({"newEmail": new})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"status": true})));
        assert!(resp.set_cookie(&app.state.cookies.session_token).is_some());
        assert_eq!(email_of(&app, &user.id).await, (new.clone(), false));
        let link = queued_links(&app, &new, "verify-email").await.pop().expect("a plain verification link");
        let claims = claims_of(&link);
        assert_eq!((claims["email"].as_str(), claims.get("updateTo")), (Some(new.as_str()), None));
        assert_eq!(app.get(path_of(&link)).await.status, 302);
        assert_eq!(email_of(&app, &user.id).await, (new, true));
        let changed = audit_events(&app, AuditKind::EmailChanged).await;
        assert_eq!(changed[0].detail_json(), Some(json!({"via": "unverified_update", "email_verified": false})));
    }
}
