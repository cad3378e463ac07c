//! [`ServerError`]: why `tessera serve` (or `tessera migrate`) could not start or stopped
//! serving. Each variant keeps its cause (`#[source]`) and has a stable
//! [`code`](ServerError::code); the message names what was being done.

use tessera_api::ApiError;
use tessera_auth::rate_limit::CounterError;
use tessera_auth::revocation::RevocationError;
use tessera_db::StoreError;
use tessera_http::ListenError;
use tessera_mail::MailSettingsError;

/// Start-up and serving errors of the composition root.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be reached.
    #[error("connecting to the database")]
    Connect(#[source] StoreError),
    /// A store's migrations failed.
    #[error("migrating the {store} store")]
    Migrate {
        /// `auth`, `tasks` or `mail`.
        store: &'static str,
        /// What the database said.
        #[source]
        source: StoreError,
    },
    /// Redis (rate-limit counters) could not be reached.
    #[error("connecting to Redis for the rate-limit counters")]
    RedisCounters(#[source] CounterError),
    /// Redis (revocations published to other processes) could not be reached.
    #[error("connecting to Redis to publish revocations")]
    RedisRevocations(#[source] RevocationError),
    /// Redis (the readiness check and the other instances' announcements) could not be
    /// reached, or its URL is not one.
    #[error("connecting to Redis to follow the other instances")]
    RedisHealth(#[source] redis::RedisError),
    /// The tasks half, shared with `tessera api`, refused its settings.
    #[error("setting up the tasks API")]
    Tasks(#[source] ApiError),
    /// The mail settings cannot work (a bad SMTP URL, a webhook without its secret…).
    #[error("configuring mail delivery")]
    Mail(#[source] MailSettingsError),
    /// The listener could not be bound, or failed while serving.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

impl ServerError {
    /// A stable machine code, one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Connect(_) => "SERVER_DATABASE_UNREACHABLE",
            Self::Migrate { .. } => "SERVER_MIGRATION_FAILED",
            Self::RedisCounters(_) => "SERVER_REDIS_COUNTERS_UNREACHABLE",
            Self::RedisRevocations(_) => "SERVER_REDIS_REVOCATIONS_UNREACHABLE",
            Self::RedisHealth(_) => "SERVER_REDIS_UNREACHABLE",
            Self::Tasks(_) => "SERVER_TASKS_CONFIG",
            Self::Mail(_) => "SERVER_MAIL_CONFIG",
            Self::Listen(_) => "SERVER_LISTEN_FAILED",
        }
    }
}
