//! Who may do what: 401 without a valid token, 403 on another user's path, 404 for another
//! user's task — on every endpoint, on both backends.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ALICE, BOB, TestApp, on_both_backends, send};

/// Every endpoint, as (method, path, JSON body) for `user` and task `id`.
fn endpoints(user: &str, id: &str) -> Vec<(Method, String, Option<serde_json::Value>)> {
    vec![
        (Method::GET, format!("/api/{user}/tasks"), None),
        (
            Method::POST,
            format!("/api/{user}/tasks"),
            Some(json!({ "title": "x" })),
        ),
        (Method::GET, format!("/api/{user}/tasks/{id}"), None),
        (
            Method::PUT,
            format!("/api/{user}/tasks/{id}"),
            Some(json!({ "title": "x" })),
        ),
        (
            Method::PATCH,
            format!("/api/{user}/tasks/{id}/complete"),
            None,
        ),
        (Method::DELETE, format!("/api/{user}/tasks/{id}"), None),
    ]
}

on_both_backends!(
    every_endpoint_answers_401_without_a_valid_token,
    an_expired_token_is_refused_once_the_clock_passes_exp,
    every_endpoint_answers_403_when_the_path_names_another_user,
    another_users_task_is_404_everywhere_and_stays_untouched,
);

async fn every_endpoint_answers_401_without_a_valid_token(app: TestApp) {
    let task = app.create_task(ALICE, "mine").await;
    let id = task["id"].as_str().unwrap();
    for (method, path, body) in endpoints(ALICE, id) {
        let with_body = |mut request: reqwest::RequestBuilder| {
            if let Some(body) = &body {
                request = request.json(body);
            }
            request
        };
        let missing = send(with_body(app.anonymous(method.clone(), &path))).await;
        missing.assert_detail(StatusCode::UNAUTHORIZED, "Missing authorization header");
        assert_eq!(missing.headers["www-authenticate"], "Bearer");

        let scheme = send(with_body(
            app.anonymous(method.clone(), &path)
                .basic_auth(ALICE, Some("pw")),
        ))
        .await;
        scheme.assert_detail(StatusCode::UNAUTHORIZED, "Invalid authentication scheme");

        let forged = send(with_body(
            app.anonymous(method.clone(), &path)
                .bearer_auth("e30.e30.e30"),
        ))
        .await;
        forged.assert_detail(StatusCode::UNAUTHORIZED, "Invalid or expired token");
        assert_eq!(
            forged.headers["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
    }
    // Nothing changed.
    assert_eq!(app.get_task(ALICE, id).await.object(), task);
}

async fn an_expired_token_is_refused_once_the_clock_passes_exp(app: TestApp) {
    let token = app.token_for(ALICE);
    let path = format!("/api/{ALICE}/tasks");
    let reply = send(app.anonymous(Method::GET, &path).bearer_auth(&token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    app.clock.advance_secs(900);
    send(app.anonymous(Method::GET, &path).bearer_auth(&token))
        .await
        .assert_detail(StatusCode::UNAUTHORIZED, "Invalid or expired token");
}

async fn every_endpoint_answers_403_when_the_path_names_another_user(app: TestApp) {
    let bobs = app.create_task(BOB, "bob's").await;
    let id = bobs["id"].as_str().unwrap();
    for (method, path, body) in endpoints(BOB, id) {
        // Alice's valid token on Bob's path.
        let mut request = app.request(method, &path, ALICE);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request)
            .await
            .assert_detail(StatusCode::FORBIDDEN, "Cannot access other user's data");
    }
    // Ownership is checked before the body: an invalid body on someone else's path is still 403.
    let reply = send(
        app.request(Method::POST, &format!("/api/{BOB}/tasks"), ALICE)
            .body("{"),
    )
    .await;
    reply.assert_detail(StatusCode::FORBIDDEN, "Cannot access other user's data");
    assert_eq!(app.task_ids(BOB, "").await, [id]);
}

async fn another_users_task_is_404_everywhere_and_stays_untouched(app: TestApp) {
    let bobs = app.create_task(BOB, "bob's secret").await;
    let id = bobs["id"].as_str().unwrap();
    // Alice on her own path, naming Bob's task id: indistinguishable from a task that does not exist.
    for (method, path, body) in endpoints(ALICE, id)
        .into_iter()
        .filter(|(_, path, _)| !path.ends_with("/tasks"))
    {
        let mut request = app.request(method, &path, ALICE);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request)
            .await
            .assert_detail(StatusCode::NOT_FOUND, "Task not found");
    }
    assert_eq!(app.get_task(BOB, id).await.object(), bobs);
    assert_eq!(app.task_ids(ALICE, "").await, Vec::<String>::new());
}
