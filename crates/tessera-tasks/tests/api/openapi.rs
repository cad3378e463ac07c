//! The OpenAPI document and the migrations' bookkeeping.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tessera_tasks::store::{SqlTaskStore, TaskStore};

use crate::helpers::{TestApp, send};

#[tokio::test]
async fn the_openapi_31_document_is_served_and_lists_every_endpoint() {
    let app = TestApp::sqlite().await;
    let reply = send(app.anonymous(Method::GET, "/api/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let doc = reply.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let operations = |path: &str| -> Vec<String> {
        let mut ops: Vec<String> = doc["paths"][path]
            .as_object()
            .unwrap_or_else(|| panic!("no {path}"))
            .keys()
            .cloned()
            .collect();
        ops.retain(|k| k != "parameters");
        ops.sort();
        ops
    };
    assert_eq!(operations("/api/me"), ["get"]);
    assert_eq!(operations("/api/{user_id}/tasks"), ["get", "post"]);
    assert_eq!(
        operations("/api/{user_id}/tasks/{id}"),
        ["delete", "get", "put"]
    );
    assert_eq!(operations("/api/{user_id}/tasks/{id}/complete"), ["patch"]);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for schema in [
        "Task",
        "NewTask",
        "TaskChange",
        "Detail",
        "ValidationDetail",
        "FieldError",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    // The served document is the one the library builds.
    assert_eq!(doc, serde_json::to_value(tessera_tasks::openapi()).unwrap());
    let list_params: Vec<&Value> = doc["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let names: Vec<&str> = list_params
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user_id", "status", "sort"]);
}

#[tokio::test]
async fn postgres_migrations_use_versions_from_1000_and_tolerate_other_migrators_entries() {
    let app = TestApp::postgres().await;
    let pool = app.pg_pool.clone().unwrap();
    let versions: Vec<i64> = sqlx::query_scalar(r#"SELECT "version" FROM "_sqlx_migrations""#)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        !versions.is_empty() && versions.iter().all(|&v| v >= 1000),
        "{versions:?}"
    );
    // Running again is a no-op, and an entry the tasks migrator does not know (the auth
    // server's, in the shared table) is ignored.
    app.store.migrate().await.unwrap();
    sqlx::query(
        r#"INSERT INTO "_sqlx_migrations" ("version", "description", "success", "checksum", "execution_time")
           VALUES (1, 'auth server', true, '\x00', 0)"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    app.store.migrate().await.unwrap();
}

#[tokio::test]
async fn sqlite_migrations_tolerate_another_migrators_entries() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("t.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    let store: Arc<dyn TaskStore> = Arc::new(SqlTaskStore::new(pool.clone()));
    store.migrate().await.unwrap();
    let versions: Vec<i64> = sqlx::query_scalar(r#"SELECT "version" FROM "_sqlx_migrations""#)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(versions.iter().all(|&v| v >= 1000), "{versions:?}");
    sqlx::query(
        r#"INSERT INTO "_sqlx_migrations" ("version", "description", "success", "checksum", "execution_time")
           VALUES (1, 'auth server', 1, x'00', 0)"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    store.migrate().await.unwrap();
}
