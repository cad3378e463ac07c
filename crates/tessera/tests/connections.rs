//! What only a process of its own can show: the real `tessera` binary, run under `prlimit`,
//! runs out of file descriptors and its accept loop only pauses. (An in-process test cannot:
//! the limit would be the whole test binary's.) Every other connection behaviour — timeouts,
//! the cap, the body limit — is tested on the assembled server in process, through
//! `spawn_app()` (`crates/tessera-server/tests/app/connections.rs`); production's refusals of
//! weak settings are unit tests of the settings (`crates/tessera/src/settings.rs`).
//!
//! Every wait is bounded, and what is waited for is an event (a log line, an answer).

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

const SECRET: &str = "connections-test-secret-0123456789abcdefXYZ";
/// Far longer than any timeout under test: reaching it means the server did not act.
const BOUND: Duration = Duration::from_secs(15);

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
    let url = format!("http://{}/api/auth/ok", server.addr);
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
