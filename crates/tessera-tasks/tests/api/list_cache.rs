//! The task-list cache on SQLite: every write through the API shows in the next list at once,
//! a write by another process within the TTL, and one user's list never answers another.

use reqwest::Method;
use serde_json::json;
use tessera_clock::Clock as _;
use tessera_tasks::UserId;
use tessera_tasks::domain::NewTask;

use crate::helpers::{ALICE, BOB, LIST_CACHE_TTL, TestApp, send};

#[tokio::test]
async fn every_write_through_the_api_shows_in_the_next_list_at_once() {
    let app = TestApp::sqlite().await;
    assert!(app.task_ids(ALICE, "").await.is_empty());
    let id = app.create_task(ALICE, "Buy milk").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.task_ids(ALICE, "").await, std::slice::from_ref(&id));
    assert!(app.task_ids(ALICE, "status=completed").await.is_empty());
    assert_eq!(app.toggle_task(ALICE, &id).await.status, 200);
    assert_eq!(
        app.task_ids(ALICE, "status=completed").await,
        std::slice::from_ref(&id)
    );
    assert_eq!(
        app.put_task(ALICE, &id, json!({ "title": "Buy oat milk" }))
            .await
            .status,
        200
    );
    assert_eq!(
        app.list_tasks(ALICE, "").await.body[0]["title"],
        "Buy oat milk"
    );
    assert_eq!(app.delete_task(ALICE, &id).await.status, 204);
    assert!(app.task_ids(ALICE, "").await.is_empty());
    assert!(app.task_ids(ALICE, "status=completed").await.is_empty());
}

#[tokio::test]
async fn a_task_written_by_another_process_shows_once_the_ttl_has_passed() {
    let app = TestApp::sqlite().await;
    assert!(app.task_ids(ALICE, "").await.is_empty());
    let new = NewTask {
        title: "From the other process".into(),
        description: None,
    };
    let task = app
        .store
        .create(
            &UserId::assume_verified(ALICE),
            "00000000-0000-4000-8000-000000000001",
            &new,
            app.clock.now(),
        )
        .await
        .unwrap();
    assert!(app.task_ids(ALICE, "").await.is_empty(), "within the TTL");
    app.clock.advance_secs(LIST_CACHE_TTL.num_seconds());
    assert_eq!(app.task_ids(ALICE, "").await, [task.id]);
}

#[tokio::test]
async fn one_users_cached_list_never_answers_another_user() {
    let app = TestApp::sqlite().await;
    app.create_task(ALICE, "Alice's").await;
    assert_eq!(app.task_ids(ALICE, "").await.len(), 1);
    assert!(app.task_ids(BOB, "").await.is_empty());
    let reply = send(app.request(Method::GET, &format!("/api/{ALICE}/tasks"), BOB)).await;
    assert_eq!(reply.status, 403);
}
