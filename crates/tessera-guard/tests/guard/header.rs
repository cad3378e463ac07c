//! The `Authorization` header, read exactly like the seed's FastAPI dependency, and the shape of
//! the answers (FastAPI `{"detail": …}`, RFC 6750 `WWW-Authenticate`).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_request_without_an_authorization_header_gets_401_missing_authorization_header() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    for value in [None, Some("")] {
        let reply = get_with(&app, "/me", value).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.body,
            json!({ "detail": "Missing authorization header" })
        );
        // No token was presented, so the challenge carries no error code (RFC 6750 §3.1).
        assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
    }
}

#[tokio::test]
async fn a_scheme_other_than_bearer_gets_401_invalid_authentication_scheme() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&ED, &claims());
    for value in [
        "Basic dXNlcjpwYXNzd29yZA==",
        &format!("Token {token}"),
        &format!("JWT {token}"),
        "Digest x",
    ] {
        let reply = get_with(&app, "/me", Some(value)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(
            reply.body,
            json!({ "detail": "Invalid authentication scheme" })
        );
        assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_surrounding_whitespace_is_ignored() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&ED, &claims());
    for value in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER  {token} "),
        format!("Bearer\t{token}"),
        format!("\t Bearer \t{token}\t "),
    ] {
        get_with(&app, "/me", Some(&value)).await.assert_accepted();
    }
}

#[tokio::test]
async fn a_header_that_is_not_exactly_scheme_and_token_is_an_invalid_token() {
    // Python's `scheme, token = value.split()` raises ValueError, answered as an invalid token.
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&ED, &claims());
    for value in [
        "Bearer",
        "Bearer ",
        &token,
        &format!("Bearer {token} extra"),
        &format!("Bearer {token}\textra"),
        &format!("Bearer\t{token} \t."),
        " \t ",
        "Basic a b",
    ] {
        get_with(&app, "/me", Some(value))
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn two_authorization_headers_are_refused_rather_than_guessing_which_counts() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = sign(&ED, &claims());
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(&app, request).await.assert_invalid_token();
}

#[tokio::test]
async fn a_header_with_bytes_outside_visible_ascii_is_an_invalid_token() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let request = Request::get("/me")
        .header(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    send(&app, request).await.assert_invalid_token();
}

#[tokio::test]
async fn auth_failures_are_never_cacheable() {
    let clock = clock();
    let response = tower::ServiceExt::oneshot(
        app(asymmetric_guard(&clock)),
        Request::get("/me").body(Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
}
