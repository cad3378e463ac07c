//! Instant revocation: tokens name their session (`sid`); every path that ends sessions
//! publishes exactly the ids it ended; the HTTP feed lists them by cursor within the token
//! lifetime; Redis carries them to a guard in another instance.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::{Value, json};
use tessera_auth::audit::{AuditEvent, AuditKind};
use tessera_auth::revocation::RedisRevocationSink;
use tessera_auth::store::{DbTime, Session};

use crate::helpers::*;

/// Every batch `app` publishes, in order.
fn record(app: &TestApp) -> Arc<Mutex<Vec<Vec<String>>>> {
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let expected_until = app.clock_now() + 15 * 60 + 60;
    app.state.revocations.subscribe(move |sids, until| {
        assert!(
            until >= expected_until,
            "kept for the JWT lifetime plus leeway"
        );
        sink.lock().unwrap().push(sids.to_vec());
    });
    seen
}

fn take(seen: &Mutex<Vec<Vec<String>>>) -> Vec<Vec<String>> {
    std::mem::take(&mut *seen.lock().unwrap())
}

async fn session_id(app: &TestApp, user: &TestUser) -> String {
    app.state
        .store
        .find_session(&user.token)
        .await
        .unwrap()
        .expect("live session")
        .0
        .id
        .clone()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// `GET /revocations[?since=cursor]`, asserting the answer's shape.
async fn feed(app: &TestApp, since: Option<&str>) -> (Vec<String>, String, bool) {
    let path = match since {
        Some(cursor) => format!("/revocations?since={cursor}"),
        None => "/revocations".to_owned(),
    };
    let resp = app.get(&path).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let mut keys: Vec<_> = resp.body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["cursor", "more", "revoked", "ttl"]);
    assert_eq!(resp.body["ttl"], 960, "JWT lifetime + 60 s leeway");
    let revoked = resp.body["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    (
        revoked,
        resp.body["cursor"].as_str().unwrap().to_owned(),
        resp.body["more"].as_bool().unwrap(),
    )
}

on_both_backends! {
    async fn every_session_ending_path_publishes_exactly_the_ids_it_ended(app) {
        let seen = record(&app);

        // Tokens carry their session's id.
        let user = app.sign_up().await;
        let sid = session_id(&app, &user).await;
        let token = app.get_as(&user, "/token").await;
        assert_eq!(jwt_payload(token.body["token"].as_str().unwrap())["sid"], sid.as_str());

        // sign-out
        assert_eq!(app.post_as(&user, "/sign-out", json!({})).await.status, 200);
        assert_eq!(take(&seen), [vec![sid.clone()]]);
        app.post_as(&user, "/sign-out", json!({})).await;
        assert!(take(&seen).is_empty(), "nothing ended, nothing published");

        // revoke-session
        let first = app.sign_in(&user.email, PASSWORD).await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let second_id = session_id(&app, &second).await;
        let resp = app.post_as(&first, "/revoke-session", json!({"token": second.token})).await;
        assert_eq!(resp.status, 200);
        assert_eq!(take(&seen), [vec![second_id]]);
        app.post_as(&first, "/revoke-session", json!({"token": second.token})).await;
        assert!(take(&seen).is_empty());
        // Another user's session is not the caller's to revoke: nothing ends.
        let stranger = app.sign_up().await;
        app.post_as(&first, "/revoke-session", json!({"token": stranger.token})).await;
        assert!(take(&seen).is_empty());

        // revoke-other-sessions: every other one, never the caller's.
        let others = [app.sign_in(&user.email, PASSWORD).await, app.sign_in(&user.email, PASSWORD).await];
        let mut other_ids = Vec::new();
        for other in &others {
            other_ids.push(session_id(&app, other).await);
        }
        app.post_as(&first, "/revoke-other-sessions", json!({})).await;
        assert_eq!(take(&seen), [sorted(other_ids)]);

        // revoke-sessions: all of them, the caller's included.
        let extra = app.sign_in(&user.email, PASSWORD).await;
        let all = sorted(vec![session_id(&app, &first).await, session_id(&app, &extra).await]);
        app.post_as(&extra, "/revoke-sessions", json!({})).await;
        assert_eq!(take(&seen), [all]);

        // change-password: only with revokeOtherSessions, and then every session it deleted.
        let a = app.sign_in(&user.email, PASSWORD).await;
        let resp = app.post_as(&a, "/change-password", json!({"currentPassword": PASSWORD, "newPassword": "another good password"})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert!(take(&seen).is_empty());
        let b = app.sign_in(&user.email, "another good password").await;
        let ended = sorted(vec![session_id(&app, &a).await, session_id(&app, &b).await]);
        let resp = app.post_as(&a, "/change-password", json!({"currentPassword": "another good password", "newPassword": "a third good password", "revokeOtherSessions": true})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(take(&seen), [ended]);
        let reopened = resp.body["token"].as_str().unwrap();
        let reopened_id = app.state.store.find_session(reopened).await.unwrap().unwrap().0.id.clone();

        // An expired session, removed when presented.
        app.clock.advance(Duration::days(8));
        let gone = app.send(reqwest::Method::GET, "/get-session", None, Some(&app.user_from(&resp, &user.email).cookie), &[]).await;
        assert_eq!(gone.body, Value::Null);
        assert_eq!(take(&seen), [vec![reopened_id.clone()]]);
        let expired = app.state.store.list_audit(&Default::default()).await.unwrap().into_iter()
            .find(|e| e.reason.as_deref() == Some("expired")).expect("audited");
        assert_eq!((expired.event.as_str(), expired.session_id.as_deref()), ("session_revoked", Some(reopened_id.as_str())));
    }

    async fn the_feed_lists_the_revocation_records_even_with_no_audit_row(app) {
        let user = app.sign_up().await;
        let first = session_id(&app, &user).await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let third = app.sign_in(&user.email, PASSWORD).await;
        let others = sorted(vec![session_id(&app, &second).await, session_id(&app, &third).await]);
        app.post_as(&user, "/revoke-other-sessions", json!({})).await;
        app.post_as(&user, "/sign-out", json!({})).await;
        // The audit log is for people: the feed does not read it.
        app.raw_sql(r#"DELETE FROM "audit_event""#).await;
        let (revoked, _, more) = feed(&app, None).await;
        let mut expected = others;
        expected.push(first);
        assert_eq!((revoked, more), (expected, false));
        // Anonymous access is the design (see routes/revocations.rs); a malformed cursor is not.
        for bad in ["", "not-a-cursor!", &"a".repeat(65)] {
            let resp = app.get(&format!("/revocations?since={bad}")).await;
            assert_eq!((resp.status, resp.code()), (400, "VALIDATION_ERROR"), "{bad:?}");
        }
    }

    async fn the_feed_pages_by_cursor_and_rereads_only_the_last_seconds(app) {
        let user = app.sign_up().await;
        let now = app.state.clock.now();
        for n in 0..501 {
            let session = Session {
                id: format!("sid{n:04}"),
                expires_at: DbTime::from(now + Duration::days(1)),
                token: format!("token{n:04}"),
                created_at: DbTime::from(now),
                updated_at: DbTime::from(now),
                ip_address: None,
                user_agent: None,
                user_id: user.id.clone(),
            };
            let opened = AuditEvent::system(AuditKind::SignIn, now).session(&session.id);
            app.state.store.create_session(&session, &opened).await.unwrap();
        }
        let own = session_id(&app, &user).await;
        app.post_as(&user, "/revoke-sessions", json!({})).await;
        // Noise the feed must skip: an audit row naming a session that did not end.
        let noise = AuditEvent::system(AuditKind::SessionRevoked, now).session("live");
        app.state.store.insert_audit(&noise).await.unwrap();
        let mut all = (0..501).map(|n| format!("sid{n:04}")).collect::<Vec<_>>();
        all.push(own);
        all.sort();
        app.clock.advance(Duration::seconds(6));

        // One transaction, 502 records with ids in creation order, not sid order: compare sets.
        let (mut page, cursor, more) = feed(&app, None).await;
        assert_eq!((page.len(), more), (500, true));
        let (rest, cursor, more) = feed(&app, Some(&cursor)).await;
        assert_eq!((rest.len(), more), (2, false));
        page.extend(rest);
        assert_eq!(sorted(page), all);
        let (page, settled, _) = feed(&app, Some(&cursor)).await;
        assert!(page.is_empty());
        assert_eq!(settled, cursor, "caught up and settled: the cursor stays");

        // A fresh event is listed again until it is a few seconds old (a transaction stamped
        // earlier may still commit behind it), then the cursor moves past it.
        let user = app.sign_up().await;
        let sid = session_id(&app, &user).await;
        app.post_as(&user, "/sign-out", json!({})).await;
        let (page, recent, _) = feed(&app, Some(&settled)).await;
        let only = std::slice::from_ref(&sid);
        assert_eq!(page, only);
        assert_eq!(feed(&app, Some(&recent)).await.0, only);
        app.clock.advance(Duration::seconds(6));
        let (page, past, _) = feed(&app, Some(&recent)).await;
        assert_eq!(page, [sid]);
        assert!(feed(&app, Some(&past)).await.0.is_empty());
    }

    async fn catching_up_hands_every_page_of_records_to_the_local_subscribers_and_moves_on(app) {
        let user = app.sign_up().await;
        let now = app.state.clock.now();
        for n in 0..501 {
            let session = Session {
                id: format!("sid{n:04}"),
                expires_at: DbTime::from(now + Duration::days(1)),
                token: format!("token{n:04}"),
                created_at: DbTime::from(now),
                updated_at: DbTime::from(now),
                ip_address: None,
                user_agent: None,
                user_id: user.id.clone(),
            };
            let opened = AuditEvent::system(AuditKind::SignIn, now).session(&session.id);
            app.state.store.create_session(&session, &opened).await.unwrap();
        }
        let own = session_id(&app, &user).await;
        // Ended as another process would: straight in the store, announced to no one here.
        let stamp = app.state.revocations.stamp(now);
        let ended = AuditEvent::system(AuditKind::SessionRevoked, now);
        let mut all = app
            .state
            .store
            .delete_user_sessions(&user.id, None, &ended, stamp)
            .await
            .unwrap();
        assert!(all.contains(&own));
        all.sort();
        let seen = record(&app);

        // Both pages, to the in-process subscribers (the tasks guard in `tessera serve`).
        let cursor = app.state.catch_up_revocations(None).await.unwrap();
        assert_eq!(sorted(take(&seen).concat()), all);
        // The last seconds are read again (a late commit may sit in them), then no more.
        app.clock.advance(Duration::seconds(6));
        let cursor = app.state.catch_up_revocations(Some(&cursor)).await.unwrap();
        take(&seen);
        app.state.catch_up_revocations(Some(&cursor)).await.unwrap();
        assert!(take(&seen).is_empty(), "caught up: nothing applied again");
    }

    async fn the_feed_forgets_sessions_ended_longer_ago_than_a_token_lives(app) {
        let user = app.sign_up().await;
        let sid = session_id(&app, &user).await;
        app.post_as(&user, "/sign-out", json!({})).await;
        app.clock.advance(Duration::seconds(15 * 60 + 59));
        let only = std::slice::from_ref(&sid);
        assert_eq!(feed(&app, None).await.0, only, "a token may still live");
        assert_eq!(feed(&app, Some("0")).await.0, [sid]);
        app.clock.advance(Duration::seconds(2));
        let (page, cursor, _) = feed(&app, None).await;
        assert!(page.is_empty(), "every token of it has expired");
        assert!(feed(&app, Some("0")).await.0.is_empty(), "an old cursor is clamped");
        assert!(feed(&app, Some(&cursor)).await.0.is_empty());
        let other = app.sign_up().await;
        app.post_as(&other, "/sign-out", json!({})).await;
        let held = app.raw_sql(r#"SELECT "session_id" FROM "revocation""#).await;
        assert_eq!(held.len(), 1, "the expired record was pruned by the next write: {held:?}");
    }

    async fn a_session_end_writes_exactly_one_revocation_record_in_its_transaction(app) {
        let user = app.sign_up().await;
        let sid = session_id(&app, &user).await;
        let records = r#"SELECT "session_id" || ' ' || "user_id" FROM "revocation""#;
        assert!(app.raw_sql(records).await.is_empty());
        assert_eq!(app.post_as(&user, "/sign-out", json!({})).await.status, 200);
        assert_eq!(app.raw_sql(records).await, [format!("{sid} {}", user.id)]);
        app.post_as(&user, "/sign-out", json!({})).await;
        assert_eq!(app.raw_sql(records).await.len(), 1, "nothing ended, nothing recorded");

        // Without the table the deletion cannot commit: the session survives the failed sign-out.
        let again = app.sign_in(&user.email, PASSWORD).await;
        app.raw_sql(r#"DROP TABLE "revocation""#).await;
        let resp = app.post_as(&again, "/sign-out", json!({})).await;
        assert_eq!(resp.status, 500, "{}", resp.text);
        assert_eq!(app.stored_session_tokens(&user.id).await.len(), 1, "rolled back");
    }
}

/// Redis the tests use: `TEST_REDIS_URL`, or the local default.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// End to end through Redis: an auth server instance publishes, a guard instance (its own
/// connection, its own key cache) subscribes. Waits are on the guard list's change
/// notifications, bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_reaches_a_guard_subscribed_through_redis() {
    use tessera_guard::keys::RemoteJwks;
    use tessera_guard::revocation::{MemoryRevocations, RedisRevocations};
    use tessera_guard::{Guard, GuardError, RevocationList as _};

    let url = redis_url();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let sink = RedisRevocationSink::connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!("Redis is not answering at {url} ({e}); run scripts/test.sh, which starts one")
        });
    app.state.revocations.add_sink(Arc::new(sink));

    let list = Arc::new(MemoryRevocations::new());
    let subscriber = RedisRevocations::builder(&url)
        .list(Arc::clone(&list))
        .spawn()
        .unwrap();
    assert!(subscriber.wait_synced(StdDuration::from_secs(5)).await);
    let guard = Guard::builder(RemoteJwks::remote(&app.url("/jwks")).unwrap())
        .issuer(ORIGIN)
        .audience(ORIGIN)
        .revocations(subscriber)
        .build();

    let user = app.sign_up().await;
    let sid = session_id(&app, &user).await;
    let token = app.get_as(&user, "/token").await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        guard.verify(&token).await.unwrap().session_id(),
        Some(sid.as_str())
    );

    let mut changes = list.changes();
    assert_eq!(app.post_as(&user, "/sign-out", json!({})).await.status, 200);
    tokio::time::timeout(
        StdDuration::from_secs(5),
        changes.wait_for(|_| list.is_revoked(&sid)),
    )
    .await
    .expect("the revocation crossed Redis")
    .unwrap();
    assert_eq!(guard.verify(&token).await, Err(GuardError::InvalidToken));

    // A guard that was not listening when it happened catches up from the sorted set.
    let late = RedisRevocations::builder(&url).spawn().unwrap();
    assert!(late.wait_synced(StdDuration::from_secs(5)).await);
    assert!(late.is_revoked(&sid));
}
