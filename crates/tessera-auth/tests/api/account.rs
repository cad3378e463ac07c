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
}
