//! Key sources fed by the host process itself (how `tessera serve` verifies with its own keys).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_guard::Guard;
use tessera_guard::keys::{FetchError, FetchedJwks, JwksCache, SharedKeys};
use tessera_guard::tessera_jwt::{Algorithm, JwkSet, KeyRing, SigningKey, VerifyingKey};

use crate::helpers::*;

#[tokio::test]
async fn shared_keys_replaced_by_the_host_take_effect_on_the_next_request() {
    let clock = clock();
    let keys = SharedKeys::new(KeyRing::new(vec![VerifyingKey::from_signing_key(&ED)]));
    let guard = Guard::builder(keys.clone()).clock(clock.clone()).build();
    let app = app(guard);
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    get_me(&app, &sign(&EC, &claims()))
        .await
        .assert_invalid_token();

    keys.replace_with_jwks(&jwks(&[&EC]));
    get_me(&app, &sign(&EC, &claims())).await.assert_accepted();
    // The old key was rotated out.
    get_me(&app, &sign(&ED, &claims()))
        .await
        .assert_invalid_token();
}

/// An in-process "auth server": its published key set, and how often it was asked.
#[derive(Clone, Default)]
struct KeyServer {
    published: Arc<Mutex<JwkSet>>,
    calls: Arc<AtomicUsize>,
}

impl KeyServer {
    fn source(&self) -> JwksCache<impl tessera_guard::keys::FetchJwks> {
        let server = self.clone();
        JwksCache::new(move || {
            let server = server.clone();
            async move {
                server.calls.fetch_add(1, Ordering::SeqCst);
                let keys = server.published.lock().unwrap().clone();
                Ok::<_, FetchError>(FetchedJwks {
                    keys,
                    max_age: None,
                })
            }
        })
    }

    fn publish(&self, keys: &[&SigningKey]) {
        *self.published.lock().unwrap() = jwks(keys);
    }
}

#[tokio::test]
async fn a_key_rotated_in_by_the_in_process_auth_server_is_found_by_the_unknown_kid_refetch() {
    let clock = clock();
    let server = KeyServer::default();
    server.publish(&[&ED]);
    let source = server.source().with_clock(clock.clone());
    let app = app(Guard::builder(source).clock(clock.clone()).build());
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);

    let rotated = SigningKey::generate(Algorithm::EdDSA, "ed-2").unwrap();
    server.publish(&[&rotated, &ED]);
    clock.advance_secs(10);
    get_me(&app, &sign(&rotated, &claims()))
        .await
        .assert_accepted();
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
    // Both keys are now cached.
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    get_me(&app, &sign(&rotated, &claims()))
        .await
        .assert_accepted();
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_in_process_source_that_fails_keeps_serving_its_last_good_keys() {
    let clock = clock();
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = Arc::clone(&healthy);
    let source = JwksCache::new(move || {
        let ok = flag.load(Ordering::SeqCst);
        async move {
            if ok {
                Ok(FetchedJwks {
                    keys: jwks(&[&ED]),
                    max_age: Some(std::time::Duration::from_secs(60)),
                })
            } else {
                Err(FetchError::Source("database unavailable".into()))
            }
        }
    })
    .with_clock(clock.clone());
    let app = app(Guard::builder(source).clock(clock.clone()).build());
    get_me(&app, &sign(&ED, &claims())).await.assert_accepted();
    healthy.store(false, Ordering::SeqCst);
    clock.advance_secs(120);
    get_me(
        &app,
        &sign(&ED, &claims_with(serde_json::json!({ "exp": NOW + 900 }))),
    )
    .await
    .assert_accepted();
}

#[tokio::test]
async fn while_a_stale_set_is_being_refreshed_other_requests_use_it_instead_of_waiting() {
    let clock = clock();
    let calls = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let (c, s, r) = (
        Arc::clone(&calls),
        Arc::clone(&started),
        Arc::clone(&release),
    );
    let source = JwksCache::new(move || {
        let n = c.fetch_add(1, Ordering::SeqCst);
        let (started, release) = (Arc::clone(&s), Arc::clone(&r));
        async move {
            if n > 0 {
                // The second fetch hangs until the test lets it finish.
                started.notify_one();
                release.notified().await;
            }
            Ok::<_, FetchError>(FetchedJwks {
                keys: jwks(&[&ED]),
                max_age: Some(std::time::Duration::from_secs(60)),
            })
        }
    })
    .with_clock(clock.clone());
    let guard = Guard::builder(source).clock(clock.clone()).build();
    let token = sign(&ED, &claims());
    assert!(guard.verify(&token).await.is_ok());
    clock.advance_secs(60);

    let refreshing = tokio::spawn({
        let (guard, token) = (guard.clone(), token.clone());
        async move { guard.verify(&token).await }
    });
    started.notified().await;
    // The refresh is in flight and hanging; this request is served from the stale set at once.
    // (The timeout only turns a regression into a failure instead of a hang.)
    let served =
        tokio::time::timeout(std::time::Duration::from_secs(5), guard.verify(&token)).await;
    assert!(served.expect("the request waited for the refresh").is_ok());
    release.notify_one();
    assert!(refreshing.await.unwrap().is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
