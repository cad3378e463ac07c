//! [`spawn_app`]: the production stack on a free port over a throwaway database, and the raw
//! HTTP/1.1 client the tests read answers with.

use std::net::SocketAddr;
use std::time::Duration;

use tessera_api::TasksSettings;
use tessera_auth::secret::{Secret, SecretSet};
use tessera_auth::{AuthConfig, AuthState};
use tessera_db::testing::{Backend, TestDatabase};
use tessera_http::ConnectionLimits;
use tessera_server::{Application, ServerError, ServerSettings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The auth server's public origin in every test: browsers' requests carry it in `Origin`.
pub const ORIGIN: &str = "http://tessera.test";
/// A second origin the tests trust, as a frontend on another port would be.
pub const FRONTEND: &str = "http://localhost:5173";
/// The auth server's secret (in HS256 mode also the separate API's).
pub const SECRET: &str = "app-test-secret-0123456789abcdef0123456789";
/// Far longer than any timeout under test: reaching it means the server did not act.
pub const BOUND: Duration = Duration::from_secs(15);

/// A running application; stopped (gracefully) when dropped, its database removed with it.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its metrics listener listens, when it has one.
    pub metrics_addr: Option<SocketAddr>,
    /// Its database.
    pub database_url: String,
    /// The auth server's state (its store closes the one pool, as an outage would).
    pub auth: AuthState,
    /// Its mail outbox (its worker runs as long as the app).
    pub outbox: tessera_mail::Outbox,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<Result<(), ServerError>>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Begins a graceful shutdown, as SIGTERM does in the binary; the handle resolves when
    /// `run` has returned.
    pub fn shut_down(&mut self) -> JoinHandle<Result<(), ServerError>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.running.take().expect("already shut down")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `tessera serve`'s defaults (those of the command line) on a SQLite file in `dir`.
fn settings(dir: &tempfile::TempDir) -> ServerSettings {
    ServerSettings {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        auth: auth_config(),
        database_url: format!("sqlite://{}", dir.path().join("tessera.db").display()),
        redis_url: None,
        tasks: TasksSettings {
            token_cache: 4096,
            list_cache_ttl: None,
        },
        hsts: true,
        limits: limits(),
        mail: tessera_mail::MailSettings {
            smtp_url: None,
            from: "Tessera <no-reply@tessera.test>".to_owned(),
            webhook_url: None,
            webhook_secret: None,
            app_name: "Tessera".to_owned(),
            templates: None,
            eml_dir: Some(dir.path().join("mail")),
            poll: tessera_mail::DEFAULT_POLL,
            max_attempts: tessera_mail::DEFAULT_MAX_ATTEMPTS,
        },
        metrics_addr: None,
    }
}

/// The command line's connection limits, for `tessera serve` and `tessera api` alike.
pub fn limits() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(10),
        handler_timeout: Duration::from_secs(30),
        max_body_bytes: 2 * 1024 * 1024,
        max_connections: 1024,
        // The command line's is 5 s; a test that shuts down sets its own.
        shutdown_drain: Duration::ZERO,
        shutdown_grace: Duration::from_secs(30),
    }
}

/// The auth configuration of every test app: [`ORIGIN`], trusting [`FRONTEND`] and
/// `https://*.example.com`.
pub fn auth_config() -> AuthConfig {
    let mut auth = AuthConfig::new(SecretSet::single(Secret::new(SECRET)), ORIGIN.to_owned());
    auth.trusted_origins = vec![FRONTEND.to_owned(), "https://*.example.com".to_owned()];
    auth
}

/// The application with the default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `Application::build` with the settings `configure` leaves, over a database in `dir`.
pub async fn build_with(
    dir: &tempfile::TempDir,
    configure: impl FnOnce(&mut ServerSettings),
) -> Result<Application, ServerError> {
    let mut settings = settings(dir);
    configure(&mut settings);
    Application::build(settings).await
}

/// The application with the settings `configure` leaves.
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServerSettings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut database_url = String::new();
    let app = build_with(&dir, |s| {
        configure(s);
        database_url.clone_from(&s.database_url);
    })
    .await
    .unwrap();
    let addr = app.local_addr().unwrap();
    let metrics_addr = app.metrics_addr().unwrap();
    let auth = app.auth().clone();
    let outbox = app.outbox().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        metrics_addr,
        database_url,
        auth,
        outbox,
        stop: Some(stop),
        running: Some(running),
        _dir: dir,
    }
}

/// A fresh PostgreSQL database with the auth and tasks migrations, from `tessera-db`'s shared
/// test helper (cloned from a migrated template; dropped with the value).
pub async fn pg_database() -> TestDatabase {
    TestDatabase::create(
        Backend::Postgres,
        &[
            tessera_auth::store::migrations,
            tessera_tasks::store::migrations,
        ],
    )
    .await
}

/// One answer, as read off the socket.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Every header, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (`Connection: close`, so everything after the head).
    pub body: String,
}

impl Reply {
    /// The first value of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `method path` with the `extra` headers and `body`, on a connection of its own.
pub async fn request(
    app: &TestApp,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Reply {
    request_at(app.addr, method, path, extra, body).await
}

/// [`request`] to `addr` (another listener than the app's public one).
pub async fn request_at(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: tessera.test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let raw = String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// `GET path`, with `cookie` when given.
pub async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Reply {
    match cookie {
        Some(c) => request(app, "GET", path, &[("Cookie", c)], "").await,
        None => request(app, "GET", path, &[], "").await,
    }
}

/// Reads until the server closes the connection, within [`BOUND`]; returns what it sent.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await
        .expect("the server kept the connection open past every timeout");
    received
}

/// Signs a new user up; returns the `name=value` of the session cookie and the user's id.
pub async fn signed_up(app: &TestApp) -> (String, String) {
    let reply = request(
        app,
        "POST",
        "/api/auth/sign-up/email",
        &[("Content-Type", "application/json"), ("Origin", ORIGIN)],
        r#"{"name":"Web","email":"web@example.com","password":"tessera web test zq8-xw2p"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = reply
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    (cookie, body["user"]["id"].as_str().unwrap().to_owned())
}
