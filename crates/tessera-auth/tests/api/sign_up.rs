use serde_json::json;
use tessera_auth::cookies::{encode_value, signed_value};
use tessera_auth::secret::Secret;

use crate::helpers::*;

fn is_iso_millis(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

on_both_backends! {
    async fn sign_up_returns_the_user_and_a_signed_session_cookie(app) {
        let resp = app
            .post("/sign-up/email", json!({"name": "Ada", "email": "Ada@Example.COM", "password": PASSWORD}))
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let user = &resp.body["user"];
        assert_eq!(user["email"], "ada@example.com");
        assert_eq!(user["name"], "Ada");
        assert_eq!(user["emailVerified"], false);
        assert!(user["image"].is_null());
        assert_eq!(user["id"].as_str().unwrap().len(), 32);
        assert!(is_iso_millis(&user["createdAt"]) && is_iso_millis(&user["updatedAt"]), "{user}");
        let keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 7, "{keys:?}");
        let token = resp.body["token"].as_str().unwrap();
        assert_eq!(token.len(), 32);
        let expected_value = encode_value(&signed_value(&Secret::new(SECRET), token));
        assert_eq!(
            resp.set_cookie("better-auth.session_token").unwrap(),
            format!("better-auth.session_token={expected_value}; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax")
        );
        assert_eq!(resp.header("set-auth-token").unwrap(), signed_value(&Secret::new(SECRET), token));
        assert!(resp.header("access-control-expose-headers").unwrap().contains("set-auth-token"));
    }

    async fn signing_up_twice_with_the_same_email_in_any_case_is_422(app) {
        let first = app.sign_up().await;
        let resp = app
            .post("/sign-up/email", json!({"name": "X", "email": first.email.to_uppercase(), "password": PASSWORD}))
            .await;
        assert_eq!(resp.status, 422);
        assert_eq!(resp.body, json!({"message": "User already exists. Use another email.", "code": "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"}));
        assert!(resp.set_cookies().is_empty());
    }

    async fn passwords_too_short_too_long_or_too_common_are_refused(app) {
        let short = app.post("/sign-up/email", json!({"name": "A", "email": "a@b.co", "password": "1234567"})).await;
        assert_eq!((short.status, short.code()), (400, "PASSWORD_TOO_SHORT"));
        assert_eq!(short.body["message"], "Password too short");
        let long = app.post("/sign-up/email", json!({"name": "A", "email": "a@b.co", "password": "x".repeat(129)})).await;
        assert_eq!((long.status, long.code()), (400, "PASSWORD_TOO_LONG"));
        let common = app
            .post("/sign-up/email", json!({"name": "A", "email": "a@b.co", "password": "Password1"}))
            .await;
        assert_eq!((common.status, common.code()), (400, "PASSWORD_COMPROMISED"));
        assert!(app.state.store.find_user_by_email("a@b.co").await.unwrap().is_none());
    }

    async fn missing_and_mistyped_fields_are_named_in_a_validation_error(app) {
        let resp = app.post("/sign-up/email", json!({"email": "not-an-email", "password": 12})).await;
        assert_eq!(resp.status, 400);
        assert_eq!(resp.code(), "VALIDATION_ERROR");
        assert_eq!(
            resp.body["message"],
            "[body.name] Invalid input: expected string, received undefined; [body.email] Invalid email address; [body.password] Invalid input: expected string, received number"
        );
    }

    async fn an_untrusted_callback_url_is_refused_before_anything_is_created(app) {
        let resp = app
            .post("/sign-up/email", json!({"name": "A", "email": "cb@b.co", "password": PASSWORD, "callbackURL": "https://evil.example/"}))
            .await;
        assert_eq!((resp.status, resp.code()), (403, "INVALID_CALLBACK_URL"));
        assert!(app.state.store.find_user_by_email("cb@b.co").await.unwrap().is_none());
    }

    async fn a_form_encoded_sign_up_is_accepted(app) {
        let resp = reqwest::Client::new()
            .post(app.url("/sign-up/email"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=Form&email=form%40example.com&password=correct+horse+battery")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    async fn a_failed_sign_up_leaves_no_user_without_its_account(app) {
        let existing = app.sign_up().await;
        let account = app.state.store.find_credential_account(&existing.id).await.unwrap().unwrap();
        let now = tessera_auth::store::DbTime::from(chrono::Utc::now());
        let user = tessera_auth::store::User {
            id: "u".repeat(32), name: "Half".into(), email: "half@example.com".into(),
            email_verified: false, image: None, created_at: now, updated_at: now,
            two_factor_enabled: None,
        };
        // The account insert collides with an existing account id, so the transaction must roll
        // back the user row written just before it.
        let mut clash = account.clone();
        clash.user_id = user.id.clone();
        clash.account_id = user.id.clone();
        let err = app.state.store.create_user_with_account(&user, &clash, &audit_for(&user)).await.unwrap_err();
        assert!(matches!(err, tessera_auth::store::StoreError::Conflict(_)), "{err:?}");
        assert!(app.state.store.find_user_by_email("half@example.com").await.unwrap().is_none());
    }
}

fn audit_for(user: &tessera_auth::store::User) -> tessera_auth::audit::AuditEvent {
    tessera_auth::audit::AuditEvent::system(
        tessera_auth::audit::AuditKind::SignUp,
        chrono::Utc::now(),
    )
    .user(&user.id)
}
