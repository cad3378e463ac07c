//! PostgreSQL row-level security: the database itself keeps users apart, even from a statement
//! that forgets the `user_id` filter.

use reqwest::StatusCode;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use tessera_tasks::UserId;
use tessera_tasks::domain::StatusFilter;
use tessera_tasks::store::{SqlTaskStore, TaskStore};

use crate::helpers::{ALICE, BOB, TestApp};

/// The app's PostgreSQL store, for statements the API would never send.
fn store(app: &TestApp) -> SqlTaskStore<sqlx::Postgres> {
    SqlTaskStore::new(app.pg_pool.clone().expect("a PostgreSQL app"))
}

#[tokio::test]
async fn on_postgres_a_query_without_the_user_filter_still_returns_only_the_current_users_rows() {
    let app = TestApp::postgres().await;
    let alice_1 = app.create_task(ALICE, "alice 1").await;
    let alice_2 = app.create_task(ALICE, "alice 2").await;
    let bob_1 = app.create_task(BOB, "bob 1").await;

    let mut tx = store(&app)
        .begin_as(&UserId::assume_verified(ALICE))
        .await
        .unwrap();
    // Deliberately no WHERE clause.
    let mut ids: Vec<String> = sqlx::query_scalar(r#"SELECT "id" FROM "task""#)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    ids.sort();
    let mut expected = vec![
        alice_1["id"].as_str().unwrap().to_owned(),
        alice_2["id"].as_str().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let bob_visible: i64 =
        sqlx::query_scalar(r#"SELECT count(*) FROM "task" WHERE "user_id" = $1"#)
            .bind(BOB)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(bob_visible, 0, "naming Bob explicitly does not help either");

    // Unfiltered writes reach only Alice's rows too.
    let updated = sqlx::query(r#"UPDATE "task" SET "title" = 'overwritten'"#)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 2);
    let deleted = sqlx::query(r#"DELETE FROM "task""#)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 2);
    tx.commit().await.unwrap();

    assert_eq!(
        app.get_task(BOB, bob_1["id"].as_str().unwrap())
            .await
            .object(),
        bob_1
    );
    assert_eq!(app.task_ids(ALICE, "").await, Vec::<String>::new());
}

#[tokio::test]
async fn on_postgres_rows_cannot_be_written_for_or_moved_to_another_user() {
    let app = TestApp::postgres().await;
    let alice_1 = app.create_task(ALICE, "alice 1").await;
    let store = store(&app);
    let alice = UserId::assume_verified(ALICE);

    let mut tx = store.begin_as(&alice).await.unwrap();
    let insert = sqlx::query(
        r#"INSERT INTO "task" ("id", "user_id", "title", "completed", "created_at", "updated_at")
           VALUES ('planted', $1, 'planted', false, now(), now())"#,
    )
    .bind(BOB)
    .execute(&mut *tx)
    .await;
    assert_rls_violation(insert);
    tx.rollback().await.unwrap();

    let mut tx = store.begin_as(&alice).await.unwrap();
    let moved = sqlx::query(r#"UPDATE "task" SET "user_id" = $1"#)
        .bind(BOB)
        .execute(&mut *tx)
        .await;
    assert_rls_violation(moved);
    tx.rollback().await.unwrap();

    assert_eq!(app.task_ids(BOB, "").await, Vec::<String>::new());
    assert_eq!(
        app.get_task(ALICE, alice_1["id"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
}

#[track_caller]
fn assert_rls_violation(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) {
    match result {
        // 42501 insufficient_privilege: "new row violates row-level security policy".
        Err(sqlx::Error::Database(db)) => assert_eq!(db.code().as_deref(), Some("42501"), "{db}"),
        other => panic!("expected a row-level security violation, got {other:?}"),
    }
}

#[tokio::test]
async fn on_postgres_the_store_runs_as_a_role_that_is_neither_owner_nor_superuser_nor_bypassrls() {
    let app = TestApp::postgres().await;
    // The pool may log in as a superuser (it does in these tests), which ignores every policy:
    // that is exactly why each transaction switches role.
    let mut tx = store(&app)
        .begin_as(&UserId::assume_verified(ALICE))
        .await
        .unwrap();
    let row = sqlx::query(
        r#"SELECT current_user::text AS role, r.rolsuper, r.rolbypassrls,
                  t.tableowner::text AS owner, c.relrowsecurity, c.relforcerowsecurity,
                  current_setting('tessera.user_id', true) AS identity
           FROM pg_roles r, pg_tables t, pg_class c
           WHERE r.rolname = current_user AND t.tablename = 'task' AND c.relname = 'task'"#,
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(row.get::<String, _>("role"), "tessera_app");
    assert!(!row.get::<bool, _>("rolsuper"));
    assert!(!row.get::<bool, _>("rolbypassrls"));
    assert_ne!(row.get::<String, _>("owner"), "tessera_app");
    assert!(row.get::<bool, _>("relrowsecurity"));
    assert!(row.get::<bool, _>("relforcerowsecurity"));
    assert_eq!(row.get::<String, _>("identity"), ALICE);
}

#[tokio::test]
async fn on_postgres_the_role_and_identity_do_not_outlive_their_transaction() {
    let app = TestApp::postgres().await;
    app.create_task(ALICE, "alice 1").await;
    // One connection, so the next use is certainly the same session.
    let options = (*app.pg_pool.as_ref().unwrap().connect_options()).clone();
    let single: PgPool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let store = SqlTaskStore::new(single.clone());
    assert_eq!(
        store
            .list(&UserId::assume_verified(ALICE), StatusFilter::All)
            .await
            .unwrap()
            .tasks()
            .len(),
        1
    );

    let row = sqlx::query(
        "SELECT current_user::text AS role, coalesce(current_setting('tessera.user_id', true), '') AS identity",
    )
    .fetch_one(&single)
    .await
    .unwrap();
    assert_ne!(row.get::<String, _>("role"), "tessera_app");
    assert_eq!(row.get::<String, _>("identity"), "");

    // And the app role with no identity sees nothing at all.
    let mut tx = single.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE tessera_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    let visible: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "task""#)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(visible, 0);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn on_postgres_the_one_statement_list_reads_as_the_app_role_under_the_policy() {
    let app = TestApp::postgres().await;
    let alice_1 = app.create_task(ALICE, "alice 1").await;
    app.create_task(BOB, "bob 1").await;
    let alice_1 = alice_1["id"].as_str().unwrap().to_owned();

    // The store calls `tessera_tasks_of` as a statement of its own; inside a transaction the
    // settings it made outlive it until the end, so what its read ran under can be looked at.
    let mut tx = app.pg_pool.as_ref().unwrap().begin().await.unwrap();
    let listed: Vec<String> =
        sqlx::query_scalar(r#"SELECT "id" FROM "tessera_tasks_of"($1, NULL)"#)
            .bind(ALICE)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(listed, std::slice::from_ref(&alice_1));
    let row = sqlx::query(
        "SELECT current_user::text AS role, current_setting('tessera.user_id', true) AS identity",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("role"), "tessera_app");
    assert_eq!(row.get::<String, _>("identity"), ALICE);
    // Under those settings even a statement without the user filter sees Alice's rows only.
    let unfiltered: Vec<String> = sqlx::query_scalar(r#"SELECT "id" FROM "task""#)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(unfiltered, [alice_1]);
    tx.rollback().await.unwrap();
}
