//! `TestApp`: the auth router on a real socket over a fresh database, with an injected clock.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sqlx::Connection as _;
use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};
use tessera_auth::clock::ManualClock;
use tessera_auth::rate_limit::{CounterStore, MemoryCounters};
use tessera_auth::secret::{Secret, SecretSet};
use tessera_auth::{AuthConfig, AuthState};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The secret every test server uses.
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
/// The server's own origin (its `BETTER_AUTH_URL`).
pub const ORIGIN: &str = "http://localhost:3000";
/// A second trusted origin, as a separate frontend would be.
pub const FRONTEND: &str = "http://localhost:3001";
/// The password test users sign up with.
pub const PASSWORD: &str = "correct horse battery";

pub use tessera_db::testing::{Backend, TestDatabase};

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` header for `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A signed-up user with their session.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    /// Raw session token from the JSON body.
    pub token: String,
    /// `better-auth.session_token=<value>`, ready for a `Cookie` header.
    pub cookie: String,
}

/// The app under test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AuthState,
    pub clock: ManualClock,
    url: String,
    /// The pool the app's store runs on.
    database: tessera_db::Database,
    client: reqwest::Client,
    server: JoinHandle<()>,
    _database: Option<TestDatabase>,
}

impl TestApp {
    /// Spawns the app with the default test configuration.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns the app after letting the test adjust its configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut AuthConfig)) -> Self {
        Self::spawn_with_counters(backend, Arc::new(MemoryCounters::default()), adjust).await
    }

    /// Spawns the app with given rate-limit counters (e.g. Redis shared by two apps).
    pub async fn spawn_with_counters(
        backend: Backend,
        counters: Arc<dyn CounterStore>,
        adjust: impl FnOnce(&mut AuthConfig),
    ) -> Self {
        let database = TestDatabase::create(
            backend,
            &[tessera_auth::store::migrations, tessera_mail::migrations],
        )
        .await;
        let url = database.url().to_owned();
        Self::spawn_on(&url, Some(database), counters, adjust).await
    }

    /// Spawns the app with no mail outbox attached: as a server without a mail worker.
    pub async fn spawn_without_mail(backend: Backend) -> Self {
        let database = TestDatabase::create(backend, &[tessera_auth::store::migrations]).await;
        let url = database.url().to_owned();
        let counters = Arc::new(MemoryCounters::default());
        Self::spawn_inner(&url, Some(database), counters, |_| {}, false).await
    }

    /// Spawns the app on a given database URL, with the mail outbox on it attached (as the
    /// composition root attaches it; no worker runs, the tests read the outbox rows).
    pub async fn spawn_on(
        url: &str,
        database: Option<TestDatabase>,
        counters: Arc<dyn CounterStore>,
        adjust: impl FnOnce(&mut AuthConfig),
    ) -> Self {
        Self::spawn_inner(url, database, counters, adjust, true).await
    }

    async fn spawn_inner(
        url: &str,
        test_database: Option<TestDatabase>,
        counters: Arc<dyn CounterStore>,
        adjust: impl FnOnce(&mut AuthConfig),
        mail: bool,
    ) -> Self {
        let pool = tessera_db::connect(url).await.expect("connect");
        let store = tessera_auth::store::open(pool.clone());
        store.migrate().await.expect("migrate");
        let mut config = AuthConfig::new(SecretSet::single(Secret::new(SECRET)), ORIGIN);
        config.trusted_origins = vec![FRONTEND.to_owned()];
        // As `tessera serve` ships on SQLite: sessions cached for 5 s (tests may turn it off).
        config.session.cache_ttl = chrono::Duration::seconds(5);
        // Never shed a hash unless a test asks (tests/api/load_shedding.rs): how long hashes
        // take on a shared test host must not decide what a test sees.
        config.email_password.hash_queue.max_wait = std::time::Duration::MAX;
        adjust(&mut config);
        let clock = ManualClock::new(Utc::now());
        let state = AuthState::with_counters(config, store, Arc::new(clock.clone()), counters);
        if mail {
            let db = tessera_db::connect(url).await.expect("connect the outbox");
            let now = clock.clone();
            state.attach_outbox(tessera_mail::Outbox::new(db, move || {
                tessera_auth::clock::Clock::now(&now)
            }));
        }
        let app = axum::Router::new().nest("/api/auth", tessera_auth::router(state.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            addr,
            state,
            clock,
            url: url.to_owned(),
            database: pool,
            client,
            server,
            _database: test_database,
        }
    }

    /// The same database as another process sees it: no cache of this app's in front.
    pub async fn other_process_store(&self) -> Arc<dyn tessera_auth::store::Store> {
        tessera_auth::store::connect(&self.url)
            .await
            .expect("connect")
    }

    /// The pool the app's store runs on.
    pub fn database(&self) -> &tessera_db::Database {
        &self.database
    }

    /// The database's URL, for a second app on the same database.
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The `token` column of `user_id`'s sessions, read with plain SQL past every store layer:
    /// what is at rest.
    pub async fn stored_session_tokens(&self, user_id: &str) -> Vec<String> {
        const SQL: &str = r#"SELECT "token" FROM "session" WHERE "userId" = $1 ORDER BY "token""#;
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_scalar(SQL)
                .bind(user_id)
                .fetch_all(&mut conn)
                .await
                .expect("select")
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_scalar(SQL)
                .bind(user_id)
                .fetch_all(&mut conn)
                .await
                .expect("select")
        }
    }

    /// Runs one statement with plain SQL past every store layer and returns its first column
    /// as text (nothing for a statement that returns no rows).
    pub async fn raw_sql(&self, sql: &str) -> Vec<String> {
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_all(&mut conn)
                .await
                .expect(sql)
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_all(&mut conn)
                .await
                .expect(sql)
        }
    }

    /// Absolute URL of an auth path such as `/sign-in/email`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/api/auth{path}", self.addr)
    }

    /// Sends a request with optional cookie and extra headers; JSON body when given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(cookie) = cookie {
            // A browser sends Origin on every cookie-carrying fetch.
            request = request.header("cookie", cookie).header("origin", ORIGIN);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("request")).await
    }

    /// POSTs JSON without credentials.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body), None, &[])
            .await
    }

    /// POSTs JSON as `user` (cookie + trusted Origin).
    pub async fn post_as(&self, user: &TestUser, path: &str, body: Value) -> Resp {
        self.send(
            reqwest::Method::POST,
            path,
            Some(body),
            Some(&user.cookie),
            &[],
        )
        .await
    }

    /// GETs as `user`.
    pub async fn get_as(&self, user: &TestUser, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, Some(&user.cookie), &[])
            .await
    }

    /// GETs without credentials.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, None, &[]).await
    }

    /// Signs a fresh user up and returns them with their session.
    pub async fn sign_up(&self) -> TestUser {
        let email = format!(
            "user-{}@example.com",
            tessera_auth::ids::generate_id(8).to_lowercase()
        );
        let resp = self
            .post(
                "/sign-up/email",
                json!({"name": "Test User", "email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status, 200, "sign-up failed: {}", resp.text);
        self.user_from(&resp, &email)
    }

    /// Signs an existing user in again, as a second device.
    pub async fn sign_in(&self, email: &str, password: &str) -> TestUser {
        let resp = self
            .post(
                "/sign-in/email",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(resp.status, 200, "sign-in failed: {}", resp.text);
        self.user_from(&resp, email)
    }

    /// Builds a `TestUser` from a sign-in/sign-up response.
    pub fn user_from(&self, resp: &Resp, email: &str) -> TestUser {
        let name = &self.state.cookies.session_token;
        let set = resp.set_cookie(name).expect("session cookie");
        let pair = set.split(';').next().expect("cookie pair").to_owned();
        TestUser {
            id: resp.body["user"]["id"]
                .as_str()
                .expect("user id")
                .to_owned(),
            email: email.to_owned(),
            token: resp.body["token"].as_str().expect("token").to_owned(),
            cookie: pair,
        }
    }

    /// The injected clock's now, as a Unix timestamp.
    pub fn clock_now(&self) -> i64 {
        use tessera_auth::clock::Clock as _;
        self.clock.now().timestamp()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn read(response: reqwest::Response) -> Resp {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}

/// A TCP relay between the app and PostgreSQL that a test can cut, to make the database "go away".
pub struct CuttableProxy {
    pub addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CuttableProxy {
    /// Relays 127.0.0.1:<random> to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = Arc::clone(&tasks);
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().expect("registry").push(relay);
            }
        });
        tasks.lock().expect("registry").push(acceptor);
        Self { addr, tasks }
    }

    /// Drops every relayed connection and stops accepting new ones.
    pub fn cut(&self) {
        for task in self.tasks.lock().expect("registry").drain(..) {
            task.abort();
        }
    }
}

/// Rewrites a PostgreSQL URL to go through `proxy`.
pub fn via_proxy(url: &str, proxy: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).expect("url");
    parsed
        .set_host(Some(&proxy.ip().to_string()))
        .expect("host");
    parsed.set_port(Some(proxy.port())).expect("port");
    parsed.to_string()
}

/// Decodes a JWT's payload without verifying it (tests verify separately).
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// Every audit row of `kind`, oldest first.
pub async fn audit_events(app: &TestApp, kind: AuditKind) -> Vec<AuditEvent> {
    let filter = AuditFilter {
        limit: 1_000,
        ..AuditFilter::default()
    };
    let mut rows = app.state.store.list_audit(&filter).await.unwrap();
    rows.retain(|e| e.event == kind.as_str());
    rows
}

/// Waits (at most 10 s) until the audit log holds `n` events of `kind`: a request's background
/// task has then committed its writes.
pub async fn events_written(app: &TestApp, kind: AuditKind, n: usize) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while audit_events(app, kind).await.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {n} {kind} events were written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The path (under `/api/auth`) of a mailed link, to follow it against the test server.
pub fn path_of(link: &str) -> &str {
    link.strip_prefix(&format!("{ORIGIN}/api/auth"))
        .expect("a link from the base URL")
}

/// The links of the mails of `kind` (`reset-password`, `verify-email`) queued for `email`.
pub async fn queued_links(app: &TestApp, email: &str, kind: &str) -> Vec<String> {
    let sql = format!(
        r#"SELECT "payload" FROM "mail_outbox" WHERE "recipient" = '{email}' AND "kind" = '{kind}' ORDER BY "id""#
    );
    app.raw_sql(&sql)
        .await
        .iter()
        .map(|payload| {
            serde_json::from_str::<Value>(payload).unwrap()["url"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}
