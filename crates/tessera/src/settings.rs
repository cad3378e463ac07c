//! Turns command-line settings into checked library configuration.
//!
//! In development a missing secret is generated once and kept in the data directory (with a
//! warning) so sessions survive restarts; in production a missing, short or plainly low-entropy
//! secret stops start-up, and so does a trusted origin that would trust every site.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::Duration;
use tessera_api::{ApiSettings, KeySettings, TasksSettings};
use tessera_auth::AuthConfig;
use tessera_auth::features::change_email::ChangeEmailSettings;
use tessera_auth::features::delete_user::DeleteUserSettings;
use tessera_auth::features::email_verification::EmailVerificationSettings;
use tessera_auth::features::passkey::PasskeySettings;
use tessera_auth::features::social::{ProviderKind, ProviderSettings, SocialSettings};
use tessera_auth::features::two_factor::TwoFactorSettings;
use tessera_auth::password::{HashFormat, HashPriority};
use tessera_auth::rate_limit::TrustedProxies;
use tessera_auth::secret::{Secret, SecretSet};
use tessera_http::ConnectionLimits;
use tessera_mail::MailSettings;
use tessera_server::ServerSettings;

use crate::cli::{ApiArgs, ConnectionArgs, DatabaseArgs, Env, ServeArgs, TasksCacheArgs, Toggle};

/// The smallest secret accepted, in bytes.
const MIN_SECRET_BYTES: usize = 32;
/// The least estimated entropy of a secret accepted in production, in bits (Better Auth's own
/// threshold, at which it only warns): see [`estimated_entropy_bits`].
const MIN_SECRET_ENTROPY_BITS: f64 = 120.0;
const SECRET_FILE: &str = ".tessera-secret";

/// `tessera serve`'s settings.
pub fn server(args: &ServeArgs) -> anyhow::Result<ServerSettings> {
    let mail = mail(args);
    if args.env == Env::Production && args.require_email_verification && !mail.delivers() {
        // Every new account would wait for a link that is never sent.
        anyhow::bail!(
            "TESSERA_REQUIRE_EMAIL_VERIFICATION needs mail delivery: set TESSERA_SMTP_URL or TESSERA_MAIL_WEBHOOK_URL; refusing to start in production"
        );
    }
    if args.env == Env::Production && args.delete_user_verification && !mail.delivers() {
        // Every deletion would be refused for want of the confirmation mail.
        anyhow::bail!(
            "TESSERA_DELETE_USER_VERIFICATION needs mail delivery: set TESSERA_SMTP_URL or TESSERA_MAIL_WEBHOOK_URL; refusing to start in production"
        );
    }
    Ok(ServerSettings {
        addr: args.addr,
        auth: auth_config(args)?,
        database_url: database_url(&args.database)?,
        redis_url: args.redis_url.clone(),
        tasks: tasks(&args.tasks_caches),
        hsts: args.hsts == Toggle::On,
        limits: limits(&args.connections, args.env == Env::Production),
        mail,
        metrics_addr: args.metrics_addr,
    })
}

/// The mail settings; in development `.eml` files go to `<data dir>/mail` when neither SMTP nor
/// a webhook is set; in production mail is then not delivered at all (no files nobody reads).
fn mail(args: &ServeArgs) -> MailSettings {
    let mail = &args.mail;
    MailSettings {
        smtp_url: mail.smtp_url.clone(),
        from: mail.mail_from.clone(),
        webhook_url: mail.mail_webhook_url.clone(),
        webhook_secret: mail.mail_webhook_secret.clone(),
        app_name: mail.app_name.clone(),
        templates: mail.mail_templates.clone(),
        eml_dir: (args.env != Env::Production).then(|| args.database.data_dir.join("mail")),
        poll: tessera_mail::DEFAULT_POLL,
        max_attempts: tessera_mail::DEFAULT_MAX_ATTEMPTS,
    }
}

/// `tessera api`'s settings.
pub fn api(args: &ApiArgs) -> anyhow::Result<ApiSettings> {
    let keys = match (&args.jwks_url, &args.secret) {
        (Some(url), _) => KeySettings::Jwks {
            url: url.clone(),
            cooldown: std::time::Duration::from_secs(args.jwks_cooldown),
        },
        (None, Some(secret)) => KeySettings::Secret(secret.clone()),
        (None, None) => KeySettings::Missing,
    };
    Ok(ApiSettings {
        addr: args.addr,
        database_url: database_url(&args.database)?,
        keys,
        issuers: args.issuer.clone(),
        audiences: args.audience.clone(),
        leeway: std::time::Duration::from_secs(args.leeway),
        allow_insecure_http: args.allow_insecure_jwks_http,
        revocations_url: args.revocations_url.clone(),
        redis_url: args.redis_url.clone(),
        cors_origins: args.cors_origins.clone(),
        tasks: tasks(&args.tasks_caches),
        limits: limits(&args.connections, false),
        metrics_addr: args.metrics_addr,
    })
}

fn tasks(args: &TasksCacheArgs) -> TasksSettings {
    TasksSettings {
        token_cache: args.token_cache,
        list_cache_ttl: args.tasks_cache_ttl,
    }
}

/// The connection limits; `balanced` (`tessera serve` in production, behind a balancer that
/// polls `/readyz`) sets the default shutdown drain.
fn limits(args: &ConnectionArgs, balanced: bool) -> ConnectionLimits {
    /// Long enough for a balancer probing every 2 s to see two failures.
    const BALANCED_DRAIN_SECS: u64 = 5;
    let seconds = std::time::Duration::from_secs;
    let default_drain = if balanced { BALANCED_DRAIN_SECS } else { 0 };
    ConnectionLimits {
        header_read_timeout: seconds(args.header_read_timeout),
        idle_timeout: seconds(args.idle_timeout),
        body_timeout: seconds(args.body_timeout),
        handler_timeout: seconds(args.handler_timeout),
        // At most 1 GiB (the parser's range): fits `usize` on every supported target.
        max_body_bytes: usize::try_from(args.max_body_bytes).unwrap_or(usize::MAX),
        max_connections: args.max_connections,
        shutdown_drain: seconds(args.shutdown_drain.unwrap_or(default_drain)),
        shutdown_grace: seconds(args.shutdown_grace),
    }
}

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
    if let Some(everyone) = trusted.iter().find(|o| trusts_every_site(o)) {
        if args.env == Env::Production {
            bail!(
                "BETTER_AUTH_TRUSTED_ORIGINS: {everyone:?} would trust every site with credentialed requests; refusing to start in production. List the origins themselves, or a wildcard under a domain you own (https://*.example.com)"
            );
        }
        tracing::warn!(
            origin = %everyone,
            "a trusted origin matches every site; fine for development only"
        );
    }
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
    config.jwt.alg = jwt_alg;
    config.jwt.expires_in = Duration::seconds(args.jwt_expires_in);
    config.jwt.rotation_interval = match args.jwks_rotation_interval {
        Some(0) => bail!("TESSERA_JWKS_ROTATION_INTERVAL must be a positive number of seconds"),
        Some(secs) => Some(seconds(secs, "TESSERA_JWKS_ROTATION_INTERVAL")?),
        None => None,
    };
    // KeyManager raises a grace period shorter than the JWT lifetime, with a warning.
    config.jwt.grace_period = seconds(args.jwks_grace_period, "TESSERA_JWKS_GRACE_PERIOD")?;
    config.email_password.password_hash = password_hash;
    config.email_password.hash_priority = hash_priority;
    config.email_password.hash_queue.max_wait =
        std::time::Duration::from_millis(args.hash_queue_max_wait_ms);
    let session_cache_ttl = args.session_cache_ttl.unwrap_or_else(|| {
        default_session_cache_ttl(
            args.database.database_url.as_deref(),
            args.redis_url.as_deref(),
        )
    });
    config.session.cache_ttl = seconds(session_cache_ttl, "TESSERA_SESSION_CACHE_TTL")?;
    config.session.token_storage = args
        .session_token_storage
        .parse()
        .map_err(|e: String| anyhow::anyhow!("TESSERA_SESSION_TOKEN_STORAGE: {e}"))?;
    if args.cookie_host_prefix && !config.secure_cookies() {
        bail!(
            "TESSERA_COOKIE_HOST_PREFIX needs an https BETTER_AUTH_URL: browsers drop __Host- cookies that are not Secure"
        );
    }
    config.host_only_cookies = args.cookie_host_prefix;
    config.password_reset.token_lifetime_secs = args.reset_password_token_expires_in;
    config.password_reset.revoke_sessions = args.revoke_sessions_on_password_reset;
    config.email_verification = EmailVerificationSettings {
        require_email_verification: args.require_email_verification,
        send_on_sign_up: args
            .verification_send_on_sign_up
            .map(|toggle| toggle == Toggle::On),
        send_on_sign_in: args.verification_send_on_sign_in,
        auto_sign_in_after_verification: args.auto_sign_in_after_verification,
        expires_in_secs: args.verification_expires_in,
    };
    config.passkey = passkey_settings(args, &config.base_origin)?;
    config.change_email = ChangeEmailSettings {
        enabled: args.change_email,
        send_confirmation: args.change_email_confirmation,
        update_without_verification: args.update_email_without_verification,
    };
    config.delete_user = DeleteUserSettings {
        enabled: args.delete_user,
        send_verification: args.delete_user_verification,
        token_lifetime_secs: args.delete_token_expires_in,
    };
    config.social = social(args, |name| std::env::var(name).ok())?;
    if args.env == Env::Production && config.social.allow_insecure_http {
        bail!(
            "TESSERA_OAUTH_ALLOW_INSECURE_HTTP would send provider tokens in the clear; refusing to start in production"
        );
    }
    config.two_factor = TwoFactorSettings {
        enabled: args.two_factor,
        issuer: args
            .two_factor_issuer
            .clone()
            .unwrap_or_else(|| args.mail.app_name.clone()),
        app_name: args.mail.app_name.clone(),
        totp_digits: args.two_factor_totp_digits,
        totp_period_secs: args.two_factor_totp_period,
        otp_period_minutes: args.two_factor_otp_period,
        otp_digits: args.two_factor_otp_digits,
        trust_device_max_age_secs: args.two_factor_trust_device_max_age,
        ..TwoFactorSettings::default()
    };
    config.rate_limit = match args.rate_limit {
        Some(toggle) => toggle == Toggle::On,
        None => args.env == Env::Production,
    };
    config.trusted_proxies = TrustedProxies::parse(&args.trusted_proxies)
        .map_err(|bad| {
            anyhow::anyhow!("TESSERA_TRUSTED_PROXIES: {bad:?} is not an address or CIDR range")
        })?
        .with_header(args.forwarded_header);
    Ok(config)
}

/// The passkey settings, checked: the origin must be an http(s) origin, and the RP id its host
/// or a parent domain of it (WebAuthn's rule: browsers refuse any other, so every ceremony would
/// fail).
fn passkey_settings(args: &ServeArgs, base_origin: &str) -> anyhow::Result<PasskeySettings> {
    let origin = args.passkey_origin.as_deref().unwrap_or(base_origin);
    let url = url::Url::parse(origin)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .with_context(|| format!("TESSERA_PASSKEY_ORIGIN: {origin:?} is not an http(s) origin"))?;
    let host = url.host_str().unwrap_or_default();
    if let Some(rp_id) = &args.passkey_rp_id
        && !(host == rp_id || host.ends_with(&format!(".{rp_id}")))
    {
        bail!("TESSERA_PASSKEY_RP_ID: {rp_id:?} is neither {host:?} nor a parent domain of it");
    }
    Ok(PasskeySettings {
        enabled: args.passkey,
        rp_id: args.passkey_rp_id.clone(),
        rp_name: args.passkey_rp_name.clone(),
        origin: args.passkey_origin.clone(),
    })
}

/// The social providers: Google from `GOOGLE_CLIENT_ID`/`GOOGLE_CLIENT_SECRET`, generic
/// OpenID Connect issuers from `TESSERA_OAUTH_PROVIDERS` and their `TESSERA_OAUTH_<ID>_*`
/// variables (read through `env`, so tests pass their own).
fn social(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<SocialSettings> {
    let mut providers = Vec::new();
    match (&args.google_client_id, &args.google_client_secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            providers.push(ProviderSettings {
                id: "google".into(),
                kind: ProviderKind::Google,
                client_id: id.clone(),
                client_secret: Secret::new(secret.clone()),
                scopes: args.google_scopes.clone(),
            });
        }
        (None, None) => {}
        _ => bail!("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together: set both, or neither"),
    }
    for id in args
        .oauth_providers
        .iter()
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
    {
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            bail!("TESSERA_OAUTH_PROVIDERS: {id:?} is not a provider id (a-z, 0-9, - and _)");
        }
        if providers.iter().any(|p: &ProviderSettings| p.id == id) {
            bail!("TESSERA_OAUTH_PROVIDERS: {id:?} is configured twice");
        }
        let prefix = format!(
            "TESSERA_OAUTH_{}",
            id.to_ascii_uppercase().replace('-', "_")
        );
        let required = |suffix: &str| {
            let name = format!("{prefix}_{suffix}");
            env(&name)
                .filter(|v| !v.is_empty())
                .with_context(|| format!("provider {id:?} needs {name}"))
        };
        let issuer = required("ISSUER")?;
        let parsed = url::Url::parse(&issuer)
            .with_context(|| format!("{prefix}_ISSUER {issuer:?} is not a URL"))?;
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if parsed.scheme() != "https"
            && !(parsed.scheme() == "http" && (loopback || args.oauth_allow_insecure_http))
        {
            bail!("{prefix}_ISSUER must be an https URL (plain http only to loopback)");
        }
        let scopes = env(&format!("{prefix}_SCOPES")).map_or_else(
            || vec!["email".to_owned(), "profile".to_owned()],
            |list| {
                list.split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            },
        );
        providers.push(ProviderSettings {
            id: id.to_owned(),
            kind: ProviderKind::Oidc { issuer },
            client_id: required("CLIENT_ID")?,
            client_secret: Secret::new(required("CLIENT_SECRET")?),
            scopes,
        });
    }
    Ok(SocialSettings {
        providers,
        account_linking: args.account_linking != Some(Toggle::Off),
        trusted_providers: args.oauth_trusted_providers.clone(),
        allow_insecure_http: args.oauth_allow_insecure_http,
        encrypt_oauth_tokens: args.encrypt_oauth_tokens,
        ..SocialSettings::default()
    })
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
        } else if estimated_entropy_bits(entry.secret.expose()) < MIN_SECRET_ENTROPY_BITS {
            if args.env == Env::Production {
                bail!(
                    "the secret looks low-entropy (too few distinct characters for its length, e.g. a repeated pattern); refusing to start in production. Use a random one, e.g. `openssl rand -base64 32`"
                );
            }
            tracing::warn!("the secret looks low-entropy; fine for development only");
        }
    }
    Ok(set)
}

/// Better Auth's estimate of a secret's entropy: its length times log2 of the number of
/// distinct characters in it. Crude, but it catches what it is meant to catch: `aaaa…` (0 bits),
/// `abab…` (1 bit a character), a word repeated; any random secret of 32 characters or more
/// from a base64 or hex alphabet scores well above the threshold.
fn estimated_entropy_bits(secret: &str) -> f64 {
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let length = secret.chars().count();
    #[expect(
        clippy::cast_precision_loss,
        reason = "secret lengths and alphabets are far below 2^52"
    )]
    let bits = length as f64 * (distinct.len() as f64).log2();
    bits
}

/// Whether a trusted-origin pattern matches any site: a wildcard host (`*`, `https://*`,
/// `https://*.*`) or a wildcard directly under a top-level domain (`https://*.com`). A wildcard
/// must be followed by at least two literal labels (`https://*.example.com`).
fn trusts_every_site(pattern: &str) -> bool {
    let host_and_port = pattern.split_once("://").map_or(pattern, |(_, rest)| rest);
    let host = host_and_port
        .rsplit_once(':')
        .map_or(host_and_port, |(host, _port)| host);
    let wild = |label: &str| label.is_empty() || label.contains(['*', '?']);
    if !wild(host) {
        return false;
    }
    let mut labels = host.rsplit('.');
    let last_two = [labels.next(), labels.next()];
    last_two.iter().any(|label| label.is_none_or(wild))
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
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    /// Why `tessera serve ARGS` in production at an https URL refuses to start, with every
    /// cause (flags, not the environment: they win over whatever the test runner has set).
    fn production_refusal(args: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let fixed = [
            "tessera",
            "serve",
            "--env",
            "production",
            "--base-url",
            "https://auth.example.com",
            "--data-dir",
            data_dir,
        ];
        let cli = Cli::try_parse_from(fixed.iter().chain(args)).unwrap();
        let Some(Command::Serve(serve)) = cli.command else {
            unreachable!("parsed as serve")
        };
        let refused = server(&serve).expect_err("production started");
        format!("{refused:#}")
    }

    fn serve_args(argv: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["tessera", "serve"].iter().chain(argv)).unwrap();
        let Some(Command::Serve(serve)) = cli.command else {
            unreachable!("parsed as serve")
        };
        serve
    }

    #[test]
    fn generic_providers_are_read_from_their_own_variables() {
        let env = |name: &str| {
            match name {
                "TESSERA_OAUTH_CORP_IDP_ISSUER" => Some("https://idp.corp.test"),
                "TESSERA_OAUTH_CORP_IDP_CLIENT_ID" => Some("tessera"),
                "TESSERA_OAUTH_CORP_IDP_CLIENT_SECRET" => Some("s3cret"),
                "TESSERA_OAUTH_CORP_IDP_SCOPES" => Some("groups,offline_access"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let args = serve_args(&[
            "--oauth-providers",
            "corp-idp",
            "--google-client-id",
            "g",
            "--google-client-secret",
            "gs",
        ]);
        let social = social(&args, env).unwrap();
        let ids: Vec<&str> = social.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["google", "corp-idp"]);
        let corp = &social.providers[1];
        assert_eq!(
            corp.kind,
            ProviderKind::Oidc {
                issuer: "https://idp.corp.test".into()
            }
        );
        assert_eq!(
            (corp.client_id.as_str(), corp.client_secret.expose()),
            ("tessera", "s3cret")
        );
        assert_eq!(corp.scopes, ["groups", "offline_access"]);
        assert!(social.account_linking && social.require_local_email_verified);
    }

    #[test]
    fn a_provider_missing_a_variable_or_on_plain_http_is_refused_by_name() {
        let args = serve_args(&["--oauth-providers", "corp"]);
        let said = format!("{:#}", social(&args, |_| None).unwrap_err());
        assert!(said.contains("TESSERA_OAUTH_CORP_ISSUER"), "{said}");
        let plain = |name: &str| {
            (name == "TESSERA_OAUTH_CORP_ISSUER").then(|| "http://idp.corp.test".to_owned())
        };
        let said = format!("{:#}", social(&args, plain).unwrap_err());
        assert!(said.contains("must be an https URL"), "{said}");
        let half = serve_args(&["--google-client-id", "g"]);
        assert!(social(&half, |_| None).is_err(), "an id without its secret");
    }

    #[test]
    fn production_refuses_a_low_entropy_secret_and_says_why() {
        let said = production_refusal(&["--secret", &"a".repeat(40)]);
        assert!(
            said.contains("the secret looks low-entropy")
                && said.contains("refusing to start in production"),
            "{said}"
        );
        let said = production_refusal(&["--secret", &"tessera!".repeat(5)]);
        assert!(said.contains("low-entropy"), "{said}");
    }

    #[test]
    fn production_without_smtp_or_webhook_delivers_no_mail_and_refuses_required_verification() {
        let serve = |argv: &[&str]| {
            let cli = Cli::try_parse_from(["tessera", "serve"].iter().chain(argv)).unwrap();
            let Some(Command::Serve(serve)) = cli.command else {
                unreachable!("parsed as serve")
            };
            serve
        };
        assert!(
            !mail(&serve(&["--env", "production"])).delivers(),
            "no .eml files in production"
        );
        let smtp = ["--env", "production", "--smtp-url", "smtp://127.0.0.1:2525"];
        assert!(mail(&serve(&smtp)).delivers());
        assert!(mail(&serve(&[])).delivers(), ".eml files in development");
        let said = production_refusal(&["--require-email-verification"]);
        assert!(
            said.contains("TESSERA_REQUIRE_EMAIL_VERIFICATION needs mail delivery"),
            "{said}"
        );
        let said = production_refusal(&["--delete-user", "--delete-user-verification"]);
        assert!(
            said.contains("TESSERA_DELETE_USER_VERIFICATION needs mail delivery"),
            "{said}"
        );
    }

    #[test]
    fn change_email_and_delete_user_are_off_by_default_and_their_flags_reach_the_config() {
        let config = |argv: &[&str]| {
            // A secret given, so no development secret file is written.
            let secret = ["--secret", "settings-test-secret-0123456789abcdefXYZ"];
            let argv = ["tessera", "serve"].iter().chain(&secret).chain(argv);
            let cli = Cli::try_parse_from(argv).unwrap();
            let Some(Command::Serve(serve)) = cli.command else {
                unreachable!("parsed as serve")
            };
            auth_config(&serve).unwrap()
        };
        let default = config(&[]);
        assert!(!default.change_email.enabled && !default.delete_user.enabled);
        assert_eq!(default.delete_user.token_lifetime_secs, 86_400);
        let on = config(&[
            "--change-email",
            "--change-email-confirmation",
            "--update-email-without-verification",
            "--delete-user",
            "--delete-user-verification",
            "--delete-token-expires-in",
            "600",
        ]);
        assert!(on.change_email.enabled && on.change_email.send_confirmation);
        assert!(on.change_email.update_without_verification);
        assert!(on.delete_user.enabled && on.delete_user.send_verification);
        assert_eq!(on.delete_user.token_lifetime_secs, 600);
    }

    #[test]
    fn production_refuses_a_trusted_origin_that_matches_every_site_and_says_why() {
        let said = production_refusal(&[
            "--secret",
            "connections-test-secret-0123456789abcdefXYZ",
            "--trusted-origins",
            "https://app.example.com,*",
        ]);
        assert!(
            said.contains(r#"BETTER_AUTH_TRUSTED_ORIGINS: "*" would trust every site"#),
            "{said}"
        );
    }

    /// `tessera serve`'s settings for an https base URL, a strong secret, a data directory in
    /// `dir` and `extra` arguments.
    fn serve_settings(dir: &tempfile::TempDir, extra: &[&str]) -> ServerSettings {
        let fixed = [
            "tessera",
            "serve",
            "--base-url",
            "https://auth.example.com",
            "--secret",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ];
        let cli = Cli::try_parse_from(fixed.iter().chain(extra)).unwrap();
        let Some(Command::Serve(serve)) = cli.command else {
            unreachable!("parsed as serve")
        };
        server(&serve).unwrap()
    }

    #[test]
    fn the_shutdown_drain_defaults_to_five_seconds_in_production_only_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        let drain = |extra: &[&str]| serve_settings(&dir, extra).limits.shutdown_drain.as_secs();
        assert_eq!(drain(&["--env", "production"]), 5);
        assert_eq!(drain(&["--env", "development"]), 0);
        assert_eq!(drain(&["--env", "production", "--shutdown-drain", "0"]), 0);
        assert_eq!(drain(&["--env", "development", "--shutdown-drain", "2"]), 2);
    }

    #[test]
    fn two_factor_is_off_by_default_and_its_flags_set_better_auths_options() {
        let dir = tempfile::tempdir().unwrap();
        let two_factor = |extra: &[&str]| serve_settings(&dir, extra).auth.two_factor;
        let off = two_factor(&["--app-name", "Acme"]);
        assert!(!off.enabled);
        assert_eq!(
            (off.issuer.as_str(), off.app_name.as_str()),
            ("Acme", "Acme")
        );
        assert_eq!(
            (
                off.totp_digits,
                off.totp_period_secs,
                off.otp_period_minutes
            ),
            (6, 30, 3)
        );
        assert_eq!(off.trust_device_max_age_secs, 2_592_000);
        let on = two_factor(&[
            "--two-factor",
            "--two-factor-issuer",
            "Acme Login",
            "--two-factor-otp-digits",
            "8",
            "--two-factor-trust-device-max-age",
            "3600",
        ]);
        assert!(on.enabled);
        assert_eq!(
            (on.issuer.as_str(), on.app_name.as_str()),
            ("Acme Login", "Tessera")
        );
        assert_eq!((on.otp_digits, on.trust_device_max_age_secs), (8, 3600));
        let fixed = ["tessera", "serve", "--two-factor-totp-digits", "5"];
        assert!(
            Cli::try_parse_from(fixed).is_err(),
            "fewer than 6 digits is refused"
        );
    }

    #[test]
    fn a_repeated_or_few_character_secret_is_estimated_low_and_a_random_one_high() {
        assert!(estimated_entropy_bits(&"a".repeat(40)) < MIN_SECRET_ENTROPY_BITS);
        assert!(estimated_entropy_bits(&"ab".repeat(20)) < MIN_SECRET_ENTROPY_BITS);
        assert!(estimated_entropy_bits("0123456701234567012345670123") < MIN_SECRET_ENTROPY_BITS);
        // `openssl rand -base64 32` and `-hex 32` outputs.
        assert!(
            estimated_entropy_bits("q0xM7hJ0mVq3Gq1cK0yQb6C2u3m4YbKzj0l9c8V1s2E=")
                >= MIN_SECRET_ENTROPY_BITS
        );
        assert!(
            estimated_entropy_bits(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            ) >= MIN_SECRET_ENTROPY_BITS
        );
    }

    #[test]
    fn only_origin_patterns_that_match_every_site_are_flagged() {
        for everyone in [
            "*",
            "https://*",
            "*://*",
            "https://*:443",
            "https://*.*",
            "https://*.com",
            "http://*.co?",
        ] {
            assert!(trusts_every_site(everyone), "{everyone}");
        }
        for scoped in [
            "https://app.example.com",
            "https://*.example.com",
            "http://localhost:*",
            "http://localhost:5173",
            "https://a.*.example.com",
        ] {
            assert!(!trusts_every_site(scoped), "{scoped}");
        }
    }

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
