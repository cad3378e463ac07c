//! The session cache (a session read answers again from memory for `cache_ttl`) and token
//! reuse (a session asking again within a minute gets the JWT it was just given): what this
//! process changes is seen at once, what another process changes within the TTL.

use chrono::Duration;
use reqwest::Method;
use serde_json::json;
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};
use tessera_auth::clock::Clock as _;

use crate::helpers::*;

async fn session_of(app: &TestApp, user: &TestUser) -> Resp {
    let resp = app.get_as(user, "/get-session").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp
}

async fn token_of(app: &TestApp, user: &TestUser) -> String {
    let resp = app.get_as(user, "/token").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.body["token"].as_str().unwrap().to_owned()
}

async fn tokens_issued(app: &TestApp) -> usize {
    let filter = AuditFilter::default();
    let events: Vec<AuditEvent> = app.state.store.list_audit(&filter).await.unwrap();
    events
        .iter()
        .filter(|e| e.event == AuditKind::TokenIssued.as_str())
        .count()
}

on_both_backends! {
    async fn a_session_ended_by_another_process_is_seen_once_the_cache_ttl_has_passed(app) {
        let user = app.sign_up().await;
        assert!(session_of(&app, &user).await.body["session"].is_object());
        let other = app.other_process_store().await;
        let event = AuditEvent::system(AuditKind::SessionRevoked, app.clock.now()).reason("test");
        assert!(other.delete_session(&user.token, &event, app.state.revocations.stamp(app.state.clock.now())).await.unwrap().is_some());
        assert!(session_of(&app, &user).await.body["session"].is_object(), "still within the TTL");
        app.clock.advance(app.state.config.session.cache_ttl);
        assert_eq!(session_of(&app, &user).await.text, "null");
    }

    async fn a_session_ended_by_this_process_is_gone_at_once(app) {
        let user = app.sign_up().await;
        let other_device = app.sign_in(&user.email, PASSWORD).await;
        assert!(session_of(&app, &other_device).await.body["session"].is_object());
        let resp = app.post_as(&user, "/revoke-session", json!({"token": other_device.token})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(session_of(&app, &other_device).await.text, "null");
        assert_eq!(app.get_as(&other_device, "/token").await.status, 401);
        assert!(session_of(&app, &user).await.body["session"].is_object());
        let resp = app.post_as(&user, "/sign-out", json!({})).await;
        assert_eq!(resp.status, 200);
        assert_eq!(session_of(&app, &user).await.text, "null");
    }

    async fn a_user_renamed_by_this_process_is_seen_at_once_in_the_session_and_a_new_token(app) {
        let user = app.sign_up().await;
        let before = token_of(&app, &user).await;
        let resp = app.post_as(&user, "/update-user", json!({"name": "Renamed"})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let session = session_of(&app, &user).await;
        assert_eq!(session.body["user"]["name"], "Renamed");
        assert_eq!(jwt_payload(session.header("set-auth-jwt").unwrap())["name"], "Renamed");
        let after = token_of(&app, &user).await;
        assert_ne!(after, before);
        assert_eq!(jwt_payload(&after)["name"], "Renamed");
    }

    async fn a_session_asking_again_within_the_reuse_window_gets_the_same_token_audited_once(app) {
        let user = app.sign_up().await;
        let from_session = session_of(&app, &user).await;
        let first = from_session.header("set-auth-jwt").unwrap().to_owned();
        assert_eq!(token_of(&app, &user).await, first);
        app.clock.advance(Duration::seconds(59));
        assert_eq!(token_of(&app, &user).await, first);
        assert_eq!(tokens_issued(&app).await, 1);
        app.clock.advance(Duration::seconds(1));
        let second = token_of(&app, &user).await;
        assert_ne!(second, first);
        let (iat, exp) = (jwt_payload(&second)["iat"].as_i64().unwrap(), jwt_payload(&second)["exp"].as_i64().unwrap());
        assert_eq!((iat, exp - iat), (app.clock_now(), 900));
        assert_eq!(tokens_issued(&app).await, 2);
    }

    async fn two_sessions_of_one_user_never_share_a_token(app) {
        let user = app.sign_up().await;
        let other_device = app.sign_in(&user.email, PASSWORD).await;
        let (mine, theirs) = (token_of(&app, &user).await, token_of(&app, &other_device).await);
        assert_ne!(mine, theirs);
        assert_ne!(jwt_payload(&mine)["sid"], jwt_payload(&theirs)["sid"]);
    }
}

async fn with_the_cache_ttl_at_zero_another_process_ending_a_session_is_seen_at_once(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |config| {
        config.session.cache_ttl = Duration::zero();
    })
    .await;
    let user = app.sign_up().await;
    assert!(session_of(&app, &user).await.body["session"].is_object());
    let other = app.other_process_store().await;
    let event = AuditEvent::system(AuditKind::SessionRevoked, app.clock.now()).reason("test");
    assert!(
        other
            .delete_session(
                &user.token,
                &event,
                app.state.revocations.stamp(app.state.clock.now())
            )
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(session_of(&app, &user).await.text, "null");
    let resp = app
        .send(Method::GET, "/token", None, Some(&user.cookie), &[])
        .await;
    assert_eq!(resp.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_cache_on_sqlite() {
    with_the_cache_ttl_at_zero_another_process_ending_a_session_is_seen_at_once(Backend::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_cache_on_postgres() {
    with_the_cache_ttl_at_zero_another_process_ending_a_session_is_seen_at_once(Backend::Postgres)
        .await;
}
