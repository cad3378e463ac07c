//! `TestApp`: the tasks API on 127.0.0.1:0 over a fresh database (a temp SQLite file, or a
//! PostgreSQL database created for the test and dropped after it), with an injected clock and
//! a helper per endpoint.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tessera_clock::{Clock as _, ManualClock};
use tessera_db::Database;
pub use tessera_db::testing::Backend;
use tessera_db::testing::{RoundTrips, TestDatabase};
use tessera_guard::Guard;
use tessera_guard::tessera_jwt::SigningKey;
use tessera_tasks::TasksState;
use tessera_tasks::store::{ListCache, TaskStore};

/// The shared HS256 secret of the tests.
pub const SECRET: &[u8] = b"tessera-tasks-test-secret-0123456789";
/// The list cache's TTL on SQLite, as `tessera serve` ships it.
pub const LIST_CACHE_TTL: chrono::Duration = chrono::Duration::seconds(1);

/// The two users of most tests.
pub const ALICE: &str = "user-alice";
pub const BOB: &str = "user-bob";

/// The API under test.
pub struct TestApp {
    pub base: String,
    /// The API's and the guard's clock, moved by hand.
    pub clock: ManualClock,
    pub store: Arc<dyn TaskStore>,
    /// The PostgreSQL pool (for RLS tests), on that backend.
    pub pg_pool: Option<PgPool>,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    // Dropped after the server is stopped (fields drop in order, after `Drop::drop`).
    _database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    /// On a backend.
    pub async fn spawn(backend: Backend) -> Self {
        let db = TestDatabase::create(backend, &[tessera_tasks::store::migrations]).await;
        let store = tessera_tasks::store::open(db.database().clone());
        // As shipped: SQLite behind the list cache, PostgreSQL without.
        let (pg_pool, list_cache) = match db.database() {
            Database::Sqlite(_) => (None, Some(LIST_CACHE_TTL)),
            Database::Postgres(pool) => (Some(pool.clone()), None),
        };
        Self::serve(store, pg_pool, Some(db), list_cache).await
    }

    /// Over a fresh SQLite file.
    pub async fn sqlite() -> Self {
        Self::spawn(Backend::Sqlite).await
    }

    /// Over a fresh PostgreSQL database.
    pub async fn postgres() -> Self {
        Self::spawn(Backend::Postgres).await
    }

    /// Over a fresh PostgreSQL database reached through a proxy that counts round trips.
    pub async fn postgres_counting_round_trips() -> (Self, RoundTrips) {
        let db = TestDatabase::create(Backend::Postgres, &[tessera_tasks::store::migrations]).await;
        let trips = RoundTrips::to(db.url()).await;
        let database = tessera_db::connect(trips.url())
            .await
            .expect("the proxy relays");
        let Database::Postgres(pool) = &database else {
            unreachable!("a postgres:// URL opens PostgreSQL")
        };
        let pool = pool.clone();
        let store = tessera_tasks::store::open(database);
        (Self::serve(store, Some(pool), Some(db), None).await, trips)
    }

    /// Serves `store` (which may be broken on purpose).
    pub async fn with_store(store: Arc<dyn TaskStore>) -> Self {
        Self::serve(store, None, None, None).await
    }

    async fn serve(
        store: Arc<dyn TaskStore>,
        pg_pool: Option<PgPool>,
        database: Option<TestDatabase>,
        list_cache: Option<chrono::Duration>,
    ) -> Self {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 8, 23, 10, 0, 0).unwrap());
        // As shipped: SQLite behind the list cache, PostgreSQL without. `store` stays the
        // database as another process sees it.
        let served = match list_cache {
            Some(ttl) => {
                let now: tessera_tasks::Now = Arc::new(clock.clone());
                Arc::new(ListCache::new(Arc::clone(&store), now, ttl)) as Arc<dyn TaskStore>
            }
            None => Arc::clone(&store),
        };
        let guard = Guard::hs256([SECRET]).unwrap().clock(clock.clone()).build();
        let state = TasksState::new(served, guard).with_clock(Arc::new(clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = tessera_tasks::router(state);
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            base,
            clock,
            store,
            pg_pool,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            server,
            _database: database,
        }
    }

    /// A JWT for `user`, valid for 15 minutes from the test clock's now.
    pub fn token_for(&self, user: &str) -> String {
        let now = self.clock.unix_secs();
        let claims = json!({
            "sub": user,
            "email": format!("{user}@example.com"),
            "iat": now,
            "exp": now + 900,
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        SigningKey::hmac(None, SECRET).sign(&claims).unwrap()
    }

    /// A request with `user`'s bearer token.
    pub fn request(&self, method: Method, path: &str, user: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token_for(user))
    }

    /// A request without any token.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// `GET /api/{user}/tasks?{query}` as `user`.
    pub async fn list_tasks(&self, user: &str, query: &str) -> Reply {
        send(self.request(Method::GET, &format!("/api/{user}/tasks?{query}"), user)).await
    }

    /// `POST /api/{user}/tasks` as `user`.
    pub async fn post_task(&self, user: &str, body: Value) -> Reply {
        send(
            self.request(Method::POST, &format!("/api/{user}/tasks"), user)
                .json(&body),
        )
        .await
    }

    /// Creates a task titled `title` for `user`, asserting success; returns it.
    pub async fn create_task(&self, user: &str, title: &str) -> Map<String, Value> {
        let reply = self.post_task(user, json!({ "title": title })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.object()
    }

    /// `GET /api/{user}/tasks/{id}` as `user`.
    pub async fn get_task(&self, user: &str, id: &str) -> Reply {
        send(self.request(Method::GET, &format!("/api/{user}/tasks/{id}"), user)).await
    }

    /// `PUT /api/{user}/tasks/{id}` as `user`.
    pub async fn put_task(&self, user: &str, id: &str, body: Value) -> Reply {
        send(
            self.request(Method::PUT, &format!("/api/{user}/tasks/{id}"), user)
                .json(&body),
        )
        .await
    }

    /// `PATCH /api/{user}/tasks/{id}/complete` as `user`.
    pub async fn toggle_task(&self, user: &str, id: &str) -> Reply {
        send(self.request(
            Method::PATCH,
            &format!("/api/{user}/tasks/{id}/complete"),
            user,
        ))
        .await
    }

    /// `DELETE /api/{user}/tasks/{id}` as `user`.
    pub async fn delete_task(&self, user: &str, id: &str) -> Reply {
        send(self.request(Method::DELETE, &format!("/api/{user}/tasks/{id}"), user)).await
    }

    /// The ids of `user`'s tasks as listed by the API, in list order.
    pub async fn task_ids(&self, user: &str, query: &str) -> Vec<String> {
        let reply = self.list_tasks(user, query).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// What a response said.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The body as an object.
    pub fn object(&self) -> Map<String, Value> {
        self.body
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {self:?}"))
            .clone()
    }

    /// Asserts a FastAPI `{"detail": "…"}` answer.
    #[track_caller]
    pub fn assert_detail(&self, status: StatusCode, detail: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body, json!({ "detail": detail }), "{self:?}");
    }

    /// Asserts a FastAPI 422 and returns its `(loc, type)` pairs.
    #[track_caller]
    pub fn validation_errors(&self) -> Vec<(Value, String)> {
        assert_eq!(self.status, StatusCode::UNPROCESSABLE_ENTITY, "{self:?}");
        self.body["detail"]
            .as_array()
            .unwrap_or_else(|| panic!("422 without a detail list: {self:?}"))
            .iter()
            .map(|e| {
                assert!(e["msg"].is_string(), "{e}");
                (e["loc"].clone(), e["type"].as_str().unwrap().to_owned())
            })
            .collect()
    }
}

/// Sends a request and reads the answer.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) use tessera_db::on_both_backends;
