//! Instant revocation: a valid token whose `sid` is on the guard's revocation list is refused
//! like an expired one; tokens without `sid` (Better Auth's) never are. The HTTP poller runs
//! against a feed server on 127.0.0.1:0 and is driven poll by poll; time is a manual clock.

use std::sync::Arc;

use serde_json::json;
use tessera_guard::keys::StaticKeys;
use tessera_guard::revocation::{MemoryRevocations, RevocationList};
use tessera_guard::tessera_jwt::{KeyRing, VerifyingKey};
use tessera_guard::{Guard, GuardError, ManualClock};

use crate::helpers::*;

fn token_for_session(sid: &str) -> String {
    sign(&ED, &claims_with(json!({ "sid": sid })))
}

fn guard_with(list: impl RevocationList, clock: &ManualClock) -> Guard {
    let ring = KeyRing::new(vec![VerifyingKey::from_signing_key(&ED)]);
    Guard::builder(StaticKeys::new(ring))
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .revocations(list)
        .build()
}

#[tokio::test]
async fn a_revoked_sid_is_refused_at_once_and_other_sessions_and_sid_less_tokens_are_not() {
    let clock = clock();
    let list = Arc::new(MemoryRevocations::new().with_clock(clock.clone()));
    let app = app(guard_with(Arc::clone(&list), &clock));
    let mine = token_for_session("session-a");
    let other = token_for_session("session-b");
    let better_auth = sign(&ED, &claims());
    for token in [&mine, &other, &better_auth] {
        get_me(&app, token).await.assert_accepted();
    }

    list.revoke("session-a", NOW + 960);
    get_me(&app, &mine).await.assert_invalid_token();
    get_me(&app, &other).await.assert_accepted();
    get_me(&app, &better_auth).await.assert_accepted();
    let me = get_me(&app, &other).await;
    assert_eq!(me.body["claims"]["sid"], "session-b");

    // The entry lasts as long as it was asked to, then it is forgotten.
    list.revoke("session-b", NOW + 10);
    get_me(&app, &other).await.assert_invalid_token();
    clock.advance_secs(10);
    get_me(&app, &other).await.assert_accepted();
    get_me(&app, &mine).await.assert_invalid_token();
}

#[tokio::test]
async fn the_list_is_consulted_only_for_tokens_that_verify() {
    let clock = clock();
    let list = Arc::new(MemoryRevocations::new().with_clock(clock.clone()));
    list.revoke("session-a", NOW + 960);
    let guard = guard_with(Arc::clone(&list), &clock);
    let forged = with_part(&token_for_session("session-a"), 2, "AAAA");
    assert_eq!(guard.verify(&forged).await, Err(GuardError::InvalidToken));
    assert_eq!(
        guard.verify(&token_for_session("session-a")).await,
        Err(GuardError::InvalidToken)
    );
    // A non-string `sid` names no session this list could hold.
    let odd = sign(&ED, &claims_with(json!({ "sid": 7 })));
    assert!(guard.verify(&odd).await.is_ok());
    let user = guard.verify(&token_for_session("session-z")).await.unwrap();
    assert_eq!(user.session_id(), Some("session-z"));
}

#[cfg(feature = "remote")]
mod feed {
    //! The HTTP poller against a feed server whose contents the test controls.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::extract::Query;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use serde_json::json;
    use tessera_guard::revocation::{FeedError, MemoryRevocations, RevocationPoller};

    use super::*;

    #[derive(Default)]
    struct Feed {
        /// (event id, session id), in id order.
        events: Vec<(String, String)>,
        /// The `since` of each request received.
        requests: Vec<Option<String>>,
        page: usize,
        ttl: Option<u64>,
        down: bool,
    }

    /// A feed server following the protocol: ids after `since`, a page at a time.
    struct FeedServer {
        url: String,
        feed: Arc<Mutex<Feed>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl FeedServer {
        async fn start() -> Self {
            let feed = Arc::new(Mutex::new(Feed {
                page: 100,
                ttl: Some(960),
                ..Feed::default()
            }));
            let state = Arc::clone(&feed);
            let router = Router::new().route(
                "/api/auth/revocations",
                get(move |Query(query): Query<HashMap<String, String>>| {
                    let response = answer(&mut state.lock().unwrap(), query.get("since").cloned());
                    async move { response }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!(
                "http://{}/api/auth/revocations",
                listener.local_addr().unwrap()
            );
            let task = tokio::spawn(async move {
                axum::serve(listener, router).await.unwrap();
            });
            Self { url, feed, task }
        }

        fn end_session(&self, sid: &str) {
            let mut feed = self.feed.lock().unwrap();
            let id = format!("{:04}", feed.events.len() + 1);
            feed.events.push((id, sid.to_owned()));
        }

        fn feed(&self) -> std::sync::MutexGuard<'_, Feed> {
            self.feed.lock().unwrap()
        }
    }

    impl Drop for FeedServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn answer(feed: &mut Feed, since: Option<String>) -> Response {
        feed.requests.push(since.clone());
        if feed.down {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let after = since.unwrap_or_else(|| "0000".into());
        let newer: Vec<_> = feed.events.iter().filter(|(id, _)| *id > after).collect();
        let page: Vec<_> = newer.iter().take(feed.page).collect();
        let cursor = page.last().map_or(after.clone(), |(id, _)| id.clone());
        let mut body = json!({
            "revoked": page.iter().map(|(_, sid)| sid).collect::<Vec<_>>(),
            "cursor": cursor,
            "more": newer.len() > page.len(),
        });
        if let Some(ttl) = feed.ttl {
            body["ttl"] = ttl.into();
        }
        axum::Json(body).into_response()
    }

    fn poller(server: &FeedServer, list: &Arc<MemoryRevocations>) -> Arc<RevocationPoller> {
        Arc::new(
            RevocationPoller::builder(&server.url)
                .list(Arc::clone(list))
                .build()
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn a_session_ended_on_the_auth_server_is_refused_after_the_next_poll() {
        let clock = clock();
        let server = FeedServer::start().await;
        let list = Arc::new(MemoryRevocations::new().with_clock(clock.clone()));
        let poller = poller(&server, &list);
        let app = app(guard_with(Arc::clone(&poller), &clock));
        let token = token_for_session("session-a");

        server.end_session("someone-else");
        assert_eq!(poller.poll_once().await, Ok(1));
        get_me(&app, &token).await.assert_accepted();

        server.end_session("session-a");
        // Until the poll that follows the sign-out, the guard cannot know; right after, it does.
        get_me(&app, &token).await.assert_accepted();
        assert_eq!(poller.poll_once().await, Ok(1));
        get_me(&app, &token).await.assert_invalid_token();
        assert_eq!(
            server.feed().requests,
            [None, Some("0001".to_owned())],
            "each poll resumes from the cursor of the last"
        );

        // Kept for the feed's `ttl`, then forgotten (every token of that session has expired).
        clock.advance_secs(959);
        get_me(&app, &token).await.assert_invalid_token();
        clock.advance_secs(1);
        assert!(!list.is_revoked("session-a"));
    }

    #[tokio::test]
    async fn a_feed_outage_rejects_nothing_new_and_loses_nothing() {
        let clock = clock();
        let server = FeedServer::start().await;
        let list = Arc::new(MemoryRevocations::new().with_clock(clock.clone()));
        let poller = poller(&server, &list);
        let app = app(guard_with(Arc::clone(&poller), &clock));
        server.end_session("session-a");
        poller.poll_once().await.unwrap();
        let cursor = poller.cursor();

        server.feed().down = true;
        server.end_session("session-b");
        assert_eq!(poller.poll_once().await, Err(FeedError::Status(503)));
        assert_eq!(poller.cursor(), cursor, "a failed poll keeps the cursor");
        get_me(&app, &token_for_session("session-a"))
            .await
            .assert_invalid_token();
        get_me(&app, &token_for_session("session-b"))
            .await
            .assert_accepted();
        get_me(&app, &token_for_session("session-c"))
            .await
            .assert_accepted();

        server.feed().down = false;
        assert_eq!(poller.poll_once().await, Ok(1));
        get_me(&app, &token_for_session("session-b"))
            .await
            .assert_invalid_token();
        let requests = server.feed().requests.clone();
        assert_eq!(requests[1], requests[2], "resumed from the same cursor");
    }

    #[tokio::test]
    async fn an_unreachable_feed_is_a_transport_error_and_changes_nothing() {
        let server = FeedServer::start().await;
        let url = server.url.clone();
        drop(server);
        let list = Arc::new(MemoryRevocations::new());
        let poller = RevocationPoller::builder(&url)
            .list(Arc::clone(&list))
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        assert!(matches!(
            poller.poll_once().await,
            Err(FeedError::Transport(_))
        ));
        assert!(list.is_empty());
        assert_eq!(poller.cursor(), None);
    }

    #[tokio::test]
    async fn a_backlog_is_read_page_by_page_in_one_poll() {
        let server = FeedServer::start().await;
        server.feed().page = 2;
        for n in 0..5 {
            server.end_session(&format!("session-{n}"));
        }
        let list = Arc::new(MemoryRevocations::new());
        let poller = poller(&server, &list);
        assert_eq!(poller.poll_once().await, Ok(5));
        assert_eq!(list.len(), 5);
        assert_eq!(
            server.feed().requests,
            [None, Some("0002".into()), Some("0004".into())]
        );
        assert_eq!(poller.cursor().map(String::from).as_deref(), Some("0005"));
    }

    #[tokio::test]
    async fn without_a_ttl_ids_are_kept_for_the_default_token_lifetime_plus_leeway() {
        let clock = clock();
        let server = FeedServer::start().await;
        server.feed().ttl = None;
        server.end_session("session-a");
        let list = Arc::new(MemoryRevocations::new().with_clock(clock.clone()));
        poller(&server, &list).poll_once().await.unwrap();
        clock.advance_secs(959);
        assert!(list.is_revoked("session-a"));
        clock.advance_secs(1);
        assert!(!list.is_revoked("session-a"));
    }

    /// The background loop, observed through the list's change notifications (bounded wait,
    /// no sleeping): a revocation arrives within one interval of being published.
    #[tokio::test]
    async fn the_spawned_loop_polls_every_interval_until_the_poller_is_dropped() {
        let server = FeedServer::start().await;
        let list = Arc::new(MemoryRevocations::new());
        let poller = Arc::new(
            RevocationPoller::builder(&server.url)
                .list(Arc::clone(&list))
                .interval(Duration::from_millis(50))
                .build()
                .unwrap(),
        );
        let task = poller.spawn();
        let mut changes = list.changes();
        server.end_session("session-a");
        tokio::time::timeout(
            Duration::from_secs(5),
            changes.wait_for(|_| list.is_revoked("session-a")),
        )
        .await
        .expect("the loop picked the revocation up")
        .unwrap();
        drop(poller);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the loop ends once the poller is dropped")
            .unwrap();
    }
}

#[cfg(feature = "redis")]
mod redis_channel {
    //! The Redis subscriber against a real Redis (`TEST_REDIS_URL`, default the local one),
    //! publishing the way Tessera's auth server does. Waits are on the list's change
    //! notifications, bounded.

    use std::sync::Arc;
    use std::time::Duration;

    use ring::rand::SecureRandom as _;
    use serde_json::json;
    use tessera_guard::revocation::protocol::REDIS_KEY;
    use tessera_guard::revocation::{MemoryRevocations, RedisRevocations, RevocationList};

    fn redis_url() -> String {
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    /// A session id of this run only (the channel and set are shared with other tests).
    fn fresh_sid() -> String {
        let mut bytes = [0u8; 12];
        ring::rand::SystemRandom::new().fill(&mut bytes).unwrap();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unix_now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    async fn connection() -> redis::aio::MultiplexedConnection {
        let url = redis_url();
        redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Redis is not answering at {url} ({e}); run scripts/test.sh, which starts one"
                )
            })
    }

    async fn wait_revoked(list: &MemoryRevocations, sid: &str) {
        let mut changes = list.changes();
        tokio::time::timeout(
            Duration::from_secs(5),
            changes.wait_for(|_| list.is_revoked(sid)),
        )
        .await
        .unwrap_or_else(|_| panic!("{sid} never arrived"))
        .unwrap();
    }

    #[tokio::test]
    async fn a_subscriber_catches_up_from_the_sorted_set_then_follows_the_channel() {
        let mut conn = connection().await;
        let (before, expired, after) = (fresh_sid(), fresh_sid(), fresh_sid());
        let until = unix_now() + 960;
        let _: () = redis::cmd("ZADD")
            .arg(REDIS_KEY)
            .arg(until)
            .arg(&before)
            .arg(unix_now() - 1)
            .arg(&expired)
            .query_async(&mut conn)
            .await
            .unwrap();

        let list = Arc::new(MemoryRevocations::new());
        let subscriber = RedisRevocations::builder(&redis_url())
            .list(Arc::clone(&list))
            .spawn()
            .unwrap();
        assert!(subscriber.wait_synced(Duration::from_secs(5)).await);
        assert!(
            subscriber.is_revoked(&before),
            "published before it subscribed"
        );
        assert!(!subscriber.is_revoked(&expired), "no longer relevant");

        let publish = |payload: String| {
            let mut conn = conn.clone();
            async move {
                let _: () = redis::cmd("PUBLISH")
                    .arg(REDIS_KEY)
                    .arg(payload)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
        };
        publish("not json".into()).await;
        publish(json!({ "revoked": [after], "until": until }).to_string()).await;
        wait_revoked(&list, &after).await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_rejects_nothing_and_a_bad_url_is_refused() {
        assert!(RedisRevocations::builder("not a url").spawn().is_err());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let subscriber = RedisRevocations::builder(&format!("redis://127.0.0.1:{port}"))
            .connect_timeout(Duration::from_millis(200))
            .spawn()
            .unwrap();
        assert!(!subscriber.wait_synced(Duration::from_millis(300)).await);
        assert!(!subscriber.is_revoked("anything"));
    }
}
