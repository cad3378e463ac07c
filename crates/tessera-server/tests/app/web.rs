//! The web app's pages and assets, served beside the auth router as `tessera serve` mounts them.

use tessera_server::web::CONTENT_SECURITY_POLICY;

use crate::helpers::{ORIGIN, get, request, signed_up, spawn_app};

fn assert_security_headers(reply: &crate::helpers::Reply, what: &str) {
    assert_eq!(
        reply.header("content-security-policy"),
        Some(CONTENT_SECURITY_POLICY),
        "{what}"
    );
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("same-origin"),
        "{what}"
    );
}

#[tokio::test]
async fn protected_pages_send_anonymous_visitors_to_sign_in_and_back() {
    let app = spawn_app().await;
    for (path, location) in [
        ("/tasks", "/sign-in?next=/tasks"),
        ("/account", "/sign-in?next=/account"),
        (
            "/tasks?status=pending",
            "/sign-in?next=/tasks%3Fstatus%3Dpending",
        ),
    ] {
        let reply = get(&app, path, None).await;
        assert_eq!(reply.status, 303, "{path}");
        assert_eq!(reply.header("location"), Some(location), "{path}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        assert_security_headers(&reply, path);
    }
    let root = get(&app, "/", None).await;
    assert_eq!(
        (root.status, root.header("location")),
        (303, Some("/tasks"))
    );
    for path in [
        "/sign-in",
        "/sign-up",
        "/sign-in?next=//evil.example",
        "/forgot-password",
        "/reset-password?token=AbCdEfGhIjKlMnOpQrStUvWx",
    ] {
        let reply = get(&app, path, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        assert_security_headers(&reply, path);
    }
}

#[tokio::test]
async fn signed_in_users_get_the_pages_and_skip_sign_in() {
    let app = spawn_app().await;
    let (cookie, _) = signed_up(&app).await;
    // The reset pages stay open to a signed-in user: they need the mailed token, not a session.
    for path in ["/tasks", "/account", "/forgot-password", "/reset-password"] {
        let reply = get(&app, path, Some(&cookie)).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply
                .body
                .contains("<script type=\"module\" src=\"/assets/"),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_security_headers(&reply, path);
    }
    for (path, location) in [
        ("/sign-in", "/tasks"),
        ("/sign-up", "/tasks"),
        ("/sign-in?next=/account", "/account"),
        (
            "/sign-in?next=%2Ftasks%3Fstatus%3Dcompleted",
            "/tasks?status=completed",
        ),
        ("/sign-in?next=//evil.example/", "/tasks"),
        ("/sign-in?next=https://evil.example/", "/tasks"),
        ("/sign-in?next=/%5Cevil.example", "/tasks"),
    ] {
        let reply = get(&app, path, Some(&cookie)).await;
        assert_eq!(reply.status, 303, "{path}");
        assert_eq!(reply.header("location"), Some(location), "{path}");
    }
}

#[tokio::test]
async fn a_signed_out_session_redirects_and_expires_the_cookie() {
    let app = spawn_app().await;
    let (cookie, _) = signed_up(&app).await;
    let out = request(
        &app,
        "POST",
        "/api/auth/sign-out",
        &[
            ("Content-Type", "application/json"),
            ("Origin", ORIGIN),
            ("Cookie", &cookie),
        ],
        "{}",
    )
    .await;
    assert_eq!(out.status, 200);
    // The browser would have dropped it; a stale copy (or the back button) must not work.
    let reply = get(&app, "/tasks", Some(&cookie)).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/sign-in?next=/tasks"));
    assert!(
        reply
            .all("set-cookie")
            .iter()
            .any(|c| c.starts_with("better-auth.session_token=;") && c.contains("Max-Age=0")),
        "{:?}",
        reply.all("set-cookie")
    );
    let sign_in = get(&app, "/sign-in", Some(&cookie)).await;
    assert_eq!(sign_in.status, 200);
    // A cookie with a bad signature is simply anonymous.
    let forged = get(&app, "/tasks", Some("better-auth.session_token=abc.def")).await;
    assert_eq!(forged.status, 303);
    assert!(forged.all("set-cookie").is_empty());
}

#[tokio::test]
async fn assets_are_typed_revalidated_and_guarded() {
    let app = spawn_app().await;
    let css = get(&app, "/assets/app.css", None).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    assert_security_headers(&css, "css");
    let etag = css.header("etag").unwrap().to_owned();
    let again = request(
        &app,
        "GET",
        "/assets/app.css",
        &[("If-None-Match", &etag)],
        "",
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let js = get(&app, "/assets/auth.js", None).await;
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let missing = get(&app, "/assets/nope.js", None).await;
    assert_eq!(missing.status, 404);
    assert_security_headers(&missing, "404");
    let traversal = get(&app, "/assets/..%2Fsign-in.html", None).await;
    assert_eq!(traversal.status, 404);
}

#[tokio::test]
async fn the_browser_module_of_clients_js_is_served_byte_for_byte_as_the_app_uses_it() {
    let app = spawn_app().await;
    let module = get(&app, "/assets/tessera-client.js", None).await;
    assert_eq!(module.status, 200);
    assert_eq!(
        module.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(module.header("cache-control"), Some("no-cache"));
    assert!(module.header("etag").is_some());
    assert_security_headers(&module, "tessera-client.js");
    let source = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../clients/js/index.js"
    ));
    assert_eq!(module.body, source);
    assert!(source.contains("export function createApiClient"));
    // The app imports it instead of keeping a copy of its own.
    let auth = get(&app, "/assets/auth.js", None).await;
    assert!(auth.body.contains("from './tessera-client.js'"));
    assert!(!auth.body.contains("function decodePayload"));
}
