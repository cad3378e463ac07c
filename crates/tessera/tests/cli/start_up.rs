//! What `tessera serve` and `tessera api` refuse at start-up, through the real binary: the
//! secret rules of production, `TESSERA_COOKIE_HOST_PREFIX` without https, an API without a
//! key source. (How the settings name the cookies is tested in process, in
//! `crates/tessera-server/tests/app/cookies.rs`.)
//!
//! A server that starts announces its address on stdout; one that refuses exits with the reason
//! on stderr. Either way the test reads what the process said, never a sleep.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// 44 bytes: long enough everywhere.
const GOOD_SECRET: &str = "start-up-test-secret-0123456789abcdef012345";
/// 23 bytes: under the 32 production requires.
const SHORT_SECRET: &str = "short-secret-0123456789";
/// The refusal `tessera serve` gives for a secret under 32 bytes in production.
const SHORT_SECRET_REFUSAL: &str =
    "the secret is shorter than 32 bytes; refusing to start in production";

/// `tessera serve` on `addr` with exactly `env` (nothing inherited that could change the test),
/// in a fresh data directory.
fn serve(addr: &str, env: &[(&str, &str)], dir: &tempfile::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(["serve", "--addr", addr])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs a server that must refuse to start; returns what it wrote to stderr. A server that
/// starts instead fails the test as soon as it announces its address.
async fn refused(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve("127.0.0.1:0", env, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        assert!(
            !line.contains("listening on "),
            "it started ({env:?}): {line}"
        );
    }
    let output = child.wait_with_output().await.unwrap();
    assert!(!output.status.success(), "it exited 0 ({env:?})");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running server, killed when dropped.
struct Server {
    _child: Child,
    _dir: tempfile::TempDir,
}

/// Starts a server that must start, and waits for its "listening on" line.
async fn started(env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve("127.0.0.1:0", env, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("tessera serve exited before listening ({env:?})"));
        if line.contains("listening on ") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        _child: child,
        _dir: dir,
    }
}

#[tokio::test]
async fn in_production_a_secret_under_32_bytes_stops_start_up_and_says_why() {
    // One short secret among rotated ones is enough to refuse.
    let rotated = format!("2:{GOOD_SECRET},1:{SHORT_SECRET}");
    for secret in [
        ("BETTER_AUTH_SECRET", SHORT_SECRET),
        ("BETTER_AUTH_SECRETS", rotated.as_str()),
    ] {
        let env = [
            secret,
            ("TESSERA_ENV", "production"),
            ("BETTER_AUTH_URL", "https://auth.example.test"),
        ];
        let said = refused(&env).await;
        assert!(said.contains(SHORT_SECRET_REFUSAL), "{env:?}: {said}");
        assert!(
            !said.contains(SHORT_SECRET),
            "the secret was printed: {said}"
        );
    }
    let said = refused(&[
        ("TESSERA_ENV", "production"),
        ("BETTER_AUTH_URL", "https://auth.example.test"),
    ])
    .await;
    assert!(
        said.contains("BETTER_AUTH_SECRET is required in production"),
        "{said}"
    );
    // The same short secret is only a warning in development: production is what refuses.
    started(&[("BETTER_AUTH_SECRET", SHORT_SECRET)]).await;
}

#[tokio::test]
async fn the_host_prefix_without_an_https_base_url_stops_start_up() {
    let said = refused(&[
        ("BETTER_AUTH_SECRET", GOOD_SECRET),
        ("BETTER_AUTH_URL", "http://auth.example.test"),
        ("TESSERA_COOKIE_HOST_PREFIX", "true"),
    ])
    .await;
    assert!(
        said.contains(
            "TESSERA_COOKIE_HOST_PREFIX needs an https BETTER_AUTH_URL: browsers drop __Host- cookies that are not Secure"
        ),
        "{said}"
    );
}

#[tokio::test]
async fn the_api_refuses_to_start_without_a_key_source_or_with_a_short_secret() {
    for args in [
        vec!["api", "--addr", "127.0.0.1:0"],
        vec!["api", "--addr", "127.0.0.1:0", "--secret", "short"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TESSERA_DATA_DIR", dir.path())
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{args:?} started");
    }
}
