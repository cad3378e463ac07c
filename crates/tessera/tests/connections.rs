//! Connection hygiene and start-up refusals, against the real `tessera` binary over real
//! sockets: a client that never finishes its headers is cut off, so is a silent kept-alive
//! connection, the open-connection cap makes further clients wait rather than fail, running out
//! of file descriptors only pauses the accept loop, HSTS follows the base URL's scheme, and
//! production refuses weak settings with a message that says why.
//!
//! Timeouts are set to a second through the settings; every wait is bounded, and what is
//! waited for is an event (the server closing the socket, a log line, an answer).

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

const SECRET: &str = "connections-test-secret-0123456789abcdefXYZ";
/// Far longer than any timeout under test: reaching it means the server did not act.
const BOUND: Duration = Duration::from_secs(15);
const REQUEST: &[u8] = b"GET /api/auth/ok HTTP/1.1\r\nhost: tessera\r\n\r\n";

/// A running `tessera serve`, killed when dropped, with its log lines.
struct Server {
    _child: Child,
    addr: String,
    lines: mpsc::UnboundedReceiver<String>,
    _dir: tempfile::TempDir,
}

/// `tessera serve` on a free port with `args` and `env`, run through `wrapper` (e.g.
/// `prlimit`) when given; waits for its "listening on" line.
async fn serve(wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let binary = env!("CARGO_BIN_EXE_tessera");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .args(["serve", "--addr", &addr])
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", dir.path())
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = stdout
            .next_line()
            .await
            .unwrap()
            .expect("tessera exited before listening");
        if line.contains("listening on ") {
            break;
        }
    }
    let (sender, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stdout.next_line().await {
            let _ = sender.send(line);
        }
    });
    Server {
        _child: child,
        addr,
        lines,
        _dir: dir,
    }
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Reads until the server closes the connection, within [`BOUND`]; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
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

/// Reads one answer to [`REQUEST`] (its body is `{"ok":true}`).
async fn read_ok_answer(stream: &mut TcpStream) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !received.ends_with(br#"{"ok":true}"#) {
        let n = timeout(BOUND, stream.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert_ne!(n, 0, "closed before answering");
        received.extend_from_slice(&buf[..n]);
    }
    assert!(received.starts_with(b"HTTP/1.1 200"), "{received:?}");
}

async fn answered(server: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    read_ok_answer(&mut stream).await;
    stream
}

/// A throwaway PostgreSQL database on `TEST_DATABASE_URL`'s server (the local default when
/// unset), for a server that must run on PostgreSQL; [`drop_pg_database`] removes it.
async fn pg_database() -> (String, String) {
    use sqlx::Connection as _;
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!(
        "tessera_conn_{}",
        tessera_auth::ids::generate_id(12).to_lowercase()
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL at TEST_DATABASE_URL answers (scripts/test.sh starts one)");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    (url.to_string(), name)
}

async fn drop_pg_database(name: &str) {
    use sqlx::Connection as _;
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Half a request line, then silence: the server closes the connection after the header-read
/// timeout without answering the request.
async fn assert_a_half_sent_request_is_cut_off(server: &Server) {
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
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
    let server = serve(&[], &["--header-read-timeout", "1"], &[]).await;
    assert_a_half_sent_request_is_cut_off(&server).await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected_on_postgres_too() {
    let (url, name) = pg_database().await;
    let server = serve(
        &[],
        &["--header-read-timeout", "1"],
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    assert_a_half_sent_request_is_cut_off(&server).await;
    // The server still answers a whole request on PostgreSQL.
    drop(answered(&server).await);
    drop(server);
    drop_pg_database(&name).await;
}

#[tokio::test]
async fn a_kept_alive_connection_with_no_traffic_is_closed_after_the_idle_timeout() {
    let server = serve(
        &[],
        &["--idle-timeout", "1", "--header-read-timeout", "30"],
        &[],
    )
    .await;
    let mut stream = answered(&server).await;
    let started = Instant::now();
    assert!(read_until_closed(&mut stream).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_request_body_that_stops_arriving_fails_after_the_body_timeout() {
    let server = serve(&[], &["--body-timeout", "1"], &[]).await;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nhost: tessera\r\ncontent-type: application/json\r\ncontent-length: 100\r\norigin: http://{}\r\n\r\n{{\"email\":",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let received = read_until_closed(&mut stream).await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 4"), "{received}");
}

#[tokio::test]
async fn with_the_connection_cap_reached_a_further_client_waits_until_one_closes() {
    let server = serve(&[], &["--max-connections", "2"], &[]).await;
    let first = answered(&server).await;
    let _second = answered(&server).await;
    let mut third = TcpStream::connect(&server.addr).await.unwrap();
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
async fn out_of_file_descriptors_the_server_backs_off_and_answers_again_once_they_free_up() {
    let mut server = serve(
        &["prlimit", "--nofile=128:128"],
        &["--max-connections", "100000", "--header-read-timeout", "30"],
        &[],
    )
    .await;
    // More connections than the server has descriptors, fewer than it has descriptors plus its
    // listen queue (128), so that the kernel completes them all at once: the server accepts
    // until `accept` fails with EMFILE.
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(TcpStream::connect(&server.addr).await.unwrap());
    }
    let mut accept_errors = 0u32;
    while accept_errors == 0 {
        let line = timeout(BOUND, server.lines.recv())
            .await
            .expect("the server never ran out of descriptors")
            .unwrap();
        if line.contains("accept error") {
            assert!(line.contains("Too many open files"), "{line}");
            accept_errors += 1;
        }
    }
    // While they are held, the loop retries after a pause rather than in a tight loop.
    let held_for = Duration::from_secs(1);
    tokio::time::sleep(held_for).await;
    while let Ok(line) = server.lines.try_recv() {
        accept_errors += u32::from(line.contains("accept error"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        f64::from(accept_errors) <= 10.0 * (elapsed + 1.0),
        "{accept_errors} accept errors in {elapsed:.1} s: the accept loop spins"
    );
    drop(held);
    // Descriptors free up as the server sees the held connections close: it answers again.
    let mut stream = timeout(BOUND, async {
        loop {
            let mut stream = TcpStream::connect(&server.addr).await.unwrap();
            stream.write_all(REQUEST).await.unwrap();
            let mut first = [0u8; 1];
            if matches!(stream.peek(&mut first).await, Ok(1)) {
                return stream;
            }
        }
    })
    .await
    .expect("the server stopped answering after running out of descriptors");
    read_ok_answer(&mut stream).await;
}

/// `Strict-Transport-Security` of `GET /api/auth/ok` on a server started with `base_url`.
async fn hsts_with(base_url: &str, env: &[(&str, &str)]) -> Option<String> {
    let server = serve(&[], &["--base-url", base_url], env).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .get(format!("http://{}/api/auth/ok", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn hsts_is_sent_with_an_https_base_url_unless_turned_off_and_never_with_http() {
    assert_eq!(
        hsts_with("https://auth.example.com", &[]).await.as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(
        hsts_with("https://auth.example.com", &[("TESSERA_HSTS", "off")]).await,
        None
    );
    assert_eq!(hsts_with("http://auth.example.com", &[]).await, None);
}

/// Runs `tessera serve` in production with `env` and returns its error output, asserting that
/// it refused to start.
async fn production_refusal(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--addr", &free_addr()])
        .current_dir(dir.path())
        .env_clear()
        .env("TESSERA_DATA_DIR", dir.path())
        .env("TESSERA_ENV", "production")
        .env("BETTER_AUTH_URL", "https://auth.example.com")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output();
    let output = timeout(BOUND, output).await.unwrap().unwrap();
    assert!(!output.status.success(), "production started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn production_refuses_a_low_entropy_secret_and_says_why() {
    let stderr = production_refusal(&[("BETTER_AUTH_SECRET", &"a".repeat(40))]).await;
    assert!(
        stderr.contains("the secret looks low-entropy")
            && stderr.contains("refusing to start in production"),
        "{stderr}"
    );
    let stderr = production_refusal(&[("BETTER_AUTH_SECRET", &"tessera!".repeat(5))]).await;
    assert!(stderr.contains("low-entropy"), "{stderr}");
}

#[tokio::test]
async fn production_refuses_a_trusted_origin_that_matches_every_site_and_says_why() {
    let stderr = production_refusal(&[
        ("BETTER_AUTH_SECRET", SECRET),
        ("BETTER_AUTH_TRUSTED_ORIGINS", "https://app.example.com,*"),
    ])
    .await;
    assert!(
        stderr.contains(r#"BETTER_AUTH_TRUSTED_ORIGINS: "*" would trust every site"#),
        "{stderr}"
    );
}
