//! Starting `tessera` processes (and the PostgreSQL clusters and Redis servers they run on)
//! for the tests, and the HTTP calls the tests make to them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// Every instance's secret (one service: one secret).
pub const SECRET: &str = "cli-test-secret-0123456789abcdef0123456789";
/// The service's public URL, the same for every instance behind the balancer.
pub const ORIGIN: &str = "http://tessera.test";
/// Far longer than anything under test should take.
pub const BOUND: Duration = Duration::from_secs(20);

/// A running `tessera serve`, killed when dropped.
pub struct Instance {
    /// Its own address (`http://127.0.0.1:port`).
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Instance {
    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|status| status.is_none())
    }

    /// Kills it with SIGKILL and waits for it to be gone.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// A `tessera` command with only the environment a test gives it.
pub fn tessera(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", dir)
        .env("TESSERA_ENV", "development")
        .env("RUST_LOG", "warn")
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("BETTER_AUTH_URL", ORIGIN)
        .envs(env.iter().copied())
        .kill_on_drop(true);
    command
}

/// Starts `tessera serve` on a free port with `env`, waiting for its "listening on" line.
pub async fn serve(env: &[(&str, &str)]) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = tessera(dir.path(), env)
        .args(["serve", "--addr", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(BOUND, async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("tessera serve exited before listening");
            if let Some((_, url)) = line.split_once("listening on ") {
                return url.trim().to_owned();
            }
        }
    })
    .await
    .expect("tessera serve did not start");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Instance {
        url,
        child,
        _dir: dir,
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shared Redis of the tests: `TEST_REDIS_URL`, or the local default.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A client that never goes through a proxy, with a short timeout per request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// An email no earlier run used (counters in the shared Redis outlive a run).
pub fn unique_email(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{nanos}-{}@example.com", std::process::id())
}

/// The password every test user signs up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// `POST /api/auth/sign-up/email` on `at`; the answer.
pub async fn sign_up_raw(
    client: &reqwest::Client,
    at: &str,
    email: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{at}/api/auth/sign-up/email"))
        .header("origin", ORIGIN)
        .json(&json!({ "name": "Ada", "email": email, "password": PASSWORD }))
        .send()
        .await
}

/// Signs `email` up on `at`; the session cookie (`name=value`).
pub async fn sign_up(client: &reqwest::Client, at: &str, email: &str) -> String {
    let response = sign_up_raw(client, at, email).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    session_cookie(&response).expect("a session cookie")
}

/// Signs `cookie`'s session out on `at`; the status.
pub async fn sign_out(client: &reqwest::Client, at: &str, cookie: &str) -> StatusCode {
    client
        .post(format!("{at}/api/auth/sign-out"))
        .header("origin", ORIGIN)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

/// The `name=value` of the session cookie `response` sets.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("better-auth.session_token="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// `GET path` on `at` with `cookie`; the status and the JSON body (`null` when none).
pub async fn get_with_cookie(
    client: &reqwest::Client,
    at: &str,
    path: &str,
    cookie: &str,
) -> (StatusCode, Value) {
    let response = client
        .get(format!("{at}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` on `at` with the bearer `token`; the status.
pub async fn get_with_token(
    client: &reqwest::Client,
    at: &str,
    path: &str,
    token: &str,
) -> StatusCode {
    client
        .get(format!("{at}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Polls `check` until it holds, failing after `within`; returns how long it took.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where the Debian `postgresql` package keeps `initdb` and `pg_ctl` (scripts/lib.sh looks for
/// them the same way), or `PATH` when they are there.
pub fn pg_bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("pg_ctl").is_file());
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries (Debian package postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop().expect("pg_ctl in /usr/lib/postgresql/*/bin")
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary directory, 127.0.0.1 on a
/// free port), which the test stops and starts again; stopped by its PID when dropped.
pub struct ThrowawayPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl ThrowawayPostgres {
    /// initdb and start.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = pg_bin_dir();
        let pg = Self {
            dir,
            bin,
            port: free_port(),
        };
        // PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`.
        if is_root() {
            run(std::process::Command::new("chown")
                .arg("postgres:")
                .arg(pg.dir.path()));
        }
        let data = pg.data();
        run(pg.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]));
        pg.resume();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let path = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        };
        command
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it again (on the same port and data), waiting until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(log)
            .args(["-w", "-t", "60", "-o", &options, "start"]));
    }

    /// Stops it at once, as a crash or a lost host would (`pg_ctl stop -m immediate`).
    pub fn halt(&self) {
        run(self.command("pg_ctl").arg("-D").arg(self.data()).args([
            "-m",
            "immediate",
            "-w",
            "stop",
        ]));
    }

    fn pid(&self) -> Option<String> {
        let pidfile = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        pidfile.lines().next().map(str::to_owned)
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
        }
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(command: &mut std::process::Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?}: {status}");
}

/// A redis-server of the test's own on a free port of 127.0.0.1, which the test stops and
/// starts again (same port); stopped by its PID when dropped.
pub struct ThrowawayRedis {
    child: Option<std::process::Child>,
    port: u16,
}

impl ThrowawayRedis {
    /// Starts one.
    pub fn start() -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
        };
        redis.resume();
        redis
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again), waiting until it accepts connections.
    pub fn resume(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + BOUND;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many members the sorted set `key` holds (`redis-cli ZCARD`, Debian redis-tools).
    pub fn zcard(&self, key: &str) -> u64 {
        let out = std::process::Command::new("redis-cli")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "ZCARD",
                key,
            ])
            .output()
            .expect("redis-cli (Debian package redis-tools)");
        assert!(out.status.success(), "redis-cli: {}", out.status);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// Kills it.
    pub fn halt(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.halt();
    }
}
