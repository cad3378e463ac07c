//! What every request meets before routing, in the assembled server: CORS for trusted origins
//! only, HSTS with an https base URL.

use crate::helpers::{FRONTEND, ORIGIN, request, spawn_app, spawn_app_with};

#[tokio::test]
async fn cors_admits_only_trusted_origins_with_credentials_and_never_null() {
    // ASVS 4.0.3 14.5.3: `Access-Control-Allow-Origin` from a strict allow-list, never `null`
    // or `*`.
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            request(
                app,
                "OPTIONS",
                "/api/auth/sign-in/email",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type"),
                ],
                "",
            )
            .await
        }
    };
    for origin in [ORIGIN, FRONTEND, "https://app.example.com"] {
        let reply = preflight(origin).await;
        assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
    }
    for origin in [
        "null",
        "http://evil.example",
        "https://example.com",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "*",
    ] {
        let reply = preflight(origin).await;
        let allowed = reply.header("access-control-allow-origin");
        assert!(allowed.is_none(), "{origin} was allowed: {allowed:?}");
    }
    let answer = request(&app, "GET", "/api/auth/ok", &[("Origin", FRONTEND)], "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), Some(FRONTEND));
}

/// `Strict-Transport-Security` of `GET /api/auth/ok` on a server at `base_origin`.
async fn hsts_with(base_origin: &str, hsts: bool) -> Option<String> {
    let app = spawn_app_with(|s| {
        s.auth.base_origin = base_origin.to_owned();
        s.hsts = hsts;
    })
    .await;
    let reply = request(&app, "GET", "/api/auth/ok", &[], "").await;
    assert_eq!(reply.status, 200);
    reply.header("strict-transport-security").map(str::to_owned)
}

#[tokio::test]
async fn hsts_is_sent_with_an_https_base_url_unless_turned_off_and_never_with_http() {
    assert_eq!(
        hsts_with("https://auth.example.com", true).await.as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(hsts_with("https://auth.example.com", false).await, None);
    assert_eq!(hsts_with("http://auth.example.com", true).await, None);
}
