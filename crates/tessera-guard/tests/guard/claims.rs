//! Registered-claim checks: validity window (with an injected clock), issuer, audience, subject,
//! and claims of the wrong JSON type.

use std::time::Duration;

use serde_json::json;
use tessera_guard::Guard;
use tessera_guard::keys::StaticKeys;
use tessera_guard::tessera_jwt::{KeyRing, VerifyingKey};

use crate::helpers::*;

#[tokio::test]
async fn an_expired_token_is_refused_from_the_second_of_its_exp() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&ED, &claims_with(json!({ "exp": NOW + 60 })));
    get_me(&app, &token).await.assert_accepted();
    clock.advance_secs(59);
    get_me(&app, &token).await.assert_accepted();
    clock.advance_secs(1);
    get_me(&app, &token).await.assert_invalid_token();
}

#[tokio::test]
async fn a_token_whose_nbf_is_in_the_future_is_refused_until_then() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&EC, &claims_with(json!({ "nbf": NOW + 30 })));
    get_me(&app, &token).await.assert_invalid_token();
    clock.advance_secs(30);
    get_me(&app, &token).await.assert_accepted();
}

#[tokio::test]
async fn leeway_forgives_small_clock_skew_but_never_more_than_sixty_seconds() {
    let clock = clock();
    let ring = KeyRing::new(vec![VerifyingKey::from_signing_key(&ED)]);
    let guard = Guard::builder(StaticKeys::new(ring))
        .leeway(Duration::from_secs(3600))
        .clock(clock.clone())
        .build();
    assert_eq!(guard.validation().unwrap().leeway_secs, 60);
    let app = app(guard);
    get_me(&app, &sign(&ED, &claims_with(json!({ "exp": NOW - 59 }))))
        .await
        .assert_accepted();
    get_me(&app, &sign(&ED, &claims_with(json!({ "exp": NOW - 60 }))))
        .await
        .assert_invalid_token();
    get_me(&app, &sign(&ED, &claims_with(json!({ "nbf": NOW + 60 }))))
        .await
        .assert_accepted();
    get_me(&app, &sign(&ED, &claims_with(json!({ "nbf": NOW + 61 }))))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn a_token_from_another_issuer_or_without_one_is_refused() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for iss in [
        json!("http://evil.example"),
        json!("http://localhost:3000/"),
        json!("HTTP://LOCALHOST:3000"),
        json!(null),
    ] {
        get_me(&app, &sign(&ED, &claims_with(json!({ "iss": iss }))))
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn a_token_for_another_audience_or_without_one_is_refused() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for aud in [
        json!("http://other-api.example"),
        json!(["http://other-api.example"]),
        json!([]),
        json!(null),
    ] {
        get_me(&app, &sign(&RSA, &claims_with(json!({ "aud": aud }))))
            .await
            .assert_invalid_token();
    }
    // An audience list that contains ours is fine.
    get_me(
        &app,
        &sign(
            &RSA,
            &claims_with(json!({ "aud": ["http://other", ISSUER] })),
        ),
    )
    .await
    .assert_accepted();
}

#[tokio::test]
async fn several_issuers_and_audiences_may_be_allowed() {
    let clock = clock();
    let ring = KeyRing::new(vec![VerifyingKey::from_signing_key(&ED)]);
    let guard = Guard::builder(StaticKeys::new(ring))
        .issuer(ISSUER)
        .issuer("https://auth.example.com")
        .audience("https://api.example.com")
        .audience(ISSUER)
        .clock(clock.clone())
        .build();
    let app = app(guard);
    let token = sign(
        &ED,
        &claims_with(
            json!({ "iss": "https://auth.example.com", "aud": "https://api.example.com" }),
        ),
    );
    get_me(&app, &token).await.assert_accepted();
}

#[tokio::test]
async fn a_missing_or_empty_subject_is_refused() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for sub in [json!(null), json!(""), json!(42), json!(["user-1"])] {
        get_me(&app, &sign(&ED, &claims_with(json!({ "sub": sub }))))
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn registered_claims_of_the_wrong_json_type_are_refused_not_ignored() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for change in [
        json!({ "exp": "99999999999" }),
        json!({ "exp": null }),
        json!({ "nbf": "0" }),
        json!({ "iat": true }),
        json!({ "iss": 1 }),
        json!({ "aud": { "a": 1 } }),
        json!({ "aud": [1] }),
    ] {
        get_me(&app, &sign(&EC, &claims_with(change.clone())))
            .await
            .assert_invalid_token();
    }
}
