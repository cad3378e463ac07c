//! The client address behind trusted proxies, as the rate limits and the audit log see it.

use reqwest::Method;
use serde_json::json;
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};
use tessera_auth::rate_limit::TrustedProxies;
use tessera_auth::rate_limit::client_ip::ForwardedHeader;

use crate::helpers::*;

/// Trusts the test client (127.0.0.1) as a proxy writing `header`, with Better Auth's per-path
/// limits on (sign-in: 3 requests per 10 s).
fn behind_proxy(config: &mut tessera_auth::AuthConfig, header: ForwardedHeader) {
    config.rate_limit = true;
    config.trusted_proxies = TrustedProxies::parse(&["127.0.0.1".into()])
        .unwrap()
        .with_header(header);
}

async fn wrong_sign_in(app: &TestApp, header: (&str, &str)) -> u16 {
    let body = json!({"email": "nobody@example.com", "password": "wrong password"});
    app.send(Method::POST, "/sign-in/email", Some(body), None, &[header])
        .await
        .status
}

/// The addresses of the audit rows of `kind`, oldest first.
async fn ips(app: &TestApp, kind: AuditKind) -> Vec<String> {
    let filter = AuditFilter {
        limit: 1_000,
        ..AuditFilter::default()
    };
    let mut rows: Vec<AuditEvent> = app.state.store.list_audit(&filter).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .filter(|e| e.event == kind.as_str())
        .map(|e| e.ip)
        .collect()
}

async fn a_proxy_entry_with_a_port_is_the_client_whatever_the_client_forged_left_of_it(
    backend: Backend,
) {
    let app =
        TestApp::spawn_with(backend, |c| behind_proxy(c, ForwardedHeader::XForwardedFor)).await;
    // A fresh forged address each time: before, the `ip:port` entry was skipped and each of
    // these got a bucket of its own, so the limit never bit.
    let mut statuses = Vec::new();
    for forged in ["6.6.6.1", "6.6.6.2", "6.6.6.3", "6.6.6.4"] {
        let xff = format!("{forged}, 203.0.113.7:{}", 40_000 + statuses.len());
        statuses.push(wrong_sign_in(&app, ("x-forwarded-for", &xff)).await);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    assert_eq!(ips(&app, AuditKind::SignInFailed).await, ["203.0.113.7"; 3]);
    assert_eq!(ips(&app, AuditKind::RateLimited).await, ["203.0.113.7"]);
    // Another client behind the same proxy, named as `[v6]:port`, has its own bucket.
    let other = ("x-forwarded-for", "6.6.6.1, [2001:db8::9]:4711");
    assert_eq!(wrong_sign_in(&app, other).await, 401);
    assert_eq!(
        ips(&app, AuditKind::SignInFailed)
            .await
            .last()
            .map(String::as_str),
        Some("2001:db8::9")
    );
}

async fn an_entry_naming_no_address_makes_the_proxy_the_client_not_the_forged_entry(
    backend: Backend,
) {
    let app =
        TestApp::spawn_with(backend, |c| behind_proxy(c, ForwardedHeader::XForwardedFor)).await;
    for forged in ["6.6.6.1", "6.6.6.2", "6.6.6.3"] {
        let xff = format!("{forged}, unknown");
        assert_eq!(wrong_sign_in(&app, ("x-forwarded-for", &xff)).await, 401);
    }
    assert_eq!(ips(&app, AuditKind::SignInFailed).await, ["127.0.0.1"; 3]);
    assert_eq!(
        wrong_sign_in(&app, ("x-forwarded-for", "6.6.6.4, _hidden")).await,
        429,
        "one bucket: the proxy's"
    );
}

async fn rfc_7239_forwarded_names_the_client_when_the_proxies_write_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| behind_proxy(c, ForwardedHeader::Forwarded)).await;
    let forwarded = (
        "forwarded",
        "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
    );
    assert_eq!(wrong_sign_in(&app, forwarded).await, 401);
    // X-Forwarded-For is not read at all when the proxies write Forwarded.
    let app_xff = ("x-forwarded-for", "198.51.100.1");
    assert_eq!(wrong_sign_in(&app, app_xff).await, 401);
    assert_eq!(
        ips(&app, AuditKind::SignInFailed).await,
        ["2001:db8:cafe::17", "127.0.0.1"]
    );
}

on_both_backends!(
    backend:
    a_proxy_entry_with_a_port_is_the_client_whatever_the_client_forged_left_of_it,
    an_entry_naming_no_address_makes_the_proxy_the_client_not_the_forged_entry,
    rfc_7239_forwarded_names_the_client_when_the_proxies_write_it,
);
