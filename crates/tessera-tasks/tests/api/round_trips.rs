//! Round trips to PostgreSQL per request, pinned: the list cache is off on PostgreSQL (the
//! multi-instance setting), so this is what every task-list read costs the database
//! (BENCHMARKS.md, "Round trips per request"). A new statement on the path fails here, naming it.

use reqwest::StatusCode;
use tessera_db::Database;

use crate::helpers::{ALICE, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_task_list_read_is_one_round_trip() {
    let (app, trips) = TestApp::postgres_counting_round_trips().await;
    app.create_task(ALICE, "one").await;
    let database = Database::from(app.pg_pool.clone().expect("a PostgreSQL app"));
    let taken = trips
        .of(&database, || async {
            assert_eq!(app.list_tasks(ALICE, "").await.status, StatusCode::OK);
        })
        .await;
    assert_eq!(taken.len(), 2, "{taken:#?}");
}
