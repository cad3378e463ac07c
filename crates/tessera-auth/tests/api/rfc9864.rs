//! `TESSERA_JWT_ALG=Ed25519` (RFC 9864): tokens carry the header `alg: "Ed25519"`, the `jwks`
//! row and the published JWK say `Ed25519`, and an existing `EdDSA` key is left alone.

use serde_json::{Value, json};
use tessera_auth::clock::Clock as _;
use tessera_jwt::{Algorithm, JwkSet, KeyRing, Validation};

use crate::helpers::*;

fn header_of(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

async fn ed25519_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| c.jwt.alg = Algorithm::Ed25519).await
}

async fn tokens_are_minted_under_the_name_ed25519_and_published_with_it(backend: Backend) {
    let app = ed25519_app(backend).await;
    let user = app.sign_up().await;
    let resp = app.get_as(&user, "/token").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let token = resp.body["token"].as_str().unwrap().to_owned();
    let header = header_of(&token);
    assert_eq!(header["alg"], "Ed25519");
    let kid = header["kid"].as_str().unwrap().to_owned();

    // The row as Better Auth's schema holds it: the name in `alg`, the curve in `crv`, and a
    // public JWK without `alg`/`kid` (those live in their own columns).
    let rows = app.state.store.list_jwks().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, kid);
    assert_eq!(
        (rows[0].alg.as_deref(), rows[0].crv.as_deref()),
        (Some("Ed25519"), Some("Ed25519"))
    );
    let public: Value = serde_json::from_str(&rows[0].public_key).unwrap();
    assert_eq!(
        (&public["kty"], &public["crv"]),
        (&json!("OKP"), &json!("Ed25519"))
    );
    assert!(
        public.get("alg").is_none() && public.get("d").is_none(),
        "{public}"
    );

    let jwks = app.get("/jwks").await;
    assert_eq!(jwks.status, 200);
    let entry = &jwks.body["keys"][0];
    assert_eq!(
        (&entry["kid"], &entry["alg"], &entry["kty"], &entry["crv"]),
        (
            &json!(kid),
            &json!("Ed25519"),
            &json!("OKP"),
            &json!("Ed25519")
        )
    );

    // And the published key verifies the token under its new name.
    let set: JwkSet = serde_json::from_value(jwks.body.clone()).unwrap();
    let (ring, skipped) = KeyRing::from_jwks(&set);
    assert!(skipped.is_empty(), "{skipped:?}");
    let verified = tessera_jwt::verify(
        &token,
        &ring,
        &Validation::new([Algorithm::Ed25519]),
        app.clock_now(),
    )
    .unwrap();
    assert_eq!(verified.alg, Algorithm::Ed25519);
    assert_eq!(verified.claims.sub(), user.id);

    let list = app
        .state
        .jwt
        .keys
        .list(app.state.store.as_ref(), app.clock.now())
        .await
        .unwrap();
    assert_eq!(list[0].alg, "Ed25519");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_minting_on_sqlite() {
    tokens_are_minted_under_the_name_ed25519_and_published_with_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_minting_on_postgres() {
    tokens_are_minted_under_the_name_ed25519_and_published_with_it(Backend::Postgres).await;
}

async fn switching_from_eddsa_to_ed25519_mints_a_new_key_and_keeps_the_old_one_published(
    backend: Backend,
) {
    // A deployment that ran with EdDSA: its key signed a token that is still live.
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up().await;
    let old_token = app.get_as(&user, "/token").await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = header_of(&old_token)["kid"].as_str().unwrap().to_owned();

    // The same database, now configured with the new name (like a restart with
    // TESSERA_JWT_ALG=Ed25519). Keys are chosen by their stored name, as Better Auth does, so a
    // new key is minted rather than the EdDSA one signing under a name it was not stored with.
    let mut config = app.state.config.clone();
    config.jwt.alg = Algorithm::Ed25519;
    let renamed = tessera_auth::features::jwt::KeyManager::new(&config);
    let key = renamed
        .signing_key(app.state.store.as_ref(), app.clock.now())
        .await
        .unwrap();
    assert_eq!(key.alg(), Algorithm::Ed25519);
    assert_ne!(key.kid(), Some(old_kid.as_str()));

    let set = renamed
        .jwks(app.state.store.as_ref(), app.clock.now())
        .await
        .unwrap();
    let mut published: Vec<(String, String)> = set
        .keys
        .iter()
        .map(|k| (k.kid.clone().unwrap(), k.alg.clone().unwrap()))
        .collect();
    published.sort();
    let mut expected = vec![
        (old_kid.clone(), "EdDSA".to_owned()),
        (key.kid().unwrap().to_owned(), "Ed25519".to_owned()),
    ];
    expected.sort();
    assert_eq!(published, expected);

    // The token signed before the switch still verifies against the published set.
    let (ring, _) = KeyRing::from_jwks(&set);
    let both = Validation::new([Algorithm::EdDSA, Algorithm::Ed25519]);
    assert!(tessera_jwt::verify(&old_token, &ring, &both, app.clock_now()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_names_on_sqlite() {
    switching_from_eddsa_to_ed25519_mints_a_new_key_and_keeps_the_old_one_published(
        Backend::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_names_on_postgres() {
    switching_from_eddsa_to_ed25519_mints_a_new_key_and_keeps_the_old_one_published(
        Backend::Postgres,
    )
    .await;
}
