//! [`RoundTrips`]: a PostgreSQL wire proxy that counts the round trips a store makes.
//!
//! A round trip is what a request waits for: the client sends, then waits for the server's
//! answer before it sends again. The proxy sits between a pool and PostgreSQL, forwards every
//! byte unchanged, and starts a new trip whenever the client sends after the server last spoke,
//! so pipelined messages sent in one go count once and a message split over several writes
//! counts once too. Each trip is named after what the client sent in it (the SQL of a simple
//! query or of the prepared statement it binds, `sync` for a bare `Sync`: sqlx's ping), so a
//! failing count says which statement is new.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::Database;

/// How many characters of a statement name its trip.
const LABEL_CHARS: usize = 72;

/// A counting proxy in front of one PostgreSQL server; stopped when dropped.
#[derive(Debug)]
pub struct RoundTrips {
    url: String,
    trips: Arc<Mutex<Vec<String>>>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl RoundTrips {
    /// A proxy on `127.0.0.1:0` in front of the server `url` names; connect to [`Self::url`].
    ///
    /// # Panics
    /// When `url` is not a URL or no port can be bound (a test setup failure).
    pub async fn to(url: &str) -> Self {
        let mut upstream = url::Url::parse(url).expect("a PostgreSQL URL");
        let target = format!(
            "{}:{}",
            upstream.host_str().unwrap_or("127.0.0.1"),
            upstream.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        upstream.set_host(Some("127.0.0.1")).expect("a host");
        upstream.set_port(Some(port)).expect("a port");
        // TLS would hide the messages the trips are named after.
        upstream.query_pairs_mut().append_pair("sslmode", "disable");
        let trips = Arc::new(Mutex::new(Vec::new()));
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (trips, tasks) = (Arc::clone(&trips), Arc::clone(&tasks));
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        continue;
                    };
                    let relay = tokio::spawn(relay(client, server, Arc::clone(&trips)));
                    lock(&tasks).push(relay.abort_handle());
                }
            })
        };
        lock(&tasks).push(accept.abort_handle());
        Self {
            url: upstream.to_string(),
            trips,
            tasks,
        }
    }

    /// The URL to connect through the proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The trips made since the last call, oldest first, each named by what it sent.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.trips))
    }

    /// The trips one `request` makes over `db`'s pool (connected through this proxy) once
    /// warm, the pool's check of each connection it gives back included.
    ///
    /// `request` runs once unmeasured (a first request may do more: sign and audit a session's
    /// first JWT), then until a run opens no connection and prepares no statement (the first
    /// use of a statement on a connection prepares it, and which pooled connection a request
    /// gets is the pool's business). That run's trips are the answer.
    ///
    /// # Panics
    /// When 20 runs in a row each open a connection or prepare a statement: a path that never
    /// warms up is a regression too.
    pub async fn of<F, Fut>(&self, db: &Database, mut request: F) -> Vec<String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        request().await;
        let mut last = Vec::new();
        for _ in 0..20 {
            settled(db).await;
            self.take();
            request().await;
            settled(db).await;
            last = self.take();
            let cold = |trip: &String| trip.contains("startup") || trip.contains("prepare ");
            if !last.iter().any(cold) {
                return last;
            }
        }
        panic!("no run of the request was warm in 20: {last:#?}")
    }
}

impl Drop for RoundTrips {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Waits until every connection of `db`'s pool is back in it (sqlx returns a connection in a
/// task of its own, after the request that used it has been answered, and pings it first);
/// how many there are.
///
/// # Panics
/// After 10 s, or on SQLite (no wire to count).
pub async fn settled(db: &Database) -> u32 {
    let Database::Postgres(pool) = db else {
        panic!("round trips are counted on PostgreSQL")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.num_idle() < pool.size() as usize {
        assert!(
            Instant::now() < deadline,
            "the pool's connections never came back"
        );
        tokio::task::yield_now().await;
    }
    pool.size()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One proxied connection: both directions, with the client's side parsed into trips.
async fn relay(client: TcpStream, server: TcpStream, trips: Arc<Mutex<Vec<String>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Whether the client has sent since the server last spoke: its next bytes start a trip
    // only when not.
    let sending = Arc::new(Mutex::new(Frontend::default()));
    let upstream = {
        let sending = Arc::clone(&sending);
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                lock(&sending).feed(&buf[..n], &trips);
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        }
    };
    let downstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            lock(&sending).answered();
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// The client's half of a connection: frontend messages, parsed only as far as naming trips.
#[derive(Debug, Default)]
struct Frontend {
    /// Bytes of a message not yet whole.
    pending: Vec<u8>,
    /// Past the startup message (the only untyped one, after an optional TLS request).
    started: bool,
    /// The client is in a trip: it sent since the server last spoke.
    in_trip: bool,
    /// The names of the current trip's statements.
    current: Vec<String>,
    /// Prepared statements by name, for naming the `Bind`s that run them.
    statements: HashMap<String, String>,
}

impl Frontend {
    fn feed(&mut self, bytes: &[u8], trips: &Mutex<Vec<String>>) {
        if !self.in_trip {
            self.in_trip = true;
            self.current.clear();
            lock(trips).push(String::new());
        }
        self.pending.extend_from_slice(bytes);
        while let Some(name) = self.next_message() {
            if let Some(name) = name {
                self.current.push(name);
            }
        }
        let label = if self.current.is_empty() {
            "sync".to_owned()
        } else {
            self.current.join(" + ")
        };
        if let Some(last) = lock(trips).last_mut() {
            *last = label;
        }
    }

    fn answered(&mut self) {
        self.in_trip = false;
    }

    /// The next whole message's name (`Some(None)` for one that names nothing, such as
    /// `Execute` or `Sync`), or `None` until more bytes come.
    fn next_message(&mut self) -> Option<Option<String>> {
        let untyped = !self.started;
        let header = if untyped { 4 } else { 5 };
        if self.pending.len() < header {
            return None;
        }
        let at = header - 4;
        let len = u32::from_be_bytes(self.pending[at..header].try_into().ok()?) as usize;
        let total = at + len;
        if len < 4 || self.pending.len() < total {
            return None;
        }
        let message: Vec<u8> = self.pending.drain(..total).collect();
        let body = &message[header..];
        if untyped {
            // 80877103 asks for TLS, 80877104 for GSS encryption; anything else starts up.
            let code = body
                .get(..4)
                .map(|c| u32::from_be_bytes(c.try_into().unwrap_or([0; 4])));
            if !matches!(code, Some(80_877_103 | 80_877_104)) {
                self.started = true;
            }
            return Some(Some("startup".to_owned()));
        }
        let mut strings = body.split(|b| *b == 0).map(String::from_utf8_lossy);
        Some(match message[0] {
            b'Q' => strings.next().map(|sql| label(&sql)),
            b'P' => {
                let name = strings.next().unwrap_or_default().into_owned();
                let sql = label(&strings.next().unwrap_or_default());
                self.statements.insert(name, sql.clone());
                Some(format!("prepare {sql}"))
            }
            b'B' => {
                let _portal = strings.next();
                let name = strings.next().unwrap_or_default();
                Some(
                    self.statements
                        .get(name.as_ref())
                        .cloned()
                        .unwrap_or_else(|| format!("bind {name}")),
                )
            }
            b'X' => Some("terminate".to_owned()),
            _ => None,
        })
    }
}

/// A statement's first characters, whitespace collapsed.
fn label(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words.join(" ").chars().take(LABEL_CHARS).collect()
}
