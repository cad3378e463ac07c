//! Turns command-line settings into checked library configuration.
//!
//! In development a missing secret is generated once and kept in the data directory (with a
//! warning) so sessions survive restarts; in production a missing or short secret stops start-up.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::Duration;
use tessera_auth::AuthConfig;
use tessera_auth::password::{HashFormat, HashPriority};
use tessera_auth::secret::{Secret, SecretSet};

use tessera_auth::rate_limit::TrustedProxies;

use crate::cli::{DatabaseArgs, Env, ServeArgs, Toggle};

/// The smallest secret accepted, in bytes.
const MIN_SECRET_BYTES: usize = 32;
const SECRET_FILE: &str = ".tessera-secret";

/// The database URL: the given one, or `tessera.db` in the data directory.
pub fn database_url(args: &DatabaseArgs) -> anyhow::Result<String> {
    if let Some(url) = &args.database_url {
        return Ok(url.clone());
    }
    fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    Ok(format!(
        "sqlite://{}",
        args.data_dir.join("tessera.db").display()
    ))
}

/// Builds the auth configuration, enforcing the secret rules.
pub fn auth_config(args: &ServeArgs) -> anyhow::Result<AuthConfig> {
    let secrets = secrets(args)?;
    let base_url = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.addr));
    let base_origin = tessera_auth::origin::origin_of(&base_url)
        .with_context(|| format!("BETTER_AUTH_URL {base_url:?} is not an http(s) URL"))?;
    let mut trusted = args.trusted_origins.clone();
    if args.env == Env::Development {
        // A browser may reach a local server as localhost or 127.0.0.1; trust both spellings.
        let port = args.addr.port();
        trusted.push(format!("http://localhost:{port}"));
        trusted.push(format!("http://127.0.0.1:{port}"));
    }
    let jwt_alg = args.jwt_alg.parse().map_err(|_| {
        anyhow::anyhow!("TESSERA_JWT_ALG must be EdDSA, Ed25519, ES256, RS256 or HS256")
    })?;
    if args.jwt_expires_in <= 0 {
        bail!("TESSERA_JWT_EXPIRES_IN must be a positive number of seconds");
    }
    let password_hash: HashFormat = args
        .password_hash
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let hash_priority: HashPriority = args
        .hash_priority
        .parse()
        .map_err(|e: String| anyhow::anyhow!("TESSERA_HASH_PRIORITY: {e}"))?;
    let mut config = AuthConfig::new(secrets, base_origin);
    config.trusted_origins = trusted;
    config.jwt_alg = jwt_alg;
    config.jwt_expires_in = Duration::seconds(args.jwt_expires_in);
    config.jwks_rotation_interval = match args.jwks_rotation_interval {
        Some(0) => bail!("TESSERA_JWKS_ROTATION_INTERVAL must be a positive number of seconds"),
        Some(secs) => Some(seconds(secs, "TESSERA_JWKS_ROTATION_INTERVAL")?),
        None => None,
    };
    // KeyManager raises a grace period shorter than the JWT lifetime, with a warning.
    config.jwks_grace_period = seconds(args.jwks_grace_period, "TESSERA_JWKS_GRACE_PERIOD")?;
    config.password_hash = password_hash;
    config.hash_priority = hash_priority;
    let session_cache_ttl = args.session_cache_ttl.unwrap_or_else(|| {
        default_session_cache_ttl(
            args.database.database_url.as_deref(),
            args.redis_url.as_deref(),
        )
    });
    config.session.cache_ttl = seconds(session_cache_ttl, "TESSERA_SESSION_CACHE_TTL")?;
    if args.cookie_host_prefix && !config.secure_cookies() {
        bail!(
            "TESSERA_COOKIE_HOST_PREFIX needs an https BETTER_AUTH_URL: browsers drop __Host- cookies that are not Secure"
        );
    }
    config.host_only_cookies = args.cookie_host_prefix;
    config.rate_limit = match args.rate_limit {
        Some(toggle) => toggle == Toggle::On,
        None => args.env == Env::Production,
    };
    config.trusted_proxies = TrustedProxies::parse(&args.trusted_proxies).map_err(|bad| {
        anyhow::anyhow!("TESSERA_TRUSTED_PROXIES: {bad:?} is not an address or CIDR range")
    })?;
    Ok(config)
}

/// A count of seconds from the command line as a duration.
/// `TESSERA_SESSION_CACHE_TTL` when unset: 5 s where this process owns its database (SQLite,
/// the default one included, and no Redis shared with other processes), otherwise off, because
/// another server could end a session this one would keep answering for the TTL.
fn default_session_cache_ttl(database_url: Option<&str>, redis_url: Option<&str>) -> u64 {
    let owns_database =
        redis_url.is_none() && database_url.is_none_or(|url| url.starts_with("sqlite:"));
    if owns_database { 5 } else { 0 }
}

fn seconds(secs: u64, name: &str) -> anyhow::Result<Duration> {
    i64::try_from(secs)
        .ok()
        .and_then(Duration::try_seconds)
        .with_context(|| format!("{name} is too large"))
}

fn secrets(args: &ServeArgs) -> anyhow::Result<SecretSet> {
    let legacy = args
        .secret
        .clone()
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let set = match (&args.secrets, legacy) {
        (Some(list), legacy) if !list.trim().is_empty() => {
            SecretSet::parse_versioned(list, legacy)?
        }
        (_, Some(secret)) => SecretSet::single(secret),
        (_, None) if args.env == Env::Production => {
            bail!(
                "BETTER_AUTH_SECRET is required in production: set it to at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 32`)"
            )
        }
        (_, None) => SecretSet::single(development_secret(&args.database.data_dir)?),
    };
    for entry in set.all() {
        if entry.secret.len() < MIN_SECRET_BYTES {
            if args.env == Env::Production {
                bail!(
                    "the secret is shorter than {MIN_SECRET_BYTES} bytes; refusing to start in production"
                );
            }
            tracing::warn!(
                "the secret is shorter than {MIN_SECRET_BYTES} bytes; fine for development only"
            );
        }
    }
    Ok(set)
}

/// Reads the generated development secret, creating it (mode 0600) on first run.
fn development_secret(data_dir: &Path) -> anyhow::Result<Secret> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(existing) = fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= MIN_SECRET_BYTES {
            tracing::warn!(path = %path.display(), "BETTER_AUTH_SECRET is not set; using the generated development secret");
            return Ok(Secret::new(existing));
        }
    }
    fs::create_dir_all(data_dir)?;
    let secret = tessera_auth::ids::generate_id(48);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    tracing::warn!(path = %path.display(), "BETTER_AUTH_SECRET is not set; generated a development secret. Set BETTER_AUTH_SECRET in production.");
    Ok(Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cache_is_on_by_default_only_where_one_process_owns_a_sqlite_database() {
        assert_eq!(default_session_cache_ttl(None, None), 5);
        assert_eq!(
            default_session_cache_ttl(Some("sqlite:///srv/t.db"), None),
            5
        );
        assert_eq!(
            default_session_cache_ttl(Some("postgres://db/tessera"), None),
            0
        );
        assert_eq!(
            default_session_cache_ttl(None, Some("redis://127.0.0.1:6379")),
            0
        );
    }
}
