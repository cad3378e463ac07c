//! Bad input and a missing database, answered FastAPI-shaped.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use tessera_tasks::store::{SqlTaskStore, TaskStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{ALICE, TestApp, on_both_backends, send};

on_both_backends!(
    invalid_task_bodies_are_422_listing_every_problem,
    an_invalid_status_or_sort_is_422,
    malformed_json_or_a_body_that_is_not_an_object_is_422,
    a_body_not_declared_as_json_is_415,
    a_body_over_one_mebibyte_is_413,
    a_control_character_in_a_title_or_description_is_422_and_stores_nothing,
    a_nul_or_control_character_in_a_task_id_is_404_never_500,
    a_database_that_went_away_answers_503_in_json,
);

async fn invalid_task_bodies_are_422_listing_every_problem(app: TestApp) {
    let cases = [
        (json!({}), vec![(json!(["body", "title"]), "missing")]),
        (
            json!({ "title": "" }),
            vec![(json!(["body", "title"]), "string_too_short")],
        ),
        (
            json!({ "title": " \t\n " }),
            vec![(json!(["body", "title"]), "string_too_short")],
        ),
        (
            json!({ "title": "x".repeat(201) }),
            vec![(json!(["body", "title"]), "string_too_long")],
        ),
        (
            json!({ "title": 42 }),
            vec![(json!(["body", "title"]), "string_type")],
        ),
        (
            json!({ "title": null }),
            vec![(json!(["body", "title"]), "string_type")],
        ),
        (
            json!({ "title": "ok", "description": "d".repeat(1001) }),
            vec![(json!(["body", "description"]), "string_too_long")],
        ),
        (
            json!({ "description": ["no"] }),
            vec![
                (json!(["body", "title"]), "missing"),
                (json!(["body", "description"]), "string_type"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let reply = app.post_task(ALICE, body.clone()).await;
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(loc, kind)| (loc, kind.to_owned()))
            .collect();
        assert_eq!(reply.validation_errors(), expected, "{body}");
    }
    // The limits are in characters, not bytes.
    assert_eq!(
        app.post_task(
            ALICE,
            json!({ "title": "é".repeat(200), "description": "☕".repeat(1000) })
        )
        .await
        .status,
        StatusCode::CREATED
    );

    let task = app.create_task(ALICE, "valid").await;
    let id = task["id"].as_str().unwrap();
    let reply = app.put_task(ALICE, id, json!({ "completed": "yes" })).await;
    let kinds: Vec<String> = reply
        .validation_errors()
        .into_iter()
        .map(|(_, kind)| kind)
        .collect();
    assert_eq!(kinds, ["missing", "bool_type"]);
    assert_eq!(
        app.get_task(ALICE, id).await.object(),
        task,
        "a rejected change changes nothing"
    );
    assert_eq!(
        app.task_ids(ALICE, "").await.len(),
        2,
        "no invalid task was stored"
    );
}

async fn an_invalid_status_or_sort_is_422(app: TestApp) {
    let reply = app.list_tasks(ALICE, "status=done").await;
    assert_eq!(
        reply.body,
        json!({ "detail": [{ "loc": ["query", "status"], "msg": "Input should be 'all', 'pending' or 'completed'", "type": "enum" }] })
    );
    let reply = app.list_tasks(ALICE, "status=ALL&sort=newest").await;
    assert_eq!(reply.validation_errors().len(), 2);
}

async fn malformed_json_or_a_body_that_is_not_an_object_is_422(app: TestApp) {
    let path = format!("/api/{ALICE}/tasks");
    let post = |body: &'static str| {
        app.request(Method::POST, &path, ALICE)
            .header("content-type", "application/json")
            .body(body)
    };
    let reply = send(post(r#"{"title": "x",}"#)).await;
    assert_eq!(
        reply.validation_errors(),
        [(json!(["body", 14]), "json_invalid".to_owned())]
    );
    assert_eq!(reply.body["detail"][0]["msg"], "JSON decode error");
    for body in ["", "nope", "{\"title\": \"unterminated"] {
        let errors = send(post(body)).await.validation_errors();
        assert_eq!(errors[0].1, "json_invalid", "{body:?}");
    }
    for body in ["[]", "\"title\"", "42", "null"] {
        let errors = send(post(body)).await.validation_errors();
        assert_eq!(
            errors,
            [(json!(["body"]), "model_attributes_type".to_owned())],
            "{body}"
        );
    }
    assert_eq!(app.task_ids(ALICE, "").await.len(), 0);
}

async fn a_body_not_declared_as_json_is_415(app: TestApp) {
    let path = format!("/api/{ALICE}/tasks");
    let body = r#"{"title":"x"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = app.request(Method::POST, &path, ALICE).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        send(request).await.assert_detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    // Parameters and structured-syntax suffixes are fine.
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let reply = send(
            app.request(Method::POST, &path, ALICE)
                .header("content-type", content_type)
                .body(body),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{content_type}");
    }
}

async fn a_body_over_one_mebibyte_is_413(app: TestApp) {
    let path = format!("/api/{ALICE}/tasks");
    let huge = format!(
        r#"{{"title":"x","description":"{}"}}"#,
        "d".repeat(1024 * 1024)
    );
    let reply = send(
        app.request(Method::POST, &path, ALICE)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    reply.assert_detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    // The same without a Content-Length (chunked): still refused once the limit is crossed.
    let status = post_chunked(&app, &path, 40, 32 * 1024).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
}

/// POSTs `count` chunks of `size` spaces with `Transfer-Encoding: chunked` over a raw socket
/// (no client-side Content-Length); returns the response's status line.
async fn post_chunked(app: &TestApp, path: &str, count: usize, size: usize) -> String {
    let address = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        app.token_for(ALICE)
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..count {
        // The server may answer and stop reading before the end: that is the point.
        if socket.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while !response.windows(2).any(|w| w == b"\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn a_control_character_in_a_title_or_description_is_422_and_stores_nothing(app: TestApp) {
    let value_error = |field: &str| vec![(json!(["body", field]), "value_error".to_owned())];
    for title in [
        "nul\u{0}",
        "\u{0}",
        "two\nlines",
        "esc\u{1b}[2J",
        "del\u{7f}",
        "c1\u{9b}",
    ] {
        let reply = app.post_task(ALICE, json!({ "title": title })).await;
        assert_eq!(reply.validation_errors(), value_error("title"), "{title:?}");
    }
    for description in ["nul\u{0}", "bell\u{7}", "c1\u{85}"] {
        let reply = app
            .post_task(ALICE, json!({ "title": "t", "description": description }))
            .await;
        assert_eq!(
            reply.validation_errors(),
            value_error("description"),
            "{description:?}"
        );
    }
    assert_eq!(app.task_ids(ALICE, "").await.len(), 0, "nothing was stored");
    let task = app.create_task(ALICE, "valid").await;
    let id = task["id"].as_str().unwrap();
    let reply = app
        .put_task(ALICE, id, json!({ "title": "ok", "description": "a\u{0}" }))
        .await;
    assert_eq!(reply.validation_errors(), value_error("description"));
    assert_eq!(app.get_task(ALICE, id).await.object(), task);
    // Tab and line breaks are what a multi-line description is made of.
    let reply = app
        .post_task(
            ALICE,
            json!({ "title": "t", "description": "one\r\ntwo\n\tthree" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.object()["description"], "one\r\ntwo\n\tthree");
}

async fn a_nul_or_control_character_in_a_task_id_is_404_never_500(app: TestApp) {
    let task = app.create_task(ALICE, "mine").await;
    let id = task["id"].as_str().unwrap();
    for bad in [
        format!("{id}%00"),
        "%00".to_owned(),
        format!("a%00{id}"),
        "x%1b%5b2J".to_owned(),
        "x%7f".to_owned(),
        "x%C2%85".to_owned(),
        "%FF".to_owned(),
    ] {
        for reply in [
            app.get_task(ALICE, &bad).await,
            app.put_task(ALICE, &bad, json!({ "title": "t" })).await,
            app.toggle_task(ALICE, &bad).await,
            app.delete_task(ALICE, &bad).await,
        ] {
            reply.assert_detail(StatusCode::NOT_FOUND, "Task not found");
        }
    }
    assert_eq!(
        app.get_task(ALICE, id).await.object(),
        task,
        "the task is untouched"
    );
}

async fn a_database_that_went_away_answers_503_in_json(app: TestApp) {
    let task = app.create_task(ALICE, "before the outage").await;
    app.store.close().await;
    let reply = app.list_tasks(ALICE, "").await;
    reply.assert_detail(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service temporarily unavailable",
    );
    assert_eq!(reply.headers["retry-after"], "1");
    app.get_task(ALICE, task["id"].as_str().unwrap())
        .await
        .assert_detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service temporarily unavailable",
        );
    app.post_task(ALICE, json!({ "title": "during" }))
        .await
        .assert_detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service temporarily unavailable",
        );
}

#[tokio::test]
async fn a_database_that_never_answers_is_503_not_a_hung_request() {
    // Nothing listens on port 1; the pool gives up after its acquire timeout.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nothing")
        .unwrap();
    let store: Arc<dyn TaskStore> = Arc::new(SqlTaskStore::new(pool));
    let app = TestApp::with_store(store).await;
    app.list_tasks(ALICE, "").await.assert_detail(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service temporarily unavailable",
    );
}
