//! The audit log: every event with the right fields, nothing for failed actions, written in the
//! action's transaction, and never a secret in a row or a log line.

use std::sync::OnceLock;

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};
use tessera_auth::store::{DbTime, StoreError, User};
use tessera_http::testing::CapturedLog;

use crate::helpers::*;

const UA: &str = "audit-test/1.0";

/// Every row, oldest first.
async fn rows(app: &TestApp) -> Vec<AuditEvent> {
    let filter = AuditFilter {
        limit: 10_000,
        ..AuditFilter::default()
    };
    let mut rows = app.state.store.list_audit(&filter).await.unwrap();
    rows.reverse();
    rows
}

/// Rows of one kind, oldest first.
async fn events(app: &TestApp, kind: AuditKind) -> Vec<AuditEvent> {
    rows(app)
        .await
        .into_iter()
        .filter(|e| e.event == kind.as_str())
        .collect()
}

/// The one row of `kind`; fails when there are none or several.
async fn only(app: &TestApp, kind: AuditKind) -> AuditEvent {
    let mut found = events(app, kind).await;
    assert_eq!(found.len(), 1, "{kind} rows: {found:#?}");
    found.remove(0)
}

async fn post_with_ua(app: &TestApp, path: &str, body: Value, cookie: Option<&str>) -> Resp {
    app.send(
        Method::POST,
        path,
        Some(body),
        cookie,
        &[("user-agent", UA)],
    )
    .await
}

async fn session_id(app: &TestApp, user: &TestUser) -> String {
    let resp = app.get_as(user, "/get-session").await;
    resp.body["session"]["id"].as_str().unwrap().to_owned()
}

fn detail(event: &AuditEvent) -> Value {
    event.detail_json().unwrap_or(Value::Null)
}

on_both_backends! {
    async fn sign_up_records_the_new_user_and_the_session_it_opens(app) {
        let email = "audit-up@example.com";
        let resp = post_with_ua(&app, "/sign-up/email", json!({"name": "A", "email": email, "password": PASSWORD}), None).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let user = app.user_from(&resp, email);
        let up = only(&app, AuditKind::SignUp).await;
        assert_eq!(up.user_id.as_deref(), Some(user.id.as_str()));
        assert_eq!((up.outcome.as_str(), up.reason.as_deref(), up.session_id.as_deref()), ("success", None, None));
        assert_eq!((up.ip.as_str(), up.user_agent.as_str()), ("127.0.0.1", UA));
        let opened = only(&app, AuditKind::SignIn).await;
        assert_eq!(opened.user_id.as_deref(), Some(user.id.as_str()));
        assert_eq!(opened.session_id, Some(session_id(&app, &user).await));
        assert_eq!(detail(&opened), json!({"via": "sign_up"}));
        assert_eq!(opened.user_agent, UA);
    }

    async fn a_refused_sign_up_records_nothing(app) {
        let user = app.sign_up().await;
        let before = rows(&app).await.len();
        let again = post_with_ua(&app, "/sign-up/email", json!({"name": "B", "email": user.email, "password": PASSWORD}), None).await;
        assert_eq!(again.status, 422);
        let short = post_with_ua(&app, "/sign-up/email", json!({"name": "B", "email": "b@example.com", "password": "short"}), None).await;
        assert_eq!(short.status, 400);
        assert_eq!(rows(&app).await.len(), before);
    }

    async fn sign_in_success_and_failure_are_recorded_with_the_failure_reason(app) {
        let user = app.sign_up().await;
        let wrong = post_with_ua(&app, "/sign-in/email", json!({"email": user.email, "password": "not the password"}), None).await;
        assert_eq!(wrong.status, 401);
        let unknown = post_with_ua(&app, "/sign-in/email", json!({"email": "nobody@example.com", "password": "not the password"}), None).await;
        assert_eq!(unknown.status, 401);
        let failures = events(&app, AuditKind::SignInFailed).await;
        assert_eq!(failures.len(), 2);
        for failure in &failures {
            assert_eq!((failure.outcome.as_str(), failure.reason.as_deref()), ("failure", Some("invalid_credentials")));
            assert_eq!((failure.ip.as_str(), failure.user_agent.as_str(), failure.session_id.as_deref()), ("127.0.0.1", UA, None));
        }
        assert_eq!(failures[0].user_id.as_deref(), Some(user.id.as_str()), "the account owner can see attempts on it");
        assert_eq!(failures[1].user_id, None);
        assert!(!format!("{failures:?}").contains("nobody@example.com"), "a typed email is never logged");
        // Only the sign-up's session so far: a failure writes no success event.
        assert_eq!(events(&app, AuditKind::SignIn).await.len(), 1);

        let ok = post_with_ua(&app, "/sign-in/email", json!({"email": user.email, "password": PASSWORD}), None).await;
        assert_eq!(ok.status, 200);
        let second = app.user_from(&ok, &user.email);
        let signed_in: Vec<_> = events(&app, AuditKind::SignIn).await.into_iter().filter(|e| detail(e) == json!({"via": "sign_in"})).collect();
        assert_eq!(signed_in.len(), 1);
        assert_eq!(signed_in[0].user_id.as_deref(), Some(user.id.as_str()));
        assert_eq!(signed_in[0].session_id, Some(session_id(&app, &second).await));
        assert_eq!((signed_in[0].outcome.as_str(), signed_in[0].user_agent.as_str()), ("success", UA));
    }

    async fn sign_out_and_each_revocation_name_the_session_concerned(app) {
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let third = app.sign_in(&user.email, PASSWORD).await;
        let (first_id, second_id) = (session_id(&app, &user).await, session_id(&app, &second).await);

        let resp = post_with_ua(&app, "/revoke-session", json!({"token": second.token}), Some(&user.cookie)).await;
        assert_eq!(resp.status, 200);
        let one = only(&app, AuditKind::SessionRevoked).await;
        assert_eq!((one.reason.as_deref(), one.session_id.as_deref()), (Some("revoke_session"), Some(second_id.as_str())));
        assert_eq!(one.user_id.as_deref(), Some(user.id.as_str()));
        assert_eq!(detail(&one), json!({"by_session": first_id}));
        // Revoking what is already gone changes nothing and records nothing.
        post_with_ua(&app, "/revoke-session", json!({"token": second.token}), Some(&user.cookie)).await;
        assert_eq!(events(&app, AuditKind::SessionRevoked).await.len(), 1);

        post_with_ua(&app, "/revoke-other-sessions", json!({}), Some(&user.cookie)).await;
        let others = events(&app, AuditKind::SessionRevoked).await.pop().unwrap();
        assert_eq!((others.reason.as_deref(), others.session_id.as_deref()), (Some("revoke_other_sessions"), Some(first_id.as_str())));
        assert_eq!(app.get_as(&third, "/get-session").await.body, Value::Null);

        let resp = post_with_ua(&app, "/sign-out", json!({}), Some(&user.cookie)).await;
        assert_eq!(resp.status, 200);
        let out = only(&app, AuditKind::SignOut).await;
        assert_eq!((out.user_id.as_deref(), out.session_id.as_deref()), (Some(user.id.as_str()), Some(first_id.as_str())));
        assert_eq!((out.ip.as_str(), out.user_agent.as_str(), out.outcome.as_str()), ("127.0.0.1", UA, "success"));
        // Signing out again is fine and records nothing.
        post_with_ua(&app, "/sign-out", json!({}), Some(&user.cookie)).await;
        assert_eq!(events(&app, AuditKind::SignOut).await.len(), 1);

        let again = app.sign_in(&user.email, PASSWORD).await;
        let again_id = session_id(&app, &again).await;
        post_with_ua(&app, "/revoke-sessions", json!({}), Some(&again.cookie)).await;
        let all = events(&app, AuditKind::SessionRevoked).await.pop().unwrap();
        assert_eq!((all.reason.as_deref(), all.session_id.as_deref()), (Some("revoke_sessions"), Some(again_id.as_str())));
        assert_eq!(events(&app, AuditKind::SessionRevoked).await.len(), 3);
    }

    async fn a_password_change_is_recorded_and_a_refused_one_is_not(app) {
        let user = app.sign_up().await;
        let sid = session_id(&app, &user).await;
        let refused = post_with_ua(&app, "/change-password", json!({"currentPassword": "wrong password", "newPassword": "another good password"}), Some(&user.cookie)).await;
        assert_eq!(refused.status, 400);
        assert!(events(&app, AuditKind::PasswordChanged).await.is_empty());

        let resp = post_with_ua(&app, "/change-password", json!({"currentPassword": PASSWORD, "newPassword": "another good password", "revokeOtherSessions": true}), Some(&user.cookie)).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let changed = only(&app, AuditKind::PasswordChanged).await;
        assert_eq!((changed.user_id.as_deref(), changed.session_id.as_deref()), (Some(user.id.as_str()), Some(sid.as_str())));
        assert_eq!((changed.outcome.as_str(), changed.user_agent.as_str()), ("success", UA));
        assert_eq!(detail(&changed), json!({"revoke_other_sessions": true}));
        let revoked = only(&app, AuditKind::SessionRevoked).await;
        assert_eq!((revoked.reason.as_deref(), revoked.session_id.as_deref()), (Some("password_changed"), Some(sid.as_str())));
        let reopened: Vec<_> = events(&app, AuditKind::SignIn).await.into_iter().filter(|e| detail(e) == json!({"via": "change_password"})).collect();
        assert_eq!(reopened.len(), 1);
        let new_token = resp.body["token"].as_str().unwrap();
        let new_session = app.state.store.find_session(new_token).await.unwrap().unwrap().0;
        assert_eq!(reopened[0].session_id.as_deref(), Some(new_session.id.as_str()));
    }

    async fn every_minted_token_is_recorded_with_its_key(app) {
        let user = app.sign_up().await;
        let sid = session_id(&app, &user).await; // get-session mints one too
        // Within the reuse window `/token` hands out get-session's token again: no new row.
        app.send(Method::GET, "/token", None, Some(&user.cookie), &[("user-agent", UA)]).await;
        assert_eq!(events(&app, AuditKind::TokenIssued).await.len(), 1);
        app.clock.advance(Duration::minutes(1));
        let resp = app.send(Method::GET, "/token", None, Some(&user.cookie), &[("user-agent", UA)]).await;
        let token = resp.body["token"].as_str().unwrap();
        let issued = events(&app, AuditKind::TokenIssued).await;
        assert_eq!(issued.len(), 2);
        assert_eq!(detail(&issued[0])["via"], "get-session");
        let last = &issued[1];
        let payload = jwt_payload(token);
        assert_eq!((last.user_id.as_deref(), last.session_id.as_deref()), (Some(user.id.as_str()), Some(sid.as_str())));
        assert_eq!((last.outcome.as_str(), last.user_agent.as_str(), last.ip.as_str()), ("success", UA, "127.0.0.1"));
        let kid = app.state.store.list_jwks().await.unwrap()[0].id.clone();
        assert_eq!(detail(last), json!({"kid": kid, "alg": "EdDSA", "exp": payload["exp"], "via": "token"}));
    }

    async fn a_refused_origin_is_recorded_once_a_minute_per_client(app) {
        let user = app.sign_up().await;
        let evil = [("origin", "http://evil.example"), ("user-agent", UA)];
        for _ in 0..3 {
            let resp = app.send(Method::POST, "/sign-out", Some(json!({})), None, &[("cookie", user.cookie.as_str()), evil[0], evil[1]]).await;
            assert_eq!(resp.status, 403);
        }
        let rejected = only(&app, AuditKind::OriginRejected).await;
        assert_eq!((rejected.outcome.as_str(), rejected.reason.as_deref()), ("failure", Some("INVALID_ORIGIN")));
        assert_eq!((rejected.ip.as_str(), rejected.user_agent.as_str(), rejected.user_id.as_deref()), ("127.0.0.1", UA, None));
        assert_eq!(detail(&rejected), json!({"method": "POST", "path": "/sign-out"}));
        app.clock.advance(Duration::seconds(61));
        app.send(Method::POST, "/sign-out", Some(json!({})), None, &[("cookie", user.cookie.as_str()), evil[0], evil[1]]).await;
        let rejected = events(&app, AuditKind::OriginRejected).await;
        assert_eq!(rejected.len(), 2);
        assert_eq!(detail(&rejected[1])["suppressed"], 2, "the skipped refusals are counted");
        assert!(app.get_as(&user, "/get-session").await.body.is_object(), "the refused sign-out changed nothing");
        assert!(events(&app, AuditKind::SignOut).await.is_empty());
    }

    async fn a_sign_up_whose_transaction_fails_leaves_no_audit_row(app) {
        let existing = app.sign_up().await;
        let account = app.state.store.find_credential_account(&existing.id).await.unwrap().unwrap();
        let now = DbTime::from(chrono::Utc::now());
        let user = User {
            id: "v".repeat(32), name: "Half".into(), email: "half-audit@example.com".into(),
            email_verified: false, image: None, created_at: now, updated_at: now,
            two_factor_enabled: None,
        };
        // The account insert collides with an existing account id: the audit row goes with it.
        let mut clash = account.clone();
        clash.user_id = user.id.clone();
        clash.account_id = user.id.clone();
        let event = AuditEvent::system(AuditKind::SignUp, now.0).user(&user.id);
        let err = app.state.store.create_user_with_account(&user, &clash, &event).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(rows(&app).await.iter().all(|r| r.id != event.id && r.user_id.as_deref() != Some(user.id.as_str())));

        // And the other way round: an audit row that cannot be written undoes the sign-up.
        let mut account = account.clone();
        account.id = "w".repeat(32);
        account.user_id = user.id.clone();
        account.account_id = user.id.clone();
        let taken = rows(&app).await.remove(0);
        let mut duplicate = AuditEvent::system(AuditKind::SignUp, now.0).user(&user.id);
        duplicate.id = taken.id;
        let err = app.state.store.create_user_with_account(&user, &account, &duplicate).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(app.state.store.find_user_by_email("half-audit@example.com").await.unwrap().is_none());
    }

    async fn no_row_or_log_line_holds_a_password_token_cookie_or_secret(app) {
        let logs = capture_audit_logs();
        // Lower case: an email is stored lower-cased, so a password typed into the email field
        // and leaked with it would not match a mixed-case probe.
        let password = format!("secret-pass-{}", tessera_auth::ids::generate_id(16).to_lowercase());
        let new_password = format!("secret-pass-{}", tessera_auth::ids::generate_id(16));
        let email = format!("leak-{}@example.com", tessera_auth::ids::generate_id(8).to_lowercase());
        let up = post_with_ua(&app, "/sign-up/email", json!({"name": "L", "email": email, "password": password}), None).await;
        let user = app.user_from(&up, &email);
        let failed = post_with_ua(&app, "/sign-in/email", json!({"email": email, "password": format!("{password}x")}), None).await;
        assert_eq!(failed.status, 401);
        // A password typed into the email field must not surface either.
        post_with_ua(&app, "/sign-in/email", json!({"email": format!("{password}@example.com"), "password": password}), None).await;
        let second = app.sign_in(&email, &password).await;
        let jwt = app.get_as(&user, "/token").await.body["token"].as_str().unwrap().to_owned();
        let header_jwt = app.get_as(&user, "/get-session").await.header("set-auth-jwt").unwrap().to_owned();
        app.send(Method::POST, "/sign-out", Some(json!({})), None, &[("cookie", user.cookie.as_str()), ("origin", "http://evil.example")]).await;
        post_with_ua(&app, "/revoke-session", json!({"token": second.token}), Some(&user.cookie)).await;
        let changed = post_with_ua(&app, "/change-password", json!({"currentPassword": password, "newPassword": new_password, "revokeOtherSessions": true}), Some(&user.cookie)).await;
        assert_eq!(changed.status, 200);
        let new_token = changed.body["token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {new_token}");
        app.send(Method::POST, "/sign-out", Some(json!({})), None, &[("authorization", bearer.as_str())]).await;
        assert_eq!(events(&app, AuditKind::SignOut).await.len(), 1);

        let secrets = [
            password.clone(), new_password.clone(), user.token.clone(), second.token.clone(), new_token.clone(),
            cookie_value(&user.cookie), cookie_value(&second.cookie), jwt.clone(), header_jwt.clone(), SECRET.to_owned(),
        ];
        let stored: Vec<String> = rows(&app).await.iter().map(|r| format!("{r:?} {}", r.to_json())).collect();
        assert!(stored.len() >= 10, "{stored:#?}");
        let logged = logs.text();
        assert!(logged.contains(&user.id), "the audit log lines were captured");
        // A JWT is probed by its payload and signature too, a cookie by its token and signature.
        let probes: Vec<&str> = secrets.iter().flat_map(|s| std::iter::once(s.as_str()).chain(s.split(['.', '%']).skip(1).filter(|p| p.len() > 16))).collect();
        for probe in probes {
            assert!(stored.iter().all(|row| !row.contains(probe)), "a stored row holds {probe}");
            assert!(!logged.contains(probe), "an audit log line holds {probe}");
        }
    }
}

async fn a_rate_limited_request_is_recorded(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.rate_limit = true).await;
    // Better Auth's sign-in rule: 3 requests per 10 seconds.
    let body = json!({"email": "limited@example.com", "password": "wrong password"});
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            post_with_ua(&app, "/sign-in/email", body.clone(), None)
                .await
                .status,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let limited = only(&app, AuditKind::RateLimited).await;
    assert_eq!(
        (
            limited.outcome.as_str(),
            limited.ip.as_str(),
            limited.user_agent.as_str()
        ),
        ("failure", "127.0.0.1", UA)
    );
    assert_eq!(detail(&limited)["path"], "/sign-in/email");
    assert_eq!(
        events(&app, AuditKind::SignInFailed).await.len(),
        3,
        "a refused request is not a sign-in attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_is_audited_on_sqlite() {
    a_rate_limited_request_is_recorded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_is_audited_on_postgres() {
    a_rate_limited_request_is_recorded(Backend::Postgres).await;
}

fn cookie_value(pair: &str) -> String {
    pair.split_once('=').unwrap().1.to_owned()
}

/// Installs (once) a global subscriber that keeps every `audit` line, formatted as in
/// production, and everything the auth server and the guard log at any level (the social
/// tests look for provider codes and tokens in it), in memory; later events of every test in
/// this binary land there.
pub(crate) fn capture_audit_logs() -> CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "audit=info,tessera_auth=trace,tessera_guard=trace,oauth2=trace",
            ))
            .with_ansi(false)
            .with_writer(log.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        log
    })
    .clone()
}
