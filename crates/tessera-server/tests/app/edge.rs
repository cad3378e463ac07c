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

/// The `x-request-id` of the answer to `GET /api/auth/ok` sent with `extra` headers.
async fn echoed_id(app: &crate::helpers::TestApp, extra: &[(&str, &str)]) -> String {
    let reply = request(app, "GET", "/api/auth/ok", extra, "").await;
    assert_eq!(reply.status, 200);
    reply
        .header("x-request-id")
        .expect("no request id in the answer")
        .to_owned()
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_one_sent_by_an_untrusted_peer_is_replaced() {
    let app = spawn_app().await;
    let first = echoed_id(&app, &[]).await;
    let second = echoed_id(&app, &[]).await;
    assert!(is_uuid(&first) && is_uuid(&second), "{first} {second}");
    assert_ne!(first, second);
    // No proxy is trusted: a client cannot choose the id its requests are logged under.
    let spoofed = echoed_id(&app, &[("x-request-id", "chosen-by-the-client")]).await;
    assert!(is_uuid(&spoofed), "{spoofed}");
}

#[tokio::test]
async fn a_request_id_from_a_trusted_proxy_is_kept_and_echoed() {
    let app = spawn_app_with(|s| {
        s.auth.trusted_proxies =
            tessera_auth::rate_limit::TrustedProxies::parse(&["127.0.0.1".to_owned()]).unwrap();
    })
    .await;
    let kept = echoed_id(&app, &[("x-request-id", "lb-7f3a-42")]).await;
    assert_eq!(kept, "lb-7f3a-42");
    // Even a trusted proxy's id must be a short token, or it is replaced.
    let long = "x".repeat(200);
    let replaced = echoed_id(&app, &[("x-request-id", &long)]).await;
    assert!(is_uuid(&replaced), "{replaced}");
}

// Single-threaded runtime: the server's tasks run on this thread, under the subscriber set
// here.
#[tokio::test(flavor = "current_thread")]
async fn a_json_log_line_carries_the_request_id_and_no_cookie_or_authorization_value() {
    const COOKIE: &str = "better-auth.session_token=cookie-value-never-logged";
    const BEARER: &str = "Bearer bearer-value-never-logged";
    let captured = tessera_http::testing::CapturedLog::default();
    let subscriber = tessera_http::logging::subscriber(
        tessera_http::LogFormat::Json,
        // `debug` logs every request's headers: the sensitive ones must be masked.
        tracing_subscriber::EnvFilter::new("debug"),
        captured.clone(),
        false,
    );
    // While exactly one dispatcher exists, tracing-core works out a callsite's interest from
    // the default dispatcher of whichever thread reaches it first (`Dispatchers::rebuilder`'s
    // `JustOne`): another test's server thread reaching the access-line callsite first, while
    // this test's subscriber is the only dispatcher, caches "never" for it process-wide, and
    // this test saw no access line (about one run in three of the whole binary). A second live
    // dispatcher makes every callsite registration ask all of them, this test's included.
    let _second_dispatcher = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _installed = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    // A page opened from a reset link sends its URL, token included, as the Referer.
    const REFERER: &str = "http://tessera.test/reset-password?token=referer-never-logged";
    let id = echoed_id(
        &app,
        &[
            ("Cookie", COOKIE),
            ("Authorization", BEARER),
            ("Referer", REFERER),
        ],
    )
    .await;
    // A reset link carries its token in the path.
    let link = request(
        &app,
        "GET",
        "/api/auth/reset-password/tokenneverlogged?callbackURL=%2F",
        &[],
        "",
    )
    .await;
    assert_eq!(link.status, 302, "{}", link.body);
    drop(app);
    let log = captured.text();
    assert!(
        !log.contains("never-logged") && !log.contains("tokenneverlogged"),
        "a secret reached the log:\n{log}"
    );
    assert!(
        log.contains(r#""path":"/api/auth/reset-password/REDACTED""#),
        "the reset link's access line:\n{log}"
    );
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let access = lines
        .iter()
        .find(|line| line["target"] == "http" && line["fields"]["status"] == 200)
        .unwrap_or_else(|| panic!("no access line in:\n{log}"));
    assert_eq!(access["span"]["id"], id.as_str(), "{access}");
    assert_eq!(access["span"]["path"], "/api/auth/ok");
    assert!(access["fields"]["latency_us"].is_u64(), "{access}");
    // The headers were logged (at debug), masked.
    let headers = lines
        .iter()
        .find(|line| line["fields"]["message"] == "request" && line["span"]["id"] == id.as_str())
        .unwrap_or_else(|| panic!("no headers line in:\n{log}"));
    assert!(
        headers["fields"]["headers"]
            .as_str()
            .is_some_and(|h| h.contains("\"cookie\": Sensitive")),
        "{headers}"
    );
}
