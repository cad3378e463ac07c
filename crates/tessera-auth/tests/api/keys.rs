//! Signing keys: automatic rotation, `keys rotate`, the grace period in `/jwks`, picking up a
//! rotation made elsewhere, and keys sealed under an older secret. Time moves by the injected
//! clock only.

use chrono::Duration;
use serde_json::{Value, json};
use tessera_auth::audit::{AuditFilter, AuditKind};
use tessera_auth::clock::Clock as _;
use tessera_auth::features::jwt::{KEY_RECHECK_SECS, KeyError, KeyManager, KeyStatus};
use tessera_auth::secret::{Secret, SecretSet};
use tessera_jwt::Algorithm;

use crate::helpers::*;

async fn kid_of_new_token(app: &TestApp, user: &TestUser) -> String {
    let resp = app.get_as(user, "/token").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let token = resp.body["token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    use base64::Engine as _;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published(app: &TestApp) -> Vec<String> {
    let resp = app.get("/jwks").await;
    resp.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn key_events(app: &TestApp) -> Vec<tessera_auth::audit::AuditEvent> {
    let mut rows = app
        .state
        .store
        .list_audit(&AuditFilter::default())
        .await
        .unwrap();
    rows.retain(|e| e.event == "key_created" || e.event == "key_rotated");
    rows.reverse();
    rows
}

/// Another process's view of the same database and secrets, as `tessera keys rotate` has.
fn other_process(app: &TestApp) -> KeyManager {
    KeyManager::new(&app.state.config)
}

fn with_interval_and_grace(
    config: &mut tessera_auth::AuthConfig,
    interval: Duration,
    grace: Duration,
) {
    config.jwt.rotation_interval = Some(interval);
    config.jwt.grace_period = grace;
}

async fn with_a_rotation_interval_a_new_key_signs_once_the_current_one_expires(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        with_interval_and_grace(c, Duration::hours(1), Duration::hours(2));
    })
    .await;
    let user = app.sign_up().await;
    let first = kid_of_new_token(&app, &user).await;
    let row = app.state.store.list_jwks().await.unwrap().remove(0);
    assert_eq!(
        row.expires_at.unwrap().0 - row.created_at.0,
        Duration::hours(1),
        "expiresAt = createdAt + interval"
    );
    app.clock.advance(Duration::minutes(59));
    assert_eq!(kid_of_new_token(&app, &user).await, first);

    app.clock
        .advance(Duration::minutes(1) + Duration::seconds(1));
    let second = kid_of_new_token(&app, &user).await;
    assert_ne!(second, first, "the expired key no longer signs");
    assert_eq!(published(&app).await, [second.clone(), first.clone()]);
    let events = key_events(&app).await;
    assert_eq!(
        events.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["key_created", "key_rotated"]
    );
    assert_eq!(events[1].reason.as_deref(), Some("expired"));
    assert_eq!(
        events[1].detail_json().unwrap(),
        json!({"kid": second, "alg": "EdDSA", "previous": first})
    );
    assert_eq!(
        (events[1].ip.as_str(), events[1].user_id.as_deref()),
        ("", None)
    );

    // The first key expired at +1h; with a 2h grace it is published until +3h.
    app.clock.advance(Duration::hours(2) - Duration::seconds(2));
    assert!(published(&app).await.contains(&first));
    app.clock.advance(Duration::seconds(2));
    let now_published = published(&app).await;
    assert!(
        !now_published.contains(&first),
        "gone after the grace period"
    );
    assert!(now_published.contains(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rotation_on_sqlite() {
    with_a_rotation_interval_a_new_key_signs_once_the_current_one_expires(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rotation_on_postgres() {
    with_a_rotation_interval_a_new_key_signs_once_the_current_one_expires(Backend::Postgres).await;
}

async fn the_grace_period_never_ends_before_the_last_token_expires(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.jwt.grace_period = Duration::minutes(1)).await;
    let lifetime = app.state.config.jwt.expires_in;
    assert_eq!(
        app.state.jwt.keys.grace_period(),
        lifetime + Duration::seconds(KEY_RECHECK_SECS),
        "raised to the JWT lifetime plus the re-check interval"
    );
    let user = app.sign_up().await;
    let old = kid_of_new_token(&app, &user).await;
    let now = app.clock.now();
    app.state
        .jwt
        .keys
        .rotate(app.state.store.as_ref(), Algorithm::EdDSA, now)
        .await
        .unwrap();
    app.clock.advance(lifetime);
    assert!(
        published(&app).await.contains(&old),
        "a token signed just before the rotation still verifies"
    );
    app.clock.advance(Duration::seconds(KEY_RECHECK_SECS));
    assert!(!published(&app).await.contains(&old));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_floor_on_sqlite() {
    the_grace_period_never_ends_before_the_last_token_expires(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_floor_on_postgres() {
    the_grace_period_never_ends_before_the_last_token_expires(Backend::Postgres).await;
}

on_both_backends! {
    async fn the_first_key_is_created_on_first_use_and_audited(app) {
        assert!(key_events(&app).await.is_empty());
        let kids = published(&app).await;
        assert_eq!(kids.len(), 1);
        let events = key_events(&app).await;
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].event.as_str(), events[0].reason.as_deref(), events[0].outcome.as_str()), ("key_created", Some("first_use"), "success"));
        assert_eq!(events[0].detail_json().unwrap(), json!({"kid": kids[0], "alg": "EdDSA"}));
        let list = app.state.jwt.keys.list(app.state.store.as_ref(), app.clock.now()).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].kid.as_str(), list[0].alg.as_str(), list[0].status, list[0].expires_at), (kids[0].as_str(), "EdDSA", KeyStatus::Current, None));
    }

    async fn keys_rotate_makes_a_new_key_current_and_keeps_the_old_one_published(app) {
        let user = app.sign_up().await;
        let old = kid_of_new_token(&app, &user).await;
        app.clock.advance(Duration::seconds(1));
        let now = app.clock.now();
        let rotation = app.state.jwt.keys.rotate(app.state.store.as_ref(), Algorithm::EdDSA, now).await.unwrap();
        assert_eq!(rotation.retired, std::slice::from_ref(&old));
        assert_eq!(kid_of_new_token(&app, &user).await, rotation.kid, "this process switches at once");
        let rows = app.state.store.list_jwks().await.unwrap();
        let old_row = rows.iter().find(|r| r.id == old).unwrap();
        assert_eq!(old_row.expires_at.map(|t| t.0), Some(now), "expiresAt = now: it stops signing");
        assert_eq!(rows.iter().find(|r| r.id == rotation.kid).unwrap().expires_at, None, "no interval configured");
        assert_eq!(published(&app).await, [rotation.kid.clone(), old.clone()]);

        let event = key_events(&app).await.pop().unwrap();
        assert_eq!((event.event.as_str(), event.reason.as_deref()), ("key_rotated", Some("manual")));
        assert_eq!(event.detail_json().unwrap(), json!({"kid": rotation.kid, "alg": "EdDSA", "retired": [old]}));

        let list = app.state.jwt.keys.list(app.state.store.as_ref(), app.clock.now()).await.unwrap();
        let status = |kid: &str| list.iter().find(|k| k.kid == kid).unwrap().status;
        assert_eq!((status(&rotation.kid), status(&old)), (KeyStatus::Current, KeyStatus::Retiring));
        app.clock.advance(app.state.jwt.keys.grace_period());
        let list = app.state.jwt.keys.list(app.state.store.as_ref(), app.clock.now()).await.unwrap();
        assert_eq!(list.iter().find(|k| k.kid == old).unwrap().status, KeyStatus::Expired);
        assert!(!published(&app).await.contains(&old));
    }

    async fn a_rotation_by_another_process_is_picked_up_within_the_recheck_interval(app) {
        let user = app.sign_up().await;
        let old = kid_of_new_token(&app, &user).await;
        let rotation = other_process(&app).rotate(app.state.store.as_ref(), Algorithm::EdDSA, app.clock.now()).await.unwrap();
        assert_eq!(rotation.retired, std::slice::from_ref(&old));
        // The cached key is trusted until the re-check is due: no query on the hot path.
        app.clock.advance(Duration::seconds(KEY_RECHECK_SECS - 1));
        assert_eq!(kid_of_new_token(&app, &user).await, old);
        app.clock.advance(Duration::seconds(1));
        assert_eq!(kid_of_new_token(&app, &user).await, rotation.kid);
        assert_eq!(app.state.store.list_jwks().await.unwrap().len(), 2, "the server did not mint a key of its own");
    }

    async fn a_key_of_another_algorithm_can_be_rotated_in_and_is_published(app) {
        let user = app.sign_up().await;
        let eddsa = kid_of_new_token(&app, &user).await;
        app.clock.advance(Duration::seconds(1));
        let es256 = app.state.jwt.keys.rotate(app.state.store.as_ref(), Algorithm::ES256, app.clock.now()).await.unwrap();
        assert!(es256.retired.is_empty(), "EdDSA keys are not touched");
        assert_eq!(kid_of_new_token(&app, &user).await, eddsa, "the server still signs with its configured algorithm");
        let keys = app.get("/jwks").await.body["keys"].clone();
        let algs: Vec<_> = keys.as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap().to_owned()).collect();
        assert_eq!(algs, ["ES256", "EdDSA"]);
        let event = key_events(&app).await.pop().unwrap();
        assert_eq!(event.event, AuditKind::KeyCreated.as_str(), "the first ES256 key is a creation");
        let list = app.state.jwt.keys.list(app.state.store.as_ref(), app.clock.now()).await.unwrap();
        assert!(list.iter().all(|k| k.status == KeyStatus::Current));
    }

    async fn hs256_keys_cannot_be_rotated_here(app) {
        let err = app.state.jwt.keys.rotate(app.state.store.as_ref(), Algorithm::HS256, app.clock.now()).await.unwrap_err();
        assert!(matches!(err, KeyError::Key(ref m) if m.contains("BETTER_AUTH_SECRETS")), "{err:?}");
        assert!(app.state.store.list_jwks().await.unwrap().is_empty());
    }

    async fn the_private_key_is_stored_sealed_under_the_secret_and_never_published(app) {
        let user = app.sign_up().await;
        assert_eq!(app.get_as(&user, "/token").await.status, 200);
        let row = app.state.store.list_jwks().await.unwrap().remove(0);
        // Better Auth's format: the JSON string of the hex of XChaCha20-Poly1305 under the
        // secret. A plain JWK, quoted or not, is not that.
        let sealed: String = serde_json::from_str(&row.private_key).expect("the column holds a JSON string");
        assert!(sealed.bytes().all(|b| b.is_ascii_hexdigit()), "the column holds sealed hex, not a JWK");
        let opened = tessera_jwt::sealed::open(SECRET, &sealed).expect("opens with the secret");
        let private: Value = serde_json::from_str(&opened).unwrap();
        let d = private["d"].as_str().expect("what is sealed is the private JWK");
        assert!(tessera_jwt::sealed::open("another-secret-0123456789abcdef0123456789", &sealed).is_err());
        // The private member is neither in the public column nor in the published key set.
        assert!(!row.public_key.contains(d), "the public column holds the private member");
        assert!(!app.get("/jwks").await.body.to_string().contains(d), "/jwks publishes the private member");
    }

    async fn keys_sealed_under_an_older_secret_version_still_open(app) {
        let store = app.state.store.as_ref();
        let now = app.clock.now();
        let mut config = app.state.config.clone();
        config.secrets = SecretSet::parse_versioned("1:first-secret-0123456789abcdef0123456789", None).unwrap();
        let v1 = KeyManager::new(&config).signing_key(store, now).await.unwrap();
        let v1_kid = v1.kid().unwrap().to_owned();
        assert!(store.list_jwks().await.unwrap()[0].private_key.starts_with("\"$ba$1$"));

        // Secrets rotated: version 2 is current, version 1 kept for what it sealed.
        config.secrets = SecretSet::parse_versioned("2:second-secret-0123456789abcdef012345678,1:first-secret-0123456789abcdef0123456789", None).unwrap();
        let rotated = KeyManager::new(&config);
        let opened = rotated.signing_key(store, now).await.unwrap();
        assert_eq!(opened.kid(), Some(v1_kid.as_str()), "the v1 row decrypts and still signs");
        let next = rotated.rotate(store, Algorithm::EdDSA, now).await.unwrap();
        let rows = store.list_jwks().await.unwrap();
        assert!(rows.iter().find(|r| r.id == next.kid).unwrap().private_key.starts_with("\"$ba$2$"), "new keys use the newest secret");

        // A bare-hex row from a single BETTER_AUTH_SECRET opens once that secret is the legacy one.
        config.secrets = SecretSet::single(Secret::new("legacy-secret-0123456789abcdef0123456789"));
        let legacy_kid = KeyManager::new(&config).rotate(store, Algorithm::ES256, now).await.unwrap().kid;
        let legacy_row = store.list_jwks().await.unwrap().into_iter().find(|r| r.id == legacy_kid).unwrap();
        assert!(!legacy_row.private_key.contains("$ba$"));
        config.secrets = SecretSet::parse_versioned("3:third-secret-0123456789abcdef01234567890", Some(Secret::new("legacy-secret-0123456789abcdef0123456789"))).unwrap();
        config.jwt.alg = Algorithm::ES256;
        assert_eq!(KeyManager::new(&config).signing_key(store, now).await.unwrap().kid(), Some(legacy_kid.as_str()));

        // Without the secret that sealed it, a key does not open.
        config.secrets = SecretSet::parse_versioned("3:third-secret-0123456789abcdef01234567890", None).unwrap();
        let err = KeyManager::new(&config).signing_key(store, now).await.unwrap_err();
        assert!(matches!(err, KeyError::Decrypt(ref kid) if *kid == legacy_kid), "{err:?}");
    }
}
