//! Command-line interface: every setting is a flag with an environment-variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Tessera: Better Auth-compatible authentication in Rust.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings of `serve`, when it runs as the default command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the auth server, the tasks API and the web app in one process.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
}

/// Deployment environment: production refuses weak or missing secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// Local development: a missing secret is generated and kept in the data directory.
    Development,
    /// Production: the secret must be configured and at least 32 bytes long.
    Production,
}

/// Where data lives.
#[derive(Debug, Args, Clone)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://path` or `postgres://…`. Default: `tessera.db` in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the SQLite file and the generated development secret.
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,
}

/// Settings of `tessera serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TESSERA_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Database settings.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The signing secret (at least 32 bytes).
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Versioned secrets for rotation, newest first: `2:new,1:old`.
    #[arg(long, env = "BETTER_AUTH_SECRETS", hide_env_values = true)]
    pub secrets: Option<String>,
    /// Public base URL of the auth server; its origin is the JWT issuer and audience.
    /// Default: `http://<addr>`.
    #[arg(long, env = "BETTER_AUTH_URL")]
    pub base_url: Option<String>,
    /// Extra trusted origins, comma-separated.
    #[arg(long, env = "BETTER_AUTH_TRUSTED_ORIGINS", value_delimiter = ',')]
    pub trusted_origins: Vec<String>,
    /// JWT signing algorithm: EdDSA, ES256, RS256 or HS256 (signed with the secret).
    #[arg(long, env = "TESSERA_JWT_ALG", default_value = "EdDSA")]
    pub jwt_alg: String,
    /// JWT lifetime in seconds.
    #[arg(long, env = "TESSERA_JWT_EXPIRES_IN", default_value_t = 900)]
    pub jwt_expires_in: i64,
    /// Password hash format for new hashes: argon2id, or scrypt (Better Auth's, for side-by-side runs).
    #[arg(long, env = "TESSERA_PASSWORD_HASH", default_value = "argon2id")]
    pub password_hash: String,
    /// Deployment environment.
    #[arg(long, env = "TESSERA_ENV", value_enum, default_value = "development")]
    pub env: Env,
}
