//! The database part of the three uncached PostgreSQL reads, before and after issue 16's cut in
//! round trips, measured in one process, interleaved (BENCHMARKS.md, "Round trips per request").
//!
//! "before" is the pool as it was (sqlx's default ping before every hand-out) and the task list
//! as a transaction (`BEGIN`, the settings, `SELECT`, `COMMIT`); "after" is `tessera_db::connect`
//! and the stores as they are now. The session read is the same statement on both: get-session
//! and `/token` each run exactly it when the session cache is off. One tokio thread runs
//! everything, so its CPU time is all the client's work; PostgreSQL's is its backends'.
//!
//! ```sh
//! cargo run --release -p tessera-server --example pg_round_trips -- [ROUNDS] [OPS]
//! ```
//! `TEST_DATABASE_URL` names the server (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! a scratch database is created there and dropped afterwards. Not a substitute for
//! `bench/run.sh --pg`: no HTTP, no load generator, one request at a time.

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tessera_db::Database;
use tessera_tasks::Task;
use tessera_tasks::UserId;
use tessera_tasks::domain::StatusFilter;
use tessera_tasks::store::SqlTaskStore;

const TOKEN: &str = "rt-ab-session-token-0123456789ab";
const USER: &str = "rt-ab-user";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(7), |a| a.parse())?;
    let ops: usize = args.next().map_or(Ok(4000), |a| a.parse())?;
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("tessera_rt_ab_{}", std::process::id());
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut admin)
        .await?;
    let mut url = url::Url::parse(&admin_url)?;
    url.set_path(&format!("/{name}"));
    let result = run(&mut admin, url.as_str(), &name, rounds, ops).await;
    sqlx::query(&format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#))
        .execute(&mut admin)
        .await?;
    result
}

async fn run(
    admin: &mut PgConnection,
    url: &str,
    name: &str,
    rounds: usize,
    ops: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let after = tessera_db::connect(url).await?;
    tessera_db::migrate(
        &after,
        [
            tessera_auth::store::migrations(),
            tessera_tasks::store::migrations(),
        ],
    )
    .await?;
    // The pool as it was: sqlx's default `test_before_acquire(true)`.
    let before = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await?;
    seed(&before).await?;

    let before_auth = tessera_auth::store::open(Database::Postgres(before.clone()));
    let after_auth = tessera_auth::store::open(after.clone());
    let before_tasks = SqlTaskStore::new(before.clone());
    let after_tasks = tessera_tasks::store::open(after.clone());
    let user = UserId::assume_verified(USER);

    println!("{rounds} rounds x {ops} sequential reads per variant, interleaved; medians:");
    for scenario in [
        "session + user (get-session, /token)",
        "tasks read (10 tasks)",
    ] {
        let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate which goes first, so drift in the machine's load hits both alike.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for variant in order {
                let backends = backend_pids(admin, name).await?;
                let (cpu0, pg0, t0) = (thread_cpu(), pg_cpu(&backends), Instant::now());
                for _ in 0..ops {
                    match (scenario.starts_with("session"), variant) {
                        (true, 0) => assert!(before_auth.find_session(TOKEN).await?.is_some()),
                        (true, _) => assert!(after_auth.find_session(TOKEN).await?.is_some()),
                        (false, 0) => {
                            assert_eq!(list_in_transaction(&before_tasks, &user).await?, 10)
                        }
                        (false, _) => assert_eq!(
                            after_tasks
                                .list(&user, StatusFilter::All)
                                .await?
                                .tasks()
                                .len(),
                            10
                        ),
                    }
                }
                let wall = t0.elapsed();
                // Backends the pool opened during the run count too.
                let backends = backend_pids(admin, name).await?;
                samples[variant].push(Sample {
                    wall_us: wall.as_secs_f64() * 1e6 / ops as f64,
                    cpu_us: (thread_cpu() - cpu0) as f64 / 1e3 / ops as f64,
                    pg_us: pg_cpu(&backends).saturating_sub(pg0) as f64 / 1e3 / ops as f64,
                });
            }
        }
        for (variant, label) in [(0, "before"), (1, "after")] {
            let s = &samples[variant];
            println!(
                "  {scenario:<38} {label:<6}  latency {:>6.1} µs  client CPU {:>6.1} µs  PostgreSQL CPU {:>6.1} µs",
                median(s.iter().map(|s| s.wall_us)),
                median(s.iter().map(|s| s.cpu_us)),
                median(s.iter().map(|s| s.pg_us)),
            );
        }
    }
    before.close().await;
    after.close().await;
    Ok(())
}

struct Sample {
    wall_us: f64,
    cpu_us: f64,
    pg_us: f64,
}

/// The list read as the store made it before: a transaction as `begin_as` opens it.
async fn list_in_transaction(
    store: &SqlTaskStore<sqlx::Postgres>,
    user: &UserId,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut tx = store.begin_as(user).await?;
    let tasks = sqlx::query_as::<_, Task>(
        r#"SELECT "id", "user_id", "title", "description", "completed", "created_at", "updated_at"
           FROM "task" WHERE "user_id" = $1 AND ($2 IS NULL OR "completed" = $2)
           ORDER BY "created_at" DESC, "id" DESC"#,
    )
    .bind(user.as_str())
    .bind(None::<bool>)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(tasks.len())
}

/// One user with one session and ten tasks, as the benchmark's.
async fn seed(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
           VALUES ($1, 'Bench', 'rt-ab@example.com', false, now(), now())"#,
    )
    .bind(USER)
    .execute(pool)
    .await?;
    sqlx::query(
        r#"INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId")
           VALUES ('rt-ab-session', now() + interval '7 days', $1, now(), now(), '127.0.0.1', 'ab', $2)"#,
    )
    .bind(TOKEN)
    .bind(USER)
    .execute(pool)
    .await?;
    sqlx::query(
        r#"INSERT INTO "task" ("id", "user_id", "title", "completed", "created_at", "updated_at")
           SELECT 'rt-ab-task-' || n, $1, 'task ' || n, n % 2 = 0, now() - n * interval '1 s', now()
           FROM generate_series(1, 10) AS n"#,
    )
    .bind(USER)
    .execute(pool)
    .await?;
    Ok(())
}

async fn backend_pids(admin: &mut PgConnection, name: &str) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .fetch_all(admin)
        .await
}

/// Nanoseconds on CPU: the first field of a `schedstat` file.
fn schedstat_ns(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// This thread's CPU time: the runtime is single-threaded, so all of the client's work.
fn thread_cpu() -> u64 {
    schedstat_ns("/proc/thread-self/schedstat")
}

/// The CPU time of PostgreSQL backends (a server on this machine).
fn pg_cpu(pids: &[i32]) -> u64 {
    pids.iter()
        .map(|pid| schedstat_ns(&format!("/proc/{pid}/schedstat")))
        .sum()
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
