//! Opening the database: the pool options Tessera runs with on each backend.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{StoreError, StoreResult};

/// How long a request waits for a pooled connection before the store answers "unavailable":
/// short, so a database that stopped answering turns into a prompt 503 instead of a hung request.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
///
/// sqlx pings every connection when it comes back to the pool, so one idle for less than this
/// was seen alive that recently; pinging it again on the way out would add a round trip to
/// every statement under load (measured in BENCHMARKS.md, "Round trips per request"). A
/// connection the server dropped within that second fails its next statement once, answered
/// as unavailable (503), and is not returned to the pool.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A pool on either backend. Clones share the pool, so the auth server and the tasks API can
/// run over one.
#[derive(Clone, Debug)]
pub enum Database {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl From<SqlitePool> for Database {
    fn from(pool: SqlitePool) -> Self {
        Self::Sqlite(pool)
    }
}

impl From<PgPool> for Database {
    fn from(pool: PgPool) -> Self {
        Self::Postgres(pool)
    }
}

impl Database {
    /// Checks the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    /// Closes the pool; every store over it then fails as unavailable.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens the database named by `url`: `postgres://…` (or `postgresql://…`) or `sqlite:…`.
///
/// SQLite is created if missing and runs in WAL mode with `synchronous = NORMAL` (durable
/// across crashes of the process, which is what WAL needs), a 5 s busy timeout so concurrent
/// writers wait for each other instead of failing, and foreign keys enforced (Better Auth's
/// schema declares them; SQLite ignores them unless asked).
pub async fn connect(url: &str) -> StoreResult<Database> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        Ok(Database::Postgres(pool))
    } else if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::InvalidUrl)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Database::Sqlite(pool))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_of_another_database_is_refused_without_echoing_it() {
        let err = connect("mysql://user:hunter2@localhost/db")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl), "{err:?}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn a_sqlite_database_is_created_with_foreign_keys_and_wal() {
        let dir = std::env::temp_dir().join(format!("tessera-db-connect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("new.db").display());
        let Database::Sqlite(pool) = connect(&url).await.unwrap() else {
            panic!("a sqlite: URL opens SQLite")
        };
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((foreign_keys, journal.as_str()), (1, "wal"));
    }
}
