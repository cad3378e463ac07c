//! [`ApiError`]: why `tessera api` (or the tasks half `tessera serve` reuses) could not start
//! or stopped serving. Each variant keeps its cause (`#[source]`) and has a stable
//! [`code`](ApiError::code) for scripts and tests; the message says which setting to fix.

use tessera_guard::ConfigError;
use tessera_http::ListenError;
use tessera_tasks::store::StoreError;

/// Start-up and serving errors of the tasks API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Neither a JWKS URL nor a shared secret was configured.
    #[error("tessera api needs --jwks-url URL (key pairs) or --secret SECRET (HS256)")]
    NoKeySource,
    /// The JWKS URL has no http(s) origin to take `iss` and `aud` from.
    #[error("--jwks-url {url:?} is not an http(s) URL")]
    JwksUrlNotHttp {
        /// The URL as given.
        url: String,
    },
    /// A key or revocation source the guard refused (plain http to a remote host, a weak
    /// secret, not a Redis URL).
    #[error("{setting}")]
    Guard {
        /// The setting at fault (`--jwks-url`, `--secret / BETTER_AUTH_SECRET`, `REDIS_URL`…).
        setting: &'static str,
        /// What the guard said.
        #[source]
        source: ConfigError,
    },
    /// The tasks database could not be reached.
    #[error("connecting the tasks store")]
    Connect(#[source] StoreError),
    /// The tasks database could not be migrated.
    #[error("migrating the tasks store")]
    Migrate(#[source] StoreError),
    /// `TESSERA_TASKS_CACHE_TTL` does not fit a duration.
    #[error("TESSERA_TASKS_CACHE_TTL is too large")]
    CacheTtlTooLarge,
    /// The listener could not be bound, or failed while serving.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

impl ApiError {
    /// A stable machine code, one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoKeySource => "API_NO_KEY_SOURCE",
            Self::JwksUrlNotHttp { .. } => "API_JWKS_URL_NOT_HTTP",
            Self::Guard { .. } => "API_GUARD_CONFIG",
            Self::Connect(_) => "API_DATABASE_UNREACHABLE",
            Self::Migrate(_) => "API_MIGRATION_FAILED",
            Self::CacheTtlTooLarge => "API_CACHE_TTL_TOO_LARGE",
            Self::Listen(_) => "API_LISTEN_FAILED",
        }
    }
}
