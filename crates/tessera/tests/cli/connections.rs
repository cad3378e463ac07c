//! What only a process of its own can show: the real `tessera` binary runs out of file
//! descriptors and its accept loop only pauses. (In process, the limit would be the whole test
//! binary's.) Every other connection behaviour — timeouts, the cap, the body limit — is tested
//! on the assembled server in process, through `spawn_app()`
//! (`crates/tessera-server/tests/app/connections.rs`).

use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::helpers::{BOUND, serve};

#[tokio::test]
async fn out_of_file_descriptors_the_server_backs_off_and_answers_again_once_they_free_up() {
    let mut server = serve(&[
        ("TESSERA_MAX_CONNECTIONS", "100000"),
        ("TESSERA_HEADER_READ_TIMEOUT", "30"),
    ])
    .await;
    // The limit is lowered on the running process (util-linux `prlimit --pid`), so that start-up
    // is not what runs out.
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &server.pid().to_string(), "--nofile=128:128"])
        .status()
        .expect("prlimit (Debian package util-linux)");
    assert!(status.success(), "prlimit: {status}");
    let addr = server.url.trim_start_matches("http://").to_owned();
    // More connections than the server has descriptors, fewer than it has descriptors plus its
    // listen queue (128), so that the kernel completes them all at once: the server accepts
    // until `accept` fails with EMFILE.
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(TcpStream::connect(&addr).await.unwrap());
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
    // While they are held, the loop retries after a pause rather than in a tight loop: over a
    // second of wall time it may log about ten errors a second, a spinning loop thousands.
    tokio::time::sleep(Duration::from_secs(1)).await;
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
    let url = format!("{}/api/auth/ok", server.url);
    let body = timeout(BOUND, async {
        loop {
            if let Ok(answer) = reqwest::get(&url).await
                && answer.status() == 200
            {
                return answer.text().await.unwrap();
            }
        }
    })
    .await
    .expect("the server stopped answering after running out of descriptors");
    assert_eq!(body, r#"{"ok":true}"#);
}
