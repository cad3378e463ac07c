//! The verified-token cache (`GuardBuilder::token_cache`) changes how fast answers come, never
//! what they are: the same tokens pass and fail as without it, expiry, key rotation and
//! withdrawal take effect at once, and revocations are checked on every request.

use std::sync::Arc;

use serde_json::json;
use tessera_guard::keys::SharedKeys;
use tessera_guard::revocation::MemoryRevocations;
use tessera_guard::tessera_jwt::{Algorithm, KeyRing, SigningKey, VerifyingKey};
use tessera_guard::{Guard, GuardError, ManualClock};

use crate::helpers::*;

fn ring_of(keys: &[&SigningKey]) -> KeyRing {
    KeyRing::new(
        keys.iter()
            .map(|k| VerifyingKey::from_signing_key(k))
            .collect(),
    )
}

fn cached_guard(keys: SharedKeys, clock: &ManualClock) -> Guard {
    Guard::builder(keys)
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .token_cache(64)
        .build()
}

#[tokio::test]
async fn every_token_gets_the_same_answer_with_and_without_the_cache_twice_over() {
    let clock = clock();
    let plain = asymmetric_guard(&clock);
    let keys = SharedKeys::new(ring_of(&asymmetric_keys()));
    let cached = cached_guard(keys, &clock);
    let mut tokens = Vec::new();
    for key in asymmetric_keys() {
        let good = sign(key, &claims());
        tokens.push(with_part(&good, 2, "AAAA"));
        tokens.push(with_part(
            &good,
            1,
            &b64(br#"{"sub":"someone-else","exp":1800000900}"#),
        ));
        tokens.push(good);
        tokens.push(sign(key, &claims_with(json!({ "exp": NOW - 1 }))));
        tokens.push(sign(
            key,
            &claims_with(json!({ "iss": "https://evil.example" })),
        ));
        tokens.push(sign(key, &claims_with(json!({ "nbf": NOW + 30 }))));
    }
    tokens.push(sign(&hs_key(), &claims()));
    tokens.push("not-a-token".to_owned());
    for round in 0..2 {
        for token in &tokens {
            assert_eq!(
                cached.verify(token).await,
                plain.verify(token).await,
                "round {round}, token {token}"
            );
        }
    }
}

#[tokio::test]
async fn a_cached_token_expires_at_its_exp() {
    let clock = clock();
    let guard = cached_guard(SharedKeys::new(ring_of(&[&ED])), &clock);
    let token = sign(&ED, &claims_with(json!({ "exp": NOW + 60 })));
    assert!(guard.verify(&token).await.is_ok());
    clock.advance_secs(59);
    assert!(guard.verify(&token).await.is_ok());
    clock.advance_secs(1);
    assert_eq!(guard.verify(&token).await, Err(GuardError::InvalidToken));
}

#[tokio::test]
async fn a_not_yet_valid_token_is_accepted_once_its_time_comes() {
    let clock = clock();
    let guard = cached_guard(SharedKeys::new(ring_of(&[&ED])), &clock);
    let token = sign(&ED, &claims_with(json!({ "nbf": NOW + 30 })));
    assert_eq!(guard.verify(&token).await, Err(GuardError::InvalidToken));
    clock.advance_secs(30);
    assert!(guard.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_withdrawn_key_stops_its_cached_tokens_at_once_and_a_new_ring_rechecks() {
    let clock = clock();
    let keys = SharedKeys::new(ring_of(&[&ED, &EC]));
    let guard = cached_guard(keys.clone(), &clock);
    let by_ed = sign(&ED, &claims());
    let by_ec = sign(&EC, &claims());
    assert!(guard.verify(&by_ed).await.is_ok());
    assert!(guard.verify(&by_ec).await.is_ok());

    // The ED key is withdrawn (revoked in the JWKS): its token fails on the very next request.
    keys.replace(ring_of(&[&EC]));
    assert_eq!(guard.verify(&by_ed).await, Err(GuardError::InvalidToken));
    assert!(guard.verify(&by_ec).await.is_ok());

    // A rejection remembered against the old ring does not outlive it either.
    let later = SigningKey::generate(Algorithm::EdDSA, "ed-2").unwrap();
    let by_later = sign(&later, &claims());
    assert_eq!(guard.verify(&by_later).await, Err(GuardError::InvalidToken));
    keys.replace(ring_of(&[&EC, &later]));
    assert!(guard.verify(&by_later).await.is_ok());
}

#[tokio::test]
async fn revocations_apply_to_cached_tokens() {
    let clock = clock();
    let list = Arc::new(MemoryRevocations::new().with_clock(clock.clone()));
    let guard = Guard::builder(SharedKeys::new(ring_of(&[&ED])))
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .revocations(Arc::clone(&list))
        .token_cache(64)
        .build();
    let token = sign(&ED, &claims_with(json!({ "sid": "session-a" })));
    assert!(guard.verify(&token).await.is_ok());
    assert!(guard.verify(&token).await.is_ok(), "now from the cache");
    list.revoke("session-a", NOW + 960);
    assert_eq!(guard.verify(&token).await, Err(GuardError::InvalidToken));
}

#[tokio::test]
async fn through_axum_a_cached_token_still_cannot_read_another_users_data() {
    let clock = clock();
    let app = app(cached_guard(SharedKeys::new(ring_of(&[&ED])), &clock));
    let token = sign(&ED, &claims());
    get_me(&app, &token).await.assert_accepted();
    get_me(&app, &token).await.assert_accepted();
    let mine = get_with(
        &app,
        &format!("/api/{USER}/things"),
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(mine.status, 200);
    let theirs = get_with(&app, "/api/user-2/things", Some(&format!("Bearer {token}"))).await;
    assert_eq!(theirs.status, 403);
}
