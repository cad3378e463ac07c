//! Every endpoint doing its job, on both backends.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_clock::{Clock as _, iso_millis};

use crate::helpers::{ALICE, BOB, TestApp, on_both_backends, send};

on_both_backends!(
    creating_a_task_answers_201_with_the_whole_task,
    a_task_may_be_created_with_a_description,
    listing_returns_the_callers_tasks_newest_first,
    listing_filters_by_status,
    listing_sorts_by_title_ignoring_case,
    getting_a_task_returns_it,
    replacing_a_task_changes_what_was_sent_and_keeps_the_rest,
    completing_a_task_toggles_it_back_and_forth,
    deleting_a_task_answers_204_and_it_is_gone,
    me_returns_the_token_user_id_and_email,
);

async fn creating_a_task_answers_201_with_the_whole_task(app: TestApp) {
    let reply = app
        .post_task(ALICE, json!({ "title": "  Buy milk  " }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let task = reply.object();
    let id = task["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID");
    assert_eq!(
        reply.body,
        json!({
            "id": id,
            "user_id": ALICE,
            "title": "Buy milk",
            "description": null,
            "completed": false,
            "created_at": iso_millis(&app.clock.now()),
            "updated_at": iso_millis(&app.clock.now()),
        })
    );
    assert_eq!(app.get_task(ALICE, id).await.body, reply.body);
}

async fn a_task_may_be_created_with_a_description(app: TestApp) {
    let reply = app
        .post_task(ALICE, json!({ "title": "Call Bob", "description": "about the ☕ machine", "id": "ignored", "user_id": BOB }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["description"], "about the ☕ machine");
    // Fields the client may not set are ignored, whatever they say.
    assert_eq!(reply.body["user_id"], ALICE);
    assert_ne!(reply.body["id"], "ignored");
}

async fn listing_returns_the_callers_tasks_newest_first(app: TestApp) {
    assert_eq!(app.list_tasks(ALICE, "").await.body, json!([]));
    let first = app.create_task(ALICE, "first").await;
    app.clock.advance_secs(1);
    let second = app.create_task(ALICE, "second").await;
    app.clock.advance_secs(1);
    app.create_task(BOB, "bob's").await;
    let ids = app.task_ids(ALICE, "").await;
    assert_eq!(
        ids,
        [
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ]
    );
    assert_eq!(app.task_ids(ALICE, "sort=created&status=all").await, ids);
    let listed = app.list_tasks(ALICE, "").await.body;
    assert_eq!(listed[0], serde_json::Value::Object(second));
}

async fn listing_filters_by_status(app: TestApp) {
    let done = app.create_task(ALICE, "done").await;
    app.clock.advance_secs(1);
    let open = app.create_task(ALICE, "open").await;
    let done_id = done["id"].as_str().unwrap();
    assert_eq!(app.toggle_task(ALICE, done_id).await.status, StatusCode::OK);
    assert_eq!(app.task_ids(ALICE, "status=completed").await, [done_id]);
    assert_eq!(
        app.task_ids(ALICE, "status=pending").await,
        [open["id"].as_str().unwrap()]
    );
    assert_eq!(app.task_ids(ALICE, "status=all").await.len(), 2);
    assert_eq!(app.task_ids(ALICE, "unknown=ignored").await.len(), 2);
}

async fn listing_sorts_by_title_ignoring_case(app: TestApp) {
    for title in ["banana", "Apple", "cherry", "apple pie"] {
        app.create_task(ALICE, title).await;
        app.clock.advance_secs(1);
    }
    let reply = app.list_tasks(ALICE, "sort=title").await;
    let titles: Vec<_> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["Apple", "apple pie", "banana", "cherry"]);
}

async fn getting_a_task_returns_it(app: TestApp) {
    let task = app.create_task(ALICE, "read me").await;
    let reply = app.get_task(ALICE, task["id"].as_str().unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.object(), task);
    app.get_task(ALICE, "00000000-0000-4000-8000-000000000000")
        .await
        .assert_detail(StatusCode::NOT_FOUND, "Task not found");
    app.get_task(ALICE, &"x".repeat(500))
        .await
        .assert_detail(StatusCode::NOT_FOUND, "Task not found");
}

async fn replacing_a_task_changes_what_was_sent_and_keeps_the_rest(app: TestApp) {
    let created_at = iso_millis(&app.clock.now());
    let task = app
        .post_task(ALICE, json!({ "title": "draft", "description": "keep me" }))
        .await
        .object();
    let id = task["id"].as_str().unwrap();
    app.clock.advance_secs(60);

    let reply = app.put_task(ALICE, id, json!({ "title": " final " })).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["title"], "final");
    assert_eq!(
        reply.body["description"], "keep me",
        "an absent description is unchanged"
    );
    assert_eq!(reply.body["completed"], false);
    assert_eq!(reply.body["created_at"], created_at);
    assert_eq!(reply.body["updated_at"], iso_millis(&app.clock.now()));

    let reply = app
        .put_task(
            ALICE,
            id,
            json!({ "title": "final", "description": null, "completed": true }),
        )
        .await;
    assert_eq!(
        reply.body["description"],
        json!(null),
        "null clears the description"
    );
    assert_eq!(reply.body["completed"], true);

    let reply = app
        .put_task(ALICE, id, json!({ "title": "final", "description": "new" }))
        .await;
    assert_eq!(reply.body["description"], "new");
    assert_eq!(
        reply.body["completed"], true,
        "an absent completed is unchanged"
    );
    assert_eq!(app.get_task(ALICE, id).await.body, reply.body);

    app.put_task(ALICE, "no-such-task", json!({ "title": "x" }))
        .await
        .assert_detail(StatusCode::NOT_FOUND, "Task not found");
}

async fn completing_a_task_toggles_it_back_and_forth(app: TestApp) {
    let task = app.create_task(ALICE, "toggle me").await;
    let id = task["id"].as_str().unwrap();
    app.clock.advance_secs(5);
    let reply = app.toggle_task(ALICE, id).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["completed"], true);
    assert_eq!(reply.body["updated_at"], iso_millis(&app.clock.now()));
    assert_eq!(app.toggle_task(ALICE, id).await.body["completed"], false);
    assert_eq!(app.toggle_task(ALICE, id).await.body["completed"], true);
    app.toggle_task(ALICE, "no-such-task")
        .await
        .assert_detail(StatusCode::NOT_FOUND, "Task not found");
}

async fn deleting_a_task_answers_204_and_it_is_gone(app: TestApp) {
    let task = app.create_task(ALICE, "delete me").await;
    let keep = app.create_task(ALICE, "keep me").await;
    let id = task["id"].as_str().unwrap();
    let reply = app.delete_task(ALICE, id).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, json!(null));
    app.get_task(ALICE, id)
        .await
        .assert_detail(StatusCode::NOT_FOUND, "Task not found");
    app.delete_task(ALICE, id)
        .await
        .assert_detail(StatusCode::NOT_FOUND, "Task not found");
    assert_eq!(
        app.task_ids(ALICE, "").await,
        [keep["id"].as_str().unwrap()]
    );
}

async fn me_returns_the_token_user_id_and_email(app: TestApp) {
    let reply = send(app.request(Method::GET, "/api/me", ALICE)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({ "user_id": ALICE, "email": "user-alice@example.com" })
    );
    // Identity derived from a credential: never kept by a shared cache.
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.headers["pragma"], "no-cache");
    send(app.anonymous(Method::GET, "/api/me"))
        .await
        .assert_detail(StatusCode::UNAUTHORIZED, "Missing authorization header");
}
