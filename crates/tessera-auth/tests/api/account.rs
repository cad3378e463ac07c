use serde_json::json;

use crate::helpers::*;

on_both_backends! {
    async fn changing_the_password_needs_the_current_one_and_the_new_one_signs_in(app) {
        let user = app.sign_up().await;
        let wrong = app
            .post_as(&user, "/change-password", json!({"currentPassword": "not it at all", "newPassword": "a new password"}))
            .await;
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.body, json!({"message": "Invalid password", "code": "INVALID_PASSWORD"}));
        let short = app
            .post_as(&user, "/change-password", json!({"currentPassword": PASSWORD, "newPassword": "short"}))
            .await;
        assert_eq!(short.code(), "PASSWORD_TOO_SHORT");
        let ok = app
            .post_as(&user, "/change-password", json!({"currentPassword": PASSWORD, "newPassword": "a new password"}))
            .await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert!(ok.body["token"].is_null());
        assert_eq!(ok.body["user"]["id"], user.id.as_str());
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await.status, 401);
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": "a new password"})).await.status, 200);
        assert!(app.get_as(&user, "/get-session").await.body.is_object(), "the session survives");
    }

    async fn changing_the_password_can_end_every_other_session(app) {
        let user = app.sign_up().await;
        let other = app.sign_in(&user.email, PASSWORD).await;
        let resp = app
            .post_as(&user, "/change-password", json!({"currentPassword": PASSWORD, "newPassword": "a new password", "revokeOtherSessions": true}))
            .await;
        assert_eq!(resp.status, 200);
        let token = resp.body["token"].as_str().expect("a new session token");
        assert_ne!(token, user.token);
        assert!(resp.set_cookie("better-auth.session_token").is_some());
        assert_eq!(app.get_as(&other, "/get-session").await.text, "null");
        assert_eq!(app.get_as(&user, "/get-session").await.text, "null");
        let renewed = app.user_from(&resp, &user.email);
        assert!(app.get_as(&renewed, "/get-session").await.body.is_object());
    }

    async fn change_password_without_a_credential_account_is_refused(app) {
        let user = app.sign_up().await;
        let account = app.state.store.find_credential_account(&user.id).await.unwrap().unwrap();
        // Simulate a social-only user: the credential row carries no hash.
        app.state.store.update_password(&account.id, "", chrono::Utc::now(), None).await.unwrap();
        let resp = app
            .post_as(&user, "/change-password", json!({"currentPassword": PASSWORD, "newPassword": "a new password"}))
            .await;
        assert_eq!(resp.status, 400);
        assert!(matches!(resp.code(), "CREDENTIAL_ACCOUNT_NOT_FOUND" | "INVALID_PASSWORD"), "{}", resp.text);
    }

    async fn update_user_changes_the_name_and_image_and_nothing_else(app) {
        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/update-user", json!({"name": "New Name", "image": "https://img.example/a.png"})).await;
        assert_eq!((resp.status, resp.body.clone()), (200, json!({"status": true})));
        assert!(resp.set_cookie("better-auth.session_token").is_some(), "the cookie is re-set");
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!(session.body["user"]["name"], "New Name");
        assert_eq!(session.body["user"]["image"], "https://img.example/a.png");
        let cleared = app.post_as(&user, "/update-user", json!({"image": null})).await;
        assert_eq!(cleared.status, 200);
        assert!(app.get_as(&user, "/get-session").await.body["user"]["image"].is_null());
    }

    async fn update_user_refuses_email_changes_ignores_verification_flags_and_empty_updates(app) {
        let user = app.sign_up().await;
        let email = app.post_as(&user, "/update-user", json!({"email": "x@y.co"})).await;
        assert_eq!(email.body, json!({"message": "Email can not be updated", "code": "EMAIL_CAN_NOT_BE_UPDATED"}));
        // Better Auth 1.7.25 drops `emailVerified` (an input:false field) without a word.
        let verified = app.post_as(&user, "/update-user", json!({"emailVerified": true})).await;
        assert_eq!((verified.status, verified.body.clone()), (400, json!({"message": "No fields to update"})));
        let renamed = app.post_as(&user, "/update-user", json!({"name": "Renamed", "emailVerified": true})).await;
        assert_eq!(renamed.body, json!({"status": true}));
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!((session.body["user"]["name"].clone(), session.body["user"]["emailVerified"].clone()), (json!("Renamed"), json!(false)));
        let no_body = app.send(reqwest::Method::POST, "/update-user", None, Some(&user.cookie), &[]).await;
        assert_eq!(no_body.body, json!({"message": "[body] Invalid input: expected record, received undefined", "code": "VALIDATION_ERROR"}));
        let empty = app.post_as(&user, "/update-user", json!({})).await;
        assert_eq!((empty.status, empty.body.clone()), (400, json!({"message": "No fields to update"})));
        assert_eq!(app.post("/update-user", json!({"name": "x"})).await.status, 401);
    }

    async fn list_accounts_shows_the_credential_account_without_its_password_hash(app) {
        let user = app.sign_up().await;
        assert_eq!(app.get("/list-accounts").await.status, 401);
        let resp = app.get_as(&user, "/list-accounts").await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let accounts = resp.body.as_array().expect("an array");
        assert_eq!(accounts.len(), 1);
        let account = accounts[0].as_object().unwrap();
        let mut keys: Vec<&str> = account.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["accountId", "createdAt", "id", "providerId", "scopes", "updatedAt", "userId"]);
        assert_eq!((account["providerId"].clone(), account["accountId"].clone()), (json!("credential"), json!(user.id)));
        assert_eq!((account["userId"].clone(), account["scopes"].clone()), (json!(user.id), json!([])));
        assert!(!resp.text.contains("$argon2") && !resp.text.contains("password"), "{}", resp.text);
    }

    async fn list_accounts_splits_stored_scopes_like_better_auth(app) {
        let user = app.sign_up().await;
        app.raw_sql(&format!(r#"UPDATE "account" SET "scope" = 'openid, email,,profile ' WHERE "userId" = '{}'"#, user.id)).await;
        let resp = app.get_as(&user, "/list-accounts").await;
        assert_eq!(resp.body[0]["scopes"], json!(["openid", "email", "profile"]));
    }

    async fn verify_password_answers_status_true_only_for_the_users_own_password(app) {
        let user = app.sign_up().await;
        let anonymous = app.post("/verify-password", json!({"password": PASSWORD})).await;
        assert_eq!(anonymous.status, 401);
        let wrong = app.post_as(&user, "/verify-password", json!({"password": "not it at all"})).await;
        assert_eq!((wrong.status, wrong.body.clone()), (400, json!({"message": "Invalid password", "code": "INVALID_PASSWORD"})));
        let long = app.post_as(&user, "/verify-password", json!({"password": "z".repeat(129)})).await;
        assert_eq!(long.code(), "PASSWORD_TOO_LONG");
        let missing = app.post_as(&user, "/verify-password", json!({})).await;
        assert_eq!(missing.status, 400);
        let ok = app.post_as(&user, "/verify-password", json!({"password": PASSWORD})).await;
        assert_eq!((ok.status, ok.body.clone()), (200, json!({"status": true})));
        assert!(app.get_as(&user, "/get-session").await.body.is_object(), "the session is untouched");
    }

    async fn verify_password_refuses_a_user_without_a_password(app) {
        let user = app.sign_up().await;
        app.raw_sql(&format!(r#"UPDATE "account" SET "password" = NULL WHERE "userId" = '{}'"#, user.id)).await;
        let resp = app.post_as(&user, "/verify-password", json!({"password": PASSWORD})).await;
        assert_eq!(resp.code(), "INVALID_PASSWORD");
    }

    async fn update_session_needs_a_session_and_has_no_writable_field(app) {
        let user = app.sign_up().await;
        assert_eq!(app.post("/update-session", json!({})).await.status, 401);
        let before = app.get_as(&user, "/get-session").await.body["session"].clone();
        for body in [json!({}), json!({"expiresAt": "2099-01-01T00:00:00.000Z", "userId": "someone", "token": "x"}), json!({"theme": "dark"})] {
            let resp = app.post_as(&user, "/update-session", body).await;
            assert_eq!((resp.status, resp.body.clone()), (400, json!({"message": "No fields to update"})));
        }
        let after = app.get_as(&user, "/get-session").await.body["session"].clone();
        assert_eq!(before, after, "nothing about the session changed");
    }
}
