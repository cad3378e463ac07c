//! Connection hygiene of the assembled server: a client that never finishes its headers is cut
//! off (on both backends), so is a silent kept-alive connection and a body that stops arriving,
//! and the open-connection cap makes further clients wait rather than fail.
//!
//! Timeouts are set to a second; every wait is bounded, and what is waited for is an event (the
//! server closing the socket, an answer).

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::helpers::{
    BOUND, ORIGIN, TestApp, get, pg_database, read_until_closed, spawn_app, spawn_app_with,
};

const REQUEST: &[u8] = b"GET /api/auth/ok HTTP/1.1\r\nhost: tessera\r\n\r\n";
const SECOND: Duration = Duration::from_secs(1);

/// Reads until what was received ends with `end`, each read within [`BOUND`]; the server
/// must not close the connection before.
async fn read_until_end(stream: &mut (impl AsyncRead + Unpin), end: &[u8]) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !received.ends_with(end) {
        let n = timeout(BOUND, stream.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert_ne!(n, 0, "closed before answering: {received:?}");
        received.extend_from_slice(&buf[..n]);
    }
    received
}

/// Reads one answer to [`REQUEST`] (its body is `{"ok":true}`).
async fn read_ok_answer(stream: &mut TcpStream) {
    let received = read_until_end(stream, br#"{"ok":true}"#).await;
    assert!(received.starts_with(b"HTTP/1.1 200"), "{received:?}");
}

/// A connection on which the headers of a sign-in announcing a `length`-byte body (plus
/// `extra` header lines) were sent, and nothing of the body yet.
async fn sign_in_announcing(app: &TestApp, length: usize, extra: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nhost: tessera\r\ncontent-type: application/json\r\ncontent-length: {length}\r\norigin: {ORIGIN}\r\n{extra}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

async fn answered(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    read_ok_answer(&mut stream).await;
    stream
}

/// Half a request line, then silence: the server closes the connection after the header-read
/// timeout without answering the request.
async fn assert_a_half_sent_request_is_cut_off(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /api/auth/ok HT").await.unwrap();
    let started = Instant::now();
    let received = read_until_closed(&mut stream).await;
    // Hyper may say 408 before closing; it must not have answered the request.
    assert!(
        received.is_empty() || received.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(|s| s.limits.header_read_timeout = SECOND).await;
    assert_a_half_sent_request_is_cut_off(&app).await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected_on_postgres_too() {
    let database = pg_database().await;
    let app = spawn_app_with(|s| {
        s.limits.header_read_timeout = SECOND;
        s.database_url = database.url().to_owned();
    })
    .await;
    assert_a_half_sent_request_is_cut_off(&app).await;
    // The server still answers a whole request on PostgreSQL.
    drop(answered(&app).await);
    drop(app);
    drop(database);
}

#[tokio::test]
async fn a_kept_alive_connection_with_no_traffic_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| s.limits.idle_timeout = SECOND).await;
    let mut stream = answered(&app).await;
    let started = Instant::now();
    assert!(read_until_closed(&mut stream).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_request_body_that_stops_arriving_fails_after_the_body_timeout() {
    let app = spawn_app_with(|s| s.limits.body_timeout = SECOND).await;
    let mut stream = sign_in_announcing(&app, 100, "").await;
    stream.write_all(br#"{"email":"#).await.unwrap();
    let received = read_until_closed(&mut stream).await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 4"), "{received}");
}

#[tokio::test]
async fn with_the_connection_cap_reached_a_further_client_waits_until_one_closes() {
    let app = spawn_app_with(|s| s.limits.max_connections = 2).await;
    let first = answered(&app).await;
    let _second = answered(&app).await;
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    third.write_all(REQUEST).await.unwrap();
    // Not accepted while both slots are held: no answer at all in half a second, where an
    // accepted request is answered in milliseconds.
    let mut buf = [0u8; 1];
    assert!(
        timeout(Duration::from_millis(500), third.peek(&mut buf))
            .await
            .is_err(),
        "answered beyond the connection cap"
    );
    drop(first);
    read_ok_answer(&mut third).await;
}

#[tokio::test]
async fn a_request_whose_body_trickles_in_past_the_request_timeout_is_answered_503() {
    // Each piece comes well within the body timeout; the whole request takes longer than the
    // request (handler) timeout.
    let app = spawn_app_with(|s| s.limits.handler_timeout = SECOND).await;
    let stream = sign_in_announcing(&app, 100, "").await;
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    // The timeout's 503 has an empty body: the answer ends with its head.
    let received = read_until_end(&mut reader, b"\r\n\r\n").await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 503"), "{received}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    trickle.abort();
}

#[tokio::test]
async fn a_body_larger_than_the_edge_limit_is_refused_413_before_it_is_sent() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 64 * 1024).await;
    // Announced, never sent: the edge answers from the headers alone.
    let mut stream = sign_in_announcing(&app, 64 * 1024 + 1, "connection: close\r\n").await;
    let received = read_until_closed(&mut stream).await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 413"), "{received}");
}

#[tokio::test]
async fn an_address_in_use_fails_start_up_with_a_stable_code_and_the_os_error_as_its_cause() {
    let app = spawn_app_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let taken = app.addr;
    let refused = crate::helpers::build_with(&dir, |s| s.addr = taken)
        .await
        .err()
        .expect("bound an address in use");
    assert_eq!(refused.code(), "SERVER_LISTEN_FAILED");
    assert_eq!(refused.to_string(), format!("binding {taken}"));
    let cause = std::error::Error::source(&refused).expect("the cause was dropped");
    let io = cause
        .downcast_ref::<std::io::Error>()
        .expect("the cause is the OS error");
    assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
}

/// Waits for hyper's `100 Continue`: the handler has begun reading the body, so the request is
/// in flight.
async fn in_flight(stream: &mut TcpStream) {
    let received = read_until_end(stream, b"\r\n\r\n").await;
    assert!(received.starts_with(b"HTTP/1.1 100"), "{received:?}");
}

const SIGN_IN: &str = r#"{"email":"nobody@example.com","password":"not the password 42"}"#;

/// A sign-in (`Connection: close`) whose body the handler is waiting for.
async fn sign_in_in_flight(app: &TestApp) -> TcpStream {
    let extra = "expect: 100-continue\r\nconnection: close\r\n";
    let mut stream = sign_in_announcing(app, SIGN_IN.len(), extra).await;
    in_flight(&mut stream).await;
    stream
}

#[tokio::test]
async fn at_shutdown_new_clients_are_refused_and_a_request_in_flight_is_still_answered() {
    let mut app = spawn_app().await;
    let stream = sign_in_in_flight(&app).await;
    let stopped = app.shut_down();
    // The listener closes at once: a new client is refused (the wait is for that event).
    refusing(&app).await;
    answered_then_stopped(stream, stopped).await;
}

/// Waits (within [`BOUND`]) for the listener to refuse new clients.
async fn refusing(app: &TestApp) {
    timeout(BOUND, async {
        while TcpStream::connect(app.addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("still accepting long after shutdown began");
}

/// Sends the rest of the sign-in in flight on `stream`: it is answered (401, an unknown user),
/// and `run` then returns.
async fn answered_then_stopped(
    mut stream: TcpStream,
    stopped: tokio::task::JoinHandle<Result<(), tessera_server::ServerError>>,
) {
    stream.write_all(SIGN_IN.as_bytes()).await.unwrap();
    let received = read_until_closed(&mut stream).await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 401"), "{received}");
    timeout(BOUND, stopped)
        .await
        .expect("run did not return after its last request")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_still_in_flight_when_the_shutdown_grace_ends_is_cut_off() {
    let mut app = spawn_app_with(|s| s.limits.shutdown_grace = SECOND).await;
    let mut stream = sign_in_announcing(&app, SIGN_IN.len(), "expect: 100-continue\r\n").await;
    in_flight(&mut stream).await;
    // The body never comes (the body timeout, 10 s, is far off): only the grace ends it.
    let started = Instant::now();
    timeout(BOUND, app.shut_down())
        .await
        .expect("run outlived the grace")
        .unwrap()
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(read_until_closed(&mut stream).await.is_empty());
}

#[tokio::test]
async fn at_shutdown_readyz_turns_503_at_once_and_new_clients_are_served_until_the_drain_ends() {
    const DRAIN: Duration = Duration::from_secs(3);
    let mut app = spawn_app_with(|s| s.limits.shutdown_drain = DRAIN).await;
    assert_eq!(get(&app, "/readyz", None).await.status, 200);
    let stream = sign_in_in_flight(&app).await;
    let started = Instant::now();
    let stopped = app.shut_down();
    // Each probe is a new connection: answered at all, it was accepted during the drain.
    let reply = timeout(BOUND, async {
        loop {
            let reply = get(&app, "/readyz", None).await;
            if reply.status == 503 {
                return reply;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("/readyz never turned 503");
    assert!(started.elapsed() < DRAIN, "{:?}", started.elapsed());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
        serde_json::json!({"status": "shutting_down"})
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        get(&app, "/healthz", None).await.status,
        200,
        "still serving"
    );
    refusing(&app).await;
    let refused_after = started.elapsed();
    assert!(
        refused_after >= DRAIN - Duration::from_millis(100),
        "{refused_after:?}"
    );
    answered_then_stopped(stream, stopped).await;
}
