//! SIGTERM, as systemd and Kubernetes stop `tessera serve`: `/readyz` answers 503 at once,
//! new clients are served for the drain and refused after it, the request in flight still
//! gets its answer, and the process exits 0 within the grace.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{BOUND, ORIGIN, client, eventually, serve};

const DRAIN: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(10);

/// Reads until `stream` holds `end` or is closed, within [`BOUND`].
async fn read_until(stream: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        while !received.windows(end.len()).any(|w| w == end) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("no answer");
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_refuses_new_clients_answers_the_request_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let (drain, grace) = (DRAIN.as_secs().to_string(), GRACE.as_secs().to_string());
    let instance = serve(&[
        ("DATABASE_URL", &database),
        ("TESSERA_SHUTDOWN_DRAIN", &drain),
        ("TESSERA_SHUTDOWN_GRACE", &grace),
    ])
    .await;
    let addr = instance.url.trim_start_matches("http://").to_owned();
    let client = client();
    let readyz = || async {
        let response = client
            .get(format!("{}/readyz", instance.url))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(readyz().await.0, StatusCode::OK);

    // A sign-in whose body comes in two halves; the server has begun reading it (100 Continue).
    let body =
        json!({"email": "nobody@example.com", "password": "not the password 42"}).to_string();
    let (first, second) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/auth/sign-in/email HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\norigin: {ORIGIN}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let continued = read_until(&mut stream, b"\r\n\r\n").await;
    assert!(continued.starts_with(b"HTTP/1.1 100"), "{continued:?}");
    stream.write_all(first.as_bytes()).await.unwrap();

    instance.terminate();
    let signalled = Instant::now();
    let took = eventually(BOUND, "/readyz answers 503 shutting_down", || async {
        readyz().await
            == (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "shutting_down"}),
            )
    })
    .await;
    assert!(
        took < DRAIN,
        "{took:?}: answered, so accepted during the drain"
    );
    eventually(BOUND, "new connections are refused", || async {
        TcpStream::connect(&addr).await.is_err()
    })
    .await;
    let refused = signalled.elapsed();
    assert!(refused >= DRAIN - Duration::from_millis(100), "{refused:?}");
    eprintln!("/readyz 503 after {took:?}; new connections refused after {refused:?}");

    stream.write_all(second.as_bytes()).await.unwrap();
    let answer = read_until(&mut stream, b"INVALID_EMAIL_OR_PASSWORD").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let status = instance.exited(GRACE).await;
    assert!(status.success(), "{status}");
    eprintln!("exited 0 after {:?}", signalled.elapsed());
}
