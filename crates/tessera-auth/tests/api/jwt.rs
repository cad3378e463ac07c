use serde_json::json;
use tessera_jwt::{JwkSet, KeyRing, Validation};

use crate::helpers::*;

on_both_backends! {
    async fn token_mints_a_jwt_that_verifies_against_the_published_jwks(app) {
        let user = app.sign_up().await;
        assert_eq!(app.get("/token").await.status, 401);
        let resp = app.get_as(&user, "/token").await;
        assert_eq!(resp.status, 200);
        let token = resp.body["token"].as_str().unwrap();
        let jwks = app.get("/jwks").await;
        assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
        let set: JwkSet = serde_json::from_value(jwks.body.clone()).unwrap();
        assert_eq!(set.keys.len(), 1);
        let key = &set.keys[0];
        assert_eq!((key.kty.as_str(), key.crv.as_deref(), key.alg.as_deref()), ("OKP", Some("Ed25519"), Some("EdDSA")));
        assert!(key.d.is_none(), "never publish private members");
        let (ring, skipped) = KeyRing::from_jwks(&set);
        assert!(skipped.is_empty());
        let validation = Validation::new([tessera_jwt::Algorithm::EdDSA]).with_issuer(ORIGIN).with_audience(ORIGIN);
        let now = app.clock_now();
        let verified = tessera_jwt::verify(token, &ring, &validation, now).expect("verifies");
        assert_eq!(verified.claims.sub(), user.id);
        assert_eq!(verified.claims.email(), Some(user.email.as_str()));
        let claims = verified.claims.raw();
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
        assert_eq!(claims["name"], "Test User");
        assert_eq!(claims["emailVerified"], false);
        assert_eq!(verified.kid.as_deref(), key.kid.as_deref());
    }

    async fn the_signing_key_is_created_once_and_reused(app) {
        let user = app.sign_up().await;
        let a = app.get_as(&user, "/token").await.body["token"].as_str().unwrap().to_owned();
        let b = app.get_as(&user, "/token").await.body["token"].as_str().unwrap().to_owned();
        let kid = |t: &str| jwt_header(t)["kid"].clone();
        assert_eq!(kid(&a), kid(&b));
        assert_eq!(app.state.store.list_jwks().await.unwrap().len(), 1);
        assert!(app.state.store.list_jwks().await.unwrap()[0].private_key.starts_with('"'), "stored JSON-quoted and sealed");
    }

    async fn ok_answers_without_credentials(app) {
        let resp = app.get("/ok").await;
        assert_eq!((resp.status, resp.body.clone()), (200, json!({"ok": true})));
    }
}

async fn hs256_tokens_are_signed_with_the_secret_and_carry_no_audience(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.jwt.alg = tessera_jwt::Algorithm::HS256).await;
    let user = app.sign_up().await;
    let token = app.get_as(&user, "/token").await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_header(&token)["alg"], "HS256");
    assert!(
        jwt_payload(&token).get("aud").is_none(),
        "python-jose rejects aud without an audience argument"
    );
    let ring = KeyRing::new(vec![tessera_jwt::VerifyingKey::hmac(
        None,
        SECRET.as_bytes(),
    )]);
    let verified = tessera_jwt::verify(
        &token,
        &ring,
        &Validation::new([tessera_jwt::Algorithm::HS256]),
        app.clock_now(),
    );
    assert_eq!(
        verified.expect("verifies with the secret").claims.sub(),
        user.id
    );
    assert_eq!(
        app.get("/jwks").await.body,
        json!({"keys": []}),
        "a symmetric key is never published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_mode_on_sqlite() {
    hs256_tokens_are_signed_with_the_secret_and_carry_no_audience(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_mode_on_postgres() {
    hs256_tokens_are_signed_with_the_secret_and_carry_no_audience(Backend::Postgres).await;
}

fn jwt_header(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}
