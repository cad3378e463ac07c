//! The auth server's settings, already parsed and checked: the core's here, each feature's in
//! its module ([`EmailPasswordSettings`], [`JwtSettings`], [`PasswordResetSettings`],
//! [`EmailVerificationSettings`], [`PasskeySettings`], [`ChangeEmailSettings`], [`DeleteUserSettings`],
//! [`SocialSettings`], [`TwoFactorSettings`]).

use chrono::Duration;

use crate::features::change_email::ChangeEmailSettings;
use crate::features::delete_user::DeleteUserSettings;
use crate::features::email_password::EmailPasswordSettings;
use crate::features::email_verification::EmailVerificationSettings;
use crate::features::jwt::JwtSettings;
use crate::features::passkey::PasskeySettings;
use crate::features::password_reset::PasswordResetSettings;
use crate::features::social::SocialSettings;
use crate::features::two_factor::TwoFactorSettings;
use crate::rate_limit::TrustedProxies;
use crate::secret::SecretSet;
use crate::store::TokenStorage;

/// How sessions age (docs/better-auth-protocol.md §2.4): defaults are Better Auth's.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Lifetime of a session and `Max-Age` of its cookie (7 days).
    pub expires_in: Duration,
    /// How old the last extension must be before a request slides the session (1 day).
    pub update_age: Duration,
    /// Sessions younger than this are "fresh" (1 day); `/list-sessions` requires it.
    pub fresh_age: Duration,
    /// Lifetime of a `rememberMe: false` session (1 day).
    pub dont_remember_expires_in: Duration,
    /// How long a session read from the database answers again from memory (zero, the default:
    /// read it every time, as Better Auth does). Sessions ended and users changed through this
    /// process are never served stale; changes made by another process sharing the database are
    /// seen within this time, so only a process that owns its database should turn it on. See
    /// [`crate::store::SessionCache`].
    pub cache_ttl: Duration,
    /// How the `session.token` column holds tokens: raw (the default, as Better Auth does) or
    /// only their SHA-256 ([`TokenStorage`]).
    pub token_storage: TokenStorage,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            expires_in: Duration::days(7),
            update_age: Duration::days(1),
            fresh_age: Duration::days(1),
            dont_remember_expires_in: Duration::days(1),
            cache_ttl: Duration::zero(),
            token_storage: TokenStorage::Plain,
        }
    }
}

/// Everything the auth router needs to know.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `BETTER_AUTH_SECRET` / `BETTER_AUTH_SECRETS`.
    pub secrets: SecretSet,
    /// The origin of `BETTER_AUTH_URL`, e.g. `http://localhost:3000`: JWT `iss` and `aud`, and a
    /// trusted origin. Cookies get `__Secure-` and `Secure` when it is https.
    pub base_origin: String,
    /// Further trusted origins (exact origins, or patterns with `*`).
    pub trusted_origins: Vec<String>,
    /// Session ageing.
    pub session: SessionPolicy,
    /// The email-and-password feature's settings.
    pub email_password: EmailPasswordSettings,
    /// The jwt feature's settings.
    pub jwt: JwtSettings,
    /// The password-reset feature's settings.
    pub password_reset: PasswordResetSettings,
    /// The email-verification feature's settings.
    pub email_verification: EmailVerificationSettings,
    /// The passkey feature's settings.
    pub passkey: PasskeySettings,
    /// The email-change feature's settings.
    pub change_email: ChangeEmailSettings,
    /// The account-deletion feature's settings.
    pub delete_user: DeleteUserSettings,
    /// The social sign-in feature's settings (providers, account linking).
    pub social: SocialSettings,
    /// The two-factor feature's settings.
    pub two_factor: TwoFactorSettings,
    /// Use the `__Host-` cookie prefix (https only) instead of `__Secure-`.
    pub host_only_cookies: bool,
    /// Whether Better Auth's per-path request limits apply (on by default in production).
    pub rate_limit: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
}

impl AuthConfig {
    /// A configuration with Better Auth's defaults for everything but the secret and URL.
    pub fn new(secrets: SecretSet, base_origin: impl Into<String>) -> Self {
        Self {
            secrets,
            base_origin: base_origin.into(),
            trusted_origins: Vec::new(),
            session: SessionPolicy::default(),
            email_password: EmailPasswordSettings::default(),
            jwt: JwtSettings::default(),
            password_reset: PasswordResetSettings::default(),
            email_verification: EmailVerificationSettings::default(),
            passkey: PasskeySettings::default(),
            change_email: ChangeEmailSettings::default(),
            delete_user: DeleteUserSettings::default(),
            social: SocialSettings::default(),
            two_factor: TwoFactorSettings::default(),
            host_only_cookies: false,
            rate_limit: false,
            trusted_proxies: TrustedProxies::default(),
        }
    }

    /// Whether cookies are `__Secure-` prefixed and `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.base_origin.starts_with("https://")
    }
}
