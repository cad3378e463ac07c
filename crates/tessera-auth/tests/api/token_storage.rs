//! `TESSERA_SESSION_TOKEN_STORAGE=sha256`: only a digest of each session token at rest, every
//! endpoint still working with the raw token. (Plain storage is what every other test runs.)

use std::sync::Arc;

use chrono::Duration;
use reqwest::Method;
use serde_json::json;
use tessera_auth::AuthConfig;
use tessera_auth::audit::AuditFilter;
use tessera_auth::cookies::{encode_value, signed_value};
use tessera_auth::rate_limit::MemoryCounters;
use tessera_auth::secret::Secret;
use tessera_auth::store::TokenStorage;

use crate::helpers::*;

fn sha256_storage(config: &mut AuthConfig) {
    config.session.token_storage = TokenStorage::Sha256;
}

/// The lowercase hex SHA-256 of `token`, computed here rather than by the code under test.
fn sha256_hex(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

fn bearer(credential: &str) -> String {
    format!("Bearer {credential}")
}

/// `get-session` with `authorization` only (no cookie): the user id it names, if any.
async fn user_by_bearer(app: &TestApp, credential: &str) -> Option<String> {
    let auth = bearer(credential);
    let resp = app
        .send(
            Method::GET,
            "/get-session",
            None,
            None,
            &[("authorization", &auth)],
        )
        .await;
    resp.body["user"]["id"].as_str().map(str::to_owned)
}

on_both_backends! {
    config = sha256_storage;

    async fn with_sha256_storage_the_token_column_holds_only_each_tokens_digest(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let stored = app.stored_session_tokens(&user.id).await;
        let mut expected = vec![sha256_hex(&user.token), sha256_hex(&second.token)];
        expected.sort();
        assert_eq!(stored, expected);
        for raw in [&user.token, &second.token] {
            assert!(!stored.iter().any(|s| s.contains(raw.as_str())), "a raw token at rest");
        }
    }

    async fn with_sha256_storage_get_session_answers_by_cookie_and_by_bearer_with_the_raw_token(app) {
        let user = app.sign_up().await;
        let by_cookie = app.get_as(&user, "/get-session").await;
        assert_eq!(by_cookie.body["user"]["id"], user.id.as_str());
        // The wire format is unchanged: the client gets its own raw token back, not the digest.
        assert_eq!(by_cookie.body["session"]["token"], user.token.as_str());
        let signed = signed_value(&Secret::new(SECRET), &user.token);
        for credential in [user.token.clone(), signed.clone(), encode_value(&signed)] {
            assert_eq!(user_by_bearer(&app, &credential).await.as_deref(), Some(user.id.as_str()), "{credential}");
        }
    }

    async fn with_sha256_storage_a_stored_digest_is_no_credential(app) {
        let user = app.sign_up().await;
        // What a copy of the database yields: the column's own value, not a digest computed here
        // (a test that hashed the token itself would pass even if the raw token were stored).
        let stored = app.stored_session_tokens(&user.id).await;
        assert_eq!(stored.len(), 1, "one session stored");
        let digest = stored[0].clone();
        let signed = signed_value(&Secret::new(SECRET), &digest);
        for credential in [digest.clone(), signed.clone()] {
            assert_eq!(user_by_bearer(&app, &credential).await, None, "{credential}");
        }
        let cookie = format!("better-auth.session_token={}", encode_value(&signed));
        let resp = app.send(Method::GET, "/get-session", None, Some(&cookie), &[]).await;
        assert_eq!(resp.text, "null");
        assert!(app.state.store.find_session(&digest).await.unwrap().is_none());
        // The session itself is untouched.
        assert_eq!(user_by_bearer(&app, &user.token).await.as_deref(), Some(user.id.as_str()));
    }

    async fn with_sha256_storage_list_sessions_lists_digests_that_revoke_session_accepts(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let third = app.sign_in(&user.email, PASSWORD).await;
        let listed = app.get_as(&user, "/list-sessions").await;
        assert_eq!(listed.status, 200);
        let sessions = listed.body.as_array().unwrap();
        let mut tokens: Vec<_> = sessions.iter().map(|s| s["token"].as_str().unwrap().to_owned()).collect();
        tokens.sort();
        assert_eq!(tokens, app.stored_session_tokens(&user.id).await, "the listed tokens are the stored digests");
        let second_entry = sessions.iter().find(|s| s["token"] == sha256_hex(&second.token).as_str()).expect("second listed");
        let second_id = second_entry["id"].as_str().unwrap().to_owned();

        // Cached first (the helpers' apps cache sessions for 5 s): revoking must evict it.
        assert_eq!(app.get_as(&second, "/get-session").await.body["user"]["id"], user.id.as_str());
        let resp = app.post_as(&user, "/revoke-session", json!({"token": second_entry["token"]})).await;
        assert_eq!((resp.status, resp.body.clone()), (200, json!({"status": true})));
        assert_eq!(app.get_as(&second, "/get-session").await.text, "null");
        let filter = AuditFilter { user_id: Some(user.id.clone()), limit: 50, ..AuditFilter::default() };
        let audit = app.state.store.list_audit(&filter).await.unwrap();
        let revoked = audit.iter().find(|e| e.reason.as_deref() == Some("revoke_session")).expect("audited");
        assert_eq!(revoked.session_id.as_deref(), Some(second_id.as_str()), "the event names the session revoked");

        // The raw token (as a sign-in answer gave it) revokes as well.
        app.post_as(&user, "/revoke-session", json!({"token": third.token})).await;
        assert_eq!(app.get_as(&third, "/get-session").await.text, "null");
        assert_eq!(app.stored_session_tokens(&user.id).await, vec![sha256_hex(&user.token)]);
        assert_eq!(app.get_as(&user, "/get-session").await.body["user"]["id"], user.id.as_str());
    }

    async fn with_sha256_storage_sign_out_and_revoke_other_sessions_end_the_right_sessions(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let third = app.sign_in(&user.email, PASSWORD).await;
        let resp = app.post_as(&second, "/sign-out", json!({})).await;
        assert_eq!(resp.body, json!({"success": true}));
        assert_eq!(app.get_as(&second, "/get-session").await.text, "null");
        let mut left = vec![sha256_hex(&user.token), sha256_hex(&third.token)];
        left.sort();
        assert_eq!(app.stored_session_tokens(&user.id).await, left);

        let resp = app.post_as(&user, "/revoke-other-sessions", json!({})).await;
        assert_eq!(resp.body, json!({"status": true}));
        assert_eq!(app.get_as(&third, "/get-session").await.text, "null");
        assert_eq!(app.get_as(&user, "/get-session").await.body["user"]["id"], user.id.as_str(), "the current session stays");
        assert_eq!(app.stored_session_tokens(&user.id).await, vec![sha256_hex(&user.token)]);

        app.post_as(&user, "/revoke-sessions", json!({})).await;
        assert!(app.stored_session_tokens(&user.id).await.is_empty());
    }

    async fn with_sha256_storage_a_session_slides_forward_and_expires_by_its_digest(app) {
        let user = app.sign_up().await;
        let first = app.get_as(&user, "/get-session").await;
        app.clock.advance(Duration::hours(25));
        let slid = app.get_as(&user, "/get-session").await;
        let cookie = slid.set_cookie("better-auth.session_token").expect("cookie re-issued");
        // The refreshed cookie carries the raw token, signed, not its digest.
        let expected = encode_value(&signed_value(&Secret::new(SECRET), &user.token));
        assert!(cookie.starts_with(&format!("better-auth.session_token={expected};")), "{cookie}");
        assert_ne!(slid.body["session"]["expiresAt"], first.body["session"]["expiresAt"]);
        // The extension reached the row: seven days after the slide it is still live, one more
        // and it is gone, deleted by its digest.
        app.clock.advance(Duration::days(6) + Duration::hours(23));
        let auth = bearer(&user.token);
        let still = app.send(Method::GET, "/get-session?disableRefresh=true", None, None, &[("authorization", &auth)]).await;
        assert_eq!(still.body["user"]["id"], user.id.as_str());
        app.clock.advance(Duration::hours(2));
        assert_eq!(app.get_as(&user, "/get-session").await.text, "null");
        assert!(app.stored_session_tokens(&user.id).await.is_empty());
    }

    async fn switching_from_plain_to_sha256_storage_signs_out_the_sessions_stored_plain(app) {
        // `app` stores digests; `plain` is the same database before the switch.
        let plain = TestApp::spawn_on(app.database_url(), None, Arc::new(MemoryCounters::default()), |_| {}).await;
        let old = plain.sign_up().await;
        assert_eq!(plain.stored_session_tokens(&old.id).await, vec![old.token.clone()]);

        assert_eq!(app.get_as(&old, "/get-session").await.text, "null", "a raw row is not looked up");
        assert_eq!(user_by_bearer(&app, &old.token).await, None);
        assert_eq!(plain.stored_session_tokens(&old.id).await, vec![old.token.clone()], "left for revocation");

        // Signing in again gives a hashed session, which lists the old row as stored and can
        // revoke it with the value listed.
        let fresh = app.sign_in(&old.email, PASSWORD).await;
        let listed = app.get_as(&fresh, "/list-sessions").await;
        let mut tokens: Vec<_> = listed.body.as_array().unwrap().iter().map(|s| s["token"].as_str().unwrap().to_owned()).collect();
        tokens.sort();
        let mut expected = vec![old.token.clone(), sha256_hex(&fresh.token)];
        expected.sort();
        assert_eq!(tokens, expected);
        app.post_as(&fresh, "/revoke-session", json!({"token": old.token})).await;
        assert_eq!(app.stored_session_tokens(&old.id).await, vec![sha256_hex(&fresh.token)]);
    }
}
