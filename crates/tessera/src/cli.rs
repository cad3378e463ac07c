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
    /// How log lines are written: `text` (colours on a terminal) or `json` (one object per
    /// line, the request span's id in each, for log shippers).
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl From<LogFormat> for tessera_http::LogFormat {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Text => Self::Text,
            LogFormat::Json => Self::Json,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the auth server, the tasks API and the web app in one process.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Serve only the tasks API, verifying tokens of a separate auth server.
    Api(ApiArgs),
    /// List or rotate the JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the audit log, newest last.
    Audit(AuditArgs),
}

/// Deployment environment: production refuses weak or missing secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// Local development: a missing secret is generated and kept in the data directory.
    Development,
    /// Production: the secret must be configured and at least 32 bytes long.
    Production,
}

/// An on/off setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    /// Enabled.
    On,
    /// Disabled.
    Off,
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
    /// Address of the metrics listener (`GET /metrics`, Prometheus text format); off unless
    /// set. Never the public address: bind it where only the scraper reaches (loopback, a
    /// private interface).
    #[arg(long, env = "TESSERA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
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
    /// JWT signing algorithm: EdDSA, Ed25519 (RFC 9864: EdDSA under its new name), ES256, RS256
    /// or HS256 (signed with the secret).
    #[arg(long, env = "TESSERA_JWT_ALG", default_value = "EdDSA")]
    pub jwt_alg: String,
    /// JWT lifetime in seconds.
    #[arg(long, env = "TESSERA_JWT_EXPIRES_IN", default_value_t = 900)]
    pub jwt_expires_in: i64,
    /// Rotate the signing key this often, in seconds (Better Auth's `rotationInterval`). Off when unset.
    #[arg(long, env = "TESSERA_JWKS_ROTATION_INTERVAL")]
    pub jwks_rotation_interval: Option<u64>,
    /// How long a retired signing key stays in `/jwks`, in seconds (at least the JWT lifetime).
    #[arg(long, env = "TESSERA_JWKS_GRACE_PERIOD", default_value_t = 2_592_000)]
    pub jwks_grace_period: u64,
    /// How long, in seconds, a session read from the database answers again from memory; 0
    /// reads it every time. Default: 5 on SQLite without Redis (one process owns the database),
    /// otherwise 0, since another server (a second Tessera, Better Auth side by side) could end
    /// a session that this one would keep answering for the TTL.
    #[arg(long, env = "TESSERA_SESSION_CACHE_TTL")]
    pub session_cache_ttl: Option<u64>,
    /// How the session table keeps tokens: plain (as Better Auth does; needed to share the
    /// database with it) or sha256 (only each token's SHA-256: a copy of the database yields no
    /// usable token). Switching either way signs out the sessions made before.
    #[arg(long, env = "TESSERA_SESSION_TOKEN_STORAGE", default_value = "plain")]
    pub session_token_storage: String,
    /// Password hash format for new hashes: argon2id, or scrypt (Better Auth's, for side-by-side runs).
    #[arg(long, env = "TESSERA_PASSWORD_HASH", default_value = "argon2id")]
    pub password_hash: String,
    /// The password-hashing threads' scheduling: low (nice 10: hashing keeps about a tenth of
    /// a busy CPU; a burst of sign-ins adds milliseconds to other requests) or idle (SCHED_IDLE:
    /// requests always run first; anything saturating the CPU slows sign-ins to seconds).
    #[arg(long, env = "TESSERA_HASH_PRIORITY", default_value = "low")]
    pub hash_priority: String,
    /// The longest a password hash may wait for a hashing thread, in milliseconds (by the
    /// queue ahead of it and the measured cost of a hash); sign-in and sign-up beyond it answer
    /// 503 with `Retry-After` at once.
    #[arg(long, env = "TESSERA_HASH_QUEUE_MAX_WAIT_MS", default_value_t = 2000)]
    pub hash_queue_max_wait_ms: u64,
    /// Deployment environment.
    #[arg(long, env = "TESSERA_ENV", value_enum, default_value = "development")]
    pub env: Env,
    /// Name cookies `__Host-…` instead of `__Secure-…` (needs an https base URL).
    #[arg(long, env = "TESSERA_COOKIE_HOST_PREFIX")]
    pub cookie_host_prefix: bool,
    /// How long a password reset link is valid, in seconds (Better Auth's
    /// `resetPasswordTokenExpiresIn`).
    #[arg(long, env = "TESSERA_RESET_PASSWORD_TOKEN_EXPIRES_IN", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..))]
    pub reset_password_token_expires_in: u32,
    /// End every session of a user who sets a new password from a reset link (Better Auth's
    /// `revokeSessionsOnPasswordReset`).
    #[arg(long, env = "TESSERA_REVOKE_SESSIONS_ON_PASSWORD_RESET")]
    pub revoke_sessions_on_password_reset: bool,
    /// Refuse sign-in with an unverified email (403 `EMAIL_NOT_VERIFIED`); sign-up then opens no
    /// session (Better Auth's `emailAndPassword.requireEmailVerification`).
    #[arg(long, env = "TESSERA_REQUIRE_EMAIL_VERIFICATION")]
    pub require_email_verification: bool,
    /// Mail a verification link on sign-up: on or off. Default: on exactly when
    /// `TESSERA_REQUIRE_EMAIL_VERIFICATION` is (Better Auth's `emailVerification.sendOnSignUp`).
    #[arg(long, env = "TESSERA_VERIFICATION_SEND_ON_SIGN_UP")]
    pub verification_send_on_sign_up: Option<Toggle>,
    /// Mail a new verification link when an unverified sign-in is refused (Better Auth's
    /// `emailVerification.sendOnSignIn`).
    #[arg(long, env = "TESSERA_VERIFICATION_SEND_ON_SIGN_IN")]
    pub verification_send_on_sign_in: bool,
    /// Open a session when a verification link is followed (Better Auth's
    /// `emailVerification.autoSignInAfterVerification`).
    #[arg(long, env = "TESSERA_AUTO_SIGN_IN_AFTER_VERIFICATION")]
    pub auto_sign_in_after_verification: bool,
    /// Serve Better Auth's passkey plugin (WebAuthn): `/passkey/*` (off: those paths are 404).
    #[arg(long, env = "TESSERA_PASSKEY")]
    pub passkey: bool,
    /// The WebAuthn relying party id passkeys are bound to (the plugin's `rpID`). Default: the
    /// host of `BETTER_AUTH_URL` (of `TESSERA_PASSKEY_ORIGIN` when set).
    #[arg(long, env = "TESSERA_PASSKEY_RP_ID")]
    pub passkey_rp_id: Option<String>,
    /// The relying party name authenticators show (the plugin's `rpName`). Default: `Better Auth`.
    #[arg(long, env = "TESSERA_PASSKEY_RP_NAME")]
    pub passkey_rp_name: Option<String>,
    /// The origin the browser's pages run on, checked in every ceremony (the plugin's `origin`).
    /// Default: the origin of `BETTER_AUTH_URL`.
    #[arg(long, env = "TESSERA_PASSKEY_ORIGIN")]
    pub passkey_origin: Option<String>,
    /// How long a verification link is valid, in seconds (Better Auth's
    /// `emailVerification.expiresIn`).
    #[arg(long, env = "TESSERA_VERIFICATION_EXPIRES_IN", default_value_t = 3600, value_parser = clap::value_parser!(u32).range(1..))]
    pub verification_expires_in: u32,
    /// Serve `POST /change-email` (Better Auth's `user.changeEmail.enabled`).
    #[arg(long, env = "TESSERA_CHANGE_EMAIL")]
    pub change_email: bool,
    /// A verified user's email change is first approved from the current address (Better
    /// Auth's `user.changeEmail.sendChangeEmailConfirmation`).
    #[arg(long, env = "TESSERA_CHANGE_EMAIL_CONFIRMATION")]
    pub change_email_confirmation: bool,
    /// An unverified user's address changes at once (Better Auth's
    /// `user.changeEmail.updateEmailWithoutVerification`).
    #[arg(long, env = "TESSERA_UPDATE_EMAIL_WITHOUT_VERIFICATION")]
    pub update_email_without_verification: bool,
    /// Serve `POST /delete-user` and its callback (Better Auth's `user.deleteUser.enabled`).
    #[arg(long, env = "TESSERA_DELETE_USER")]
    pub delete_user: bool,
    /// Deleting an account is confirmed from a mailed link (Better Auth's
    /// `user.deleteUser.sendDeleteAccountVerification`).
    #[arg(long, env = "TESSERA_DELETE_USER_VERIFICATION")]
    pub delete_user_verification: bool,
    /// How long an account-deletion link is valid, in seconds (Better Auth's
    /// `user.deleteUser.deleteTokenExpiresIn`).
    #[arg(long, env = "TESSERA_DELETE_TOKEN_EXPIRES_IN", default_value_t = 86_400, value_parser = clap::value_parser!(u32).range(1..))]
    pub delete_token_expires_in: u32,
    /// Google's OAuth client id: with `GOOGLE_CLIENT_SECRET`, "Sign in with Google" at
    /// `/sign-in/social` (`provider: "google"`), called back at `/api/auth/callback/google`.
    #[arg(long, env = "GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    /// Google's OAuth client secret.
    #[arg(long, env = "GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,
    /// Scopes asked of Google besides `email profile openid` (comma-separated).
    #[arg(long, env = "TESSERA_GOOGLE_SCOPES", value_delimiter = ',')]
    pub google_scopes: Vec<String>,
    /// Generic OpenID Connect providers (comma-separated ids). Each is configured by
    /// `TESSERA_OAUTH_<ID>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` and optionally `_SCOPES`
    /// (the id upper-cased, `-` as `_`), signed in through `/sign-in/social` with
    /// `provider: <id>` and called back at `/api/auth/callback/<id>`.
    #[arg(long, env = "TESSERA_OAUTH_PROVIDERS", value_delimiter = ',')]
    pub oauth_providers: Vec<String>,
    /// Providers whose email is trusted for account linking even when they do not say it is
    /// verified (Better Auth's `account.accountLinking.trustedProviders`; comma-separated).
    #[arg(long, env = "TESSERA_OAUTH_TRUSTED_PROVIDERS", value_delimiter = ',')]
    pub oauth_trusted_providers: Vec<String>,
    /// Link a provider account to an existing user with the same verified email: on or off
    /// (Better Auth's `account.accountLinking.enabled`; default on).
    #[arg(long, env = "TESSERA_ACCOUNT_LINKING")]
    pub account_linking: Option<Toggle>,
    /// Store providers' access and refresh tokens sealed with the secret, in Better Auth's
    /// format (Better Auth's `account.encryptOAuthTokens`; default off, as Better Auth's).
    #[arg(long, env = "TESSERA_ENCRYPT_OAUTH_TOKENS")]
    pub encrypt_oauth_tokens: bool,
    /// Allow plain-http provider endpoints on non-loopback hosts (anyone on the path could
    /// then read the tokens or forge the keys); development only.
    #[arg(long, env = "TESSERA_OAUTH_ALLOW_INSECURE_HTTP")]
    pub oauth_allow_insecure_http: bool,
    /// Two-factor sign-in (Better Auth's twoFactor plugin): TOTP, codes by mail, backup codes,
    /// trusted devices. Off by default: its endpoints then answer 404.
    #[arg(long, env = "TESSERA_TWO_FACTOR")]
    pub two_factor: bool,
    /// The issuer authenticator apps show for the account (Better Auth's `issuer`); default:
    /// `TESSERA_APP_NAME`.
    #[arg(long, env = "TESSERA_TWO_FACTOR_ISSUER")]
    pub two_factor_issuer: Option<String>,
    /// Digits of a TOTP code (Better Auth's `totpOptions.digits`).
    #[arg(long, env = "TESSERA_TWO_FACTOR_TOTP_DIGITS", default_value_t = 6, value_parser = clap::value_parser!(u8).range(6..=8))]
    pub two_factor_totp_digits: u8,
    /// Seconds a TOTP code lasts (Better Auth's `totpOptions.period`).
    #[arg(long, env = "TESSERA_TWO_FACTOR_TOTP_PERIOD", default_value_t = 30, value_parser = clap::value_parser!(u64).range(15..=300))]
    pub two_factor_totp_period: u64,
    /// Minutes a code sent by mail stays valid (Better Auth's `otpOptions.period`).
    #[arg(long, env = "TESSERA_TWO_FACTOR_OTP_PERIOD", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub two_factor_otp_period: u32,
    /// Digits of a code sent by mail (Better Auth's `otpOptions.digits`).
    #[arg(long, env = "TESSERA_TWO_FACTOR_OTP_DIGITS", default_value_t = 6, value_parser = clap::value_parser!(u8).range(6..=10))]
    pub two_factor_otp_digits: u8,
    /// Seconds a trusted device skips the second factor (Better Auth's `trustDeviceMaxAge`).
    #[arg(long, env = "TESSERA_TWO_FACTOR_TRUST_DEVICE_MAX_AGE", default_value_t = 2_592_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub two_factor_trust_device_max_age: u32,
    /// Better Auth's per-path request limits: on or off. Default: on in production only.
    #[arg(long, env = "TESSERA_RATE_LIMIT")]
    pub rate_limit: Option<Toggle>,
    /// Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is believed.
    #[arg(long, env = "TESSERA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies write the client address into: `x-forwarded-for` or
    /// `forwarded` (RFC 7239). Only that one is read: a proxy passes the other one through.
    #[arg(
        long,
        env = "TESSERA_FORWARDED_HEADER",
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: tessera_auth::rate_limit::client_ip::ForwardedHeader,
    /// Redis for rate-limit counters and session revocations shared by every process; memory
    /// when unset.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// `Strict-Transport-Security` on every answer when the base URL is https: on or off.
    #[arg(long, env = "TESSERA_HSTS", value_enum, default_value = "on")]
    pub hsts: Toggle,
    /// The tasks API's caches.
    #[command(flatten)]
    pub tasks_caches: TasksCacheArgs,
    /// Limits on client connections.
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// Mail delivery.
    #[command(flatten)]
    pub mail: MailArgs,
}

/// Mail delivery (`tessera serve`): SMTP, else a signed webhook, else `.eml` files in
/// `<data dir>/mail` (development).
#[derive(Debug, Args, Clone)]
pub struct MailArgs {
    /// The SMTP server, e.g. `smtp://127.0.0.1:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host` (TLS from the start).
    #[arg(long, env = "TESSERA_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every mail, e.g. `Acme <no-reply@acme.example>`.
    #[arg(
        long,
        env = "TESSERA_MAIL_FROM",
        default_value = "Tessera <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Post each mail as signed JSON to this URL instead of SMTP (to send through the app's own
    /// provider).
    #[arg(long, env = "TESSERA_MAIL_WEBHOOK_URL", hide_env_values = true)]
    pub mail_webhook_url: Option<String>,
    /// The webhook's HMAC-SHA256 signing secret (required with the webhook).
    #[arg(long, env = "TESSERA_MAIL_WEBHOOK_SECRET", hide_env_values = true)]
    pub mail_webhook_secret: Option<String>,
    /// The app's name in every mail.
    #[arg(long, env = "TESSERA_APP_NAME", default_value = "Tessera")]
    pub app_name: String,
    /// A directory of template overrides: `<kind>.subject`, `<kind>.txt`, `<kind>.html`.
    #[arg(long, env = "TESSERA_MAIL_TEMPLATES")]
    pub mail_templates: Option<PathBuf>,
}

/// Limits on client connections (in `tessera serve` and `tessera api`), so slow or silent
/// clients cannot hold the server's connections and descriptors.
#[derive(Debug, Args, Clone)]
pub struct ConnectionArgs {
    /// Seconds a client has to send a request's headers, counted from when the connection is
    /// ready for one (opened, or the previous answer sent): a slower client, or a kept-alive
    /// connection with no new request, is disconnected. 1 to 30.
    #[arg(long, env = "TESSERA_HEADER_READ_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=30))]
    pub header_read_timeout: u64,
    /// Seconds a connection may go with no byte moving in either direction while none of its
    /// requests is being handled (a kept-alive connection waiting, a client that stopped reading
    /// its answer) before it is closed.
    #[arg(long, env = "TESSERA_IDLE_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Seconds a request body may pause between two of its pieces before the request fails.
    #[arg(long, env = "TESSERA_BODY_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,
    /// Seconds a request may take from its headers to its answer's headers (reading the body
    /// included) before it is answered 503.
    #[arg(long, env = "TESSERA_HANDLER_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub handler_timeout: u64,
    /// Most bytes a request body may have: a larger one is answered 413 before any handler
    /// reads it. A backstop: every route has its own, smaller limit (1 MiB), answered first.
    #[arg(long, env = "TESSERA_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=1024 * 1024 * 1024))]
    pub max_body_bytes: u64,
    /// Most connections open at once; further clients wait in the listen queue until one
    /// closes. Keep it below the process's open-file limit (`ulimit -n`).
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds the server goes on serving new clients after SIGTERM (or Ctrl-C): `tessera serve`
    /// with `/readyz` already answering 503, so the load balancer stops sending clients before
    /// connections are refused (`tessera api`, which has no `/readyz`, just keeps serving).
    /// 0 stops accepting at once. Default: 5 for `tessera serve` with `TESSERA_ENV=production`,
    /// else 0 (nothing balances a development server or `tessera api` by its `/readyz`).
    #[arg(long, env = "TESSERA_SHUTDOWN_DRAIN")]
    pub shutdown_drain: Option<u64>,
    /// Seconds the requests in flight when the drain ends may take to finish (the mail being
    /// sent too); new connections are refused from then on. The connections still busy then
    /// are closed.
    #[arg(long, env = "TESSERA_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
}

/// The tasks API's caches (in `tessera serve` and in `tessera api`).
#[derive(Debug, Args, Clone)]
pub struct TasksCacheArgs {
    /// How many verified bearer tokens the tasks API's guard remembers, so a token seen again
    /// skips its signature check (answers never change: see `GuardBuilder::token_cache`); 0 turns
    /// the cache off.
    #[arg(long, env = "TESSERA_TOKEN_CACHE", default_value_t = 4096)]
    pub token_cache: usize,
    /// How long, in seconds, a user's task list answers again from memory; this process's own
    /// writes are always seen at once, other processes' within this time. Default: 1 on SQLite,
    /// 0 (off) on PostgreSQL, where several API processes usually share the database.
    #[arg(long, env = "TESSERA_TASKS_CACHE_TTL")]
    pub tasks_cache_ttl: Option<u64>,
}

/// Settings of `tessera api`: the tasks API as its own service.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// Address to listen on.
    #[arg(long, env = "TESSERA_API_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Address of the metrics listener (`GET /metrics`, Prometheus text format); off unless
    /// set. Never the public address: bind it where only the scraper reaches (loopback, a
    /// private interface).
    #[arg(long, env = "TESSERA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Database settings.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The auth server's JWKS, e.g. `http://127.0.0.1:3000/api/auth/jwks` (EdDSA, ES256, RS256).
    /// Takes precedence over `--secret`.
    #[arg(long, env = "TESSERA_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The shared secret, for HS256 tokens (at least 32 bytes).
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Accepted `iss` values, comma-separated. Default with `--jwks-url`: the URL's origin.
    #[arg(long, env = "TESSERA_JWT_ISSUER", value_delimiter = ',')]
    pub issuer: Vec<String>,
    /// Accepted `aud` values, comma-separated. Default with `--jwks-url`: the URL's origin.
    #[arg(long, env = "TESSERA_JWT_AUDIENCE", value_delimiter = ',')]
    pub audience: Vec<String>,
    /// Clock-skew leeway for `exp` / `nbf`, in seconds (at most 60).
    #[arg(long, env = "TESSERA_JWT_LEEWAY", default_value_t = 0)]
    pub leeway: u64,
    /// Least time between two JWKS fetches, in seconds.
    #[arg(long, env = "TESSERA_JWKS_COOLDOWN", default_value_t = 10)]
    pub jwks_cooldown: u64,
    /// Allow a plain-http JWKS (or revocations) URL to a non-loopback host (private networks only).
    #[arg(long, env = "TESSERA_JWKS_ALLOW_HTTP")]
    pub allow_insecure_jwks_http: bool,
    /// The auth server's revocation feed, e.g. `http://127.0.0.1:3000/api/auth/revocations`,
    /// polled every 500 ms: tokens of a signed-out or revoked session are refused within a
    /// second. Off when unset: a token then stays valid until its `exp`.
    #[arg(long, env = "TESSERA_REVOCATIONS_URL")]
    pub revocations_url: Option<String>,
    /// The Redis the auth servers publish revocations to (their `REDIS_URL`): tokens of an
    /// ended session are refused as soon as it is published. Off when unset.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Browser origins allowed to call the API, comma-separated (the issuers are always allowed).
    #[arg(long, env = "TESSERA_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// The tasks API's caches.
    #[command(flatten)]
    pub tasks_caches: TasksCacheArgs,
    /// Limits on client connections.
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

/// `tessera keys …`: the JWT signing keys, read with the server's own settings (same flags and
/// environment), so the secret that seals them is the one the server uses.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Every stored key: kid, algorithm, created, expires, status. Never private material.
    List(ServeArgs),
    /// Make a new key current now; the previous one stops signing and stays published for the
    /// grace period. Running servers switch within 30 seconds.
    Rotate(RotateArgs),
}

/// Settings of `tessera keys rotate`.
#[derive(Debug, Args, Clone)]
pub struct RotateArgs {
    /// Algorithm of the new key: EdDSA, ES256 or RS256. Default: the configured `--jwt-alg`.
    #[arg(long)]
    pub alg: Option<String>,
    /// The server's settings.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Settings of `tessera audit`.
#[derive(Debug, Args, Clone)]
pub struct AuditArgs {
    /// Only this user's events.
    #[arg(long = "user")]
    pub user: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. `2026-08-01T00:00:00Z`).
    #[arg(long, value_parser = parse_rfc3339)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many events (the newest).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Database settings.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

fn parse_rfc3339(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e})"))
}
