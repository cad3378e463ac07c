//! Round trips to PostgreSQL per request, pinned: the session cache is off on PostgreSQL (the
//! multi-instance setting), so these are what every get-session and `/token` costs the
//! database (BENCHMARKS.md, "Round trips per request"). A new statement on either path fails
//! here, naming it.

use std::sync::Arc;

use tessera_auth::rate_limit::MemoryCounters;
use tessera_db::testing::{Backend, RoundTrips, TestDatabase};

use crate::helpers::{TestApp, TestUser};

/// The auth app over a fresh PostgreSQL database reached through a counting proxy, with the
/// session cache off as `tessera serve` ships on PostgreSQL, and a signed-up user.
async fn counted_app() -> (TestApp, RoundTrips, TestUser) {
    let database = TestDatabase::create(
        Backend::Postgres,
        &[tessera_auth::store::migrations, tessera_mail::migrations],
    )
    .await;
    let trips = RoundTrips::to(database.url()).await;
    let url = trips.url().to_owned();
    let counters = Arc::new(MemoryCounters::default());
    let app = TestApp::spawn_on(&url, Some(database), counters, |config| {
        config.session.cache_ttl = chrono::Duration::zero();
    })
    .await;
    let user = app.sign_up().await;
    (app, trips, user)
}

/// The trips one `GET path` as `user` makes once warm: besides the prepared statements, the
/// first JWT of a session is signed and audited, and the next requests within the reuse window
/// hand the same token out again.
async fn trips_of_get(
    app: &TestApp,
    trips: &RoundTrips,
    user: &TestUser,
    path: &str,
) -> Vec<String> {
    trips
        .of(app.database(), || async {
            assert_eq!(app.get_as(user, path).await.status, 200);
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_get_session_reads_the_session_and_its_user_in_one_round_trip() {
    let (app, trips, user) = counted_app().await;
    let taken = trips_of_get(&app, &trips, &user, "/get-session").await;
    assert_eq!(taken.len(), 2, "{taken:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_token_reads_the_session_and_its_user_in_one_round_trip() {
    let (app, trips, user) = counted_app().await;
    let taken = trips_of_get(&app, &trips, &user, "/token").await;
    assert_eq!(taken.len(), 2, "{taken:#?}");
}
