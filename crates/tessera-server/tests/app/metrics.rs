//! The metrics listener (`TESSERA_METRICS_ADDR`): scraped after a known sequence of requests,
//! its text parsed as Prometheus does, every count checked, and no label carrying a user id,
//! an email, a token or a path as sent.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::helpers::{ORIGIN, TestApp, get, request, request_at, signed_up, spawn_app_with};

/// One sample of the text format: `name{label="value",…} value`.
#[derive(Debug)]
pub(crate) struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a Prometheus text page; panics on any line that is not the format, and on
/// a sample whose metric family has no `# TYPE` line before it.
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    let mut typed = Vec::<String>::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                    typed.push(name.to_owned());
                }
                (Some("HELP"), Some(_), Some(_)) => {}
                _ => panic!("not a HELP or TYPE line: {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = value.parse().expect(line);
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect(line))),
            None => (series, BTreeMap::new()),
        };
        assert!(
            typed.iter().any(|family| name == family
                || ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family))),
            "{name} has no TYPE line"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// `a="x",b="y \"quoted\""` → {a: x, b: y "quoted"}.
fn parse_labels(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"").expect(text);
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("an unterminated label value") {
                (_, '\\') => match chars.next().expect("a dangling escape").1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (at, '"') => break at,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        text = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The value of the one sample named `name` with exactly `labels`, if there is one.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
}

/// Signs in as the user [`signed_up`] made, with `password`; the status.
async fn sign_in(app: &TestApp, password: &str) -> u16 {
    let body = serde_json::json!({ "email": "web@example.com", "password": password });
    request(
        app,
        "POST",
        "/api/auth/sign-in/email",
        &[("Content-Type", "application/json"), ("Origin", ORIGIN)],
        &body.to_string(),
    )
    .await
    .status
}

/// `GET /api/{user}/tasks` with `authorization`; the status.
async fn tasks(app: &TestApp, user: &str, authorization: Option<&str>) -> u16 {
    let path = format!("/api/{user}/tasks");
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    request(app, "GET", &path, &headers, "").await.status
}

#[tokio::test]
async fn the_metrics_listener_counts_each_event_under_fixed_labels_and_the_public_one_has_none() {
    let app =
        spawn_app_with(|s| s.metrics_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)))).await;
    let metrics_addr = app.metrics_addr.expect("a metrics listener");
    let (cookie, user) = signed_up(&app).await;
    assert_eq!(sign_in(&app, "not the password at all").await, 401);
    assert_eq!(sign_in(&app, "tessera web test zq8-xw2p").await, 200);
    let minted = get(&app, "/api/auth/token", Some(&cookie)).await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let token: serde_json::Value = serde_json::from_str(&minted.body).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    assert_eq!(
        tasks(&app, &user, Some(&format!("Bearer {token}"))).await,
        200
    );
    assert_eq!(tasks(&app, &user, Some("Bearer not.a.token")).await, 401);
    assert_eq!(tasks(&app, &user, None).await, 401);
    let signed_out = request(
        &app,
        "POST",
        "/api/auth/sign-out",
        &[
            ("Cookie", &cookie),
            ("Origin", ORIGIN),
            ("Content-Type", "application/json"),
        ],
        "{}",
    )
    .await;
    assert_eq!(signed_out.status, 200, "{}", signed_out.body);
    // The public listener does not serve metrics: a 404 like any unknown path.
    assert_eq!(get(&app, "/metrics", None).await.status, 404);
    // An unknown path under the auth router's own fallback: unmatched too, not its path.
    assert_eq!(
        get(&app, "/api/auth/no-such-endpoint", None).await.status,
        404
    );

    let scraped = request_at(metrics_addr, "GET", "/metrics", &[], "").await;
    assert_eq!(scraped.status, 200);
    assert_eq!(
        scraped.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let samples = parse(&scraped.body);
    let requests = "tessera_http_requests_total";
    for (route, method, status, count) in [
        ("/api/auth/sign-up/email", "POST", "200", 1.0),
        ("/api/auth/sign-in/email", "POST", "401", 1.0),
        ("/api/auth/sign-in/email", "POST", "200", 1.0),
        ("/api/auth/token", "GET", "200", 1.0),
        ("/api/{user_id}/tasks", "GET", "200", 1.0),
        ("/api/{user_id}/tasks", "GET", "401", 2.0),
        ("/api/auth/sign-out", "POST", "200", 1.0),
        ("unmatched", "GET", "404", 2.0),
    ] {
        let labels = [("route", route), ("method", method), ("status", status)];
        assert_eq!(
            value(&samples, requests, &labels),
            Some(count),
            "{labels:?}\n{}",
            scraped.body
        );
    }
    let durations = "tessera_http_request_duration_seconds_count";
    assert_eq!(
        value(&samples, durations, &[("route", "/api/{user_id}/tasks")]),
        Some(3.0)
    );
    for (name, labels, count) in [
        ("tessera_sign_ins_total", [("outcome", "failure")], 1.0),
        ("tessera_sign_ins_total", [("outcome", "success")], 1.0),
        ("tessera_tokens_issued_total", [("algorithm", "EdDSA")], 1.0),
        (
            "tessera_guard_verifications_total",
            [("result", "valid")],
            1.0,
        ),
        (
            "tessera_guard_verifications_total",
            [("result", "invalid")],
            1.0,
        ),
        (
            "tessera_guard_verifications_total",
            [("result", "missing")],
            1.0,
        ),
        (
            "tessera_guard_verifications_total",
            [("result", "revoked")],
            0.0,
        ),
    ] {
        assert_eq!(
            value(&samples, name, &labels),
            Some(count),
            "{name} {labels:?}\n{}",
            scraped.body
        );
    }
    for (name, count) in [
        ("tessera_revocations_published_total", 1.0),
        ("tessera_password_hash_queue_depth", 0.0),
        ("tessera_password_hash_shed_total", 0.0),
        ("tessera_mail_outbox_pending", 0.0),
    ] {
        assert_eq!(
            value(&samples, name, &[]),
            Some(count),
            "{name}\n{}",
            scraped.body
        );
    }
    let pool = "tessera_db_pool_connections";
    let idle = value(&samples, pool, &[("state", "idle")]).expect("idle connections");
    let in_use = value(&samples, pool, &[("state", "in_use")]).expect("connections in use");
    assert!(idle + in_use >= 1.0, "{idle} {in_use}");

    // No label is a user's or a request's own: every route is a template or `unmatched`.
    for sample in &samples {
        for (key, label) in &sample.labels {
            for secret in [
                user.as_str(),
                "web@example.com",
                token.as_str(),
                "not.a.token",
            ] {
                assert!(!label.contains(secret), "{} {key}={label:?}", sample.name);
            }
            if key == "route" {
                assert!(
                    label == "unmatched" || label.starts_with("/api/"),
                    "{key}={label:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn without_a_metrics_address_there_is_no_metrics_listener() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(app.metrics_addr, None);
    assert_eq!(get(&app, "/metrics", None).await.status, 404);
}
