//! The storage error: every store call's failure, classified once, its cause kept.

/// A storage failure, classified by what the caller can do about it. The sqlx error it came
/// from stays attached as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database did not answer (connection refused or lost, pool timed out or closed, the
    /// server shutting down): answer 503 and let the client retry.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A uniqueness rule was broken (e.g. the email is taken).
    #[error("unique constraint violated")]
    Conflict(#[source] sqlx::Error),
    /// A statement failed for another reason (a bad row, a broken constraint, a bug): logged,
    /// answered as 500 without detail.
    #[error("database query failed")]
    Query(#[source] sqlx::Error),
    /// Bringing the schema up to date failed.
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The SQLite URL did not parse.
    #[error("invalid SQLite URL")]
    InvalidUrl(#[source] sqlx::Error),
    /// The URL names neither backend. The URL itself is not repeated: it may hold a password.
    #[error("DATABASE_URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
}

impl StoreError {
    /// A stable machine code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "database_unavailable",
            Self::Conflict(_) => "unique_violation",
            Self::Query(_) => "query_failed",
            Self::Migration(_) => "migration_failed",
            Self::InvalidUrl(_) | Self::UnsupportedUrl => "invalid_database_url",
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(err),
            // PostgreSQL classes 08 (connection exception) and 57P (operator intervention:
            // admin shutdown, cannot connect now) mean the server is going away.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                Self::Unavailable(err)
            }
            _ => Self::Query(err),
        }
    }
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_timed_out_pool_is_unavailable_and_keeps_its_cause() {
        let err = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert_eq!(err.code(), "database_unavailable");
        let cause = err.source().expect("the sqlx error is kept");
        assert!(cause.to_string().contains("timed out"), "{cause}");
    }

    #[test]
    fn a_missing_row_is_a_query_failure_not_an_outage() {
        let err = StoreError::from(sqlx::Error::RowNotFound);
        assert!(matches!(err, StoreError::Query(sqlx::Error::RowNotFound)));
    }

    #[tokio::test]
    async fn a_duplicate_key_is_a_conflict() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        let insert = || sqlx::query("INSERT INTO t VALUES ('a')").execute(&pool);
        insert().await.unwrap();
        let err = StoreError::from(insert().await.unwrap_err());
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
}
