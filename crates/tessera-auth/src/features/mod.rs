//! Feature modules, organised the way Better Auth organises its plugins: the core (users,
//! sessions, cookies, origin checks, rate limits, audit) lives at the crate's top level, and each
//! feature here owns its routes, its storage trait and its settings.
//!
//! A feature is a unit struct implementing [`Feature`], mounted by its one line in [`FEATURES`].
//! docs/architecture.md §7 lists the steps for adding one.

pub mod change_email;
pub mod delete_user;
pub mod email_password;
pub mod email_verification;
pub mod jwt;
pub mod passkey;
pub mod password_reset;
pub mod social;
pub mod two_factor;

use axum::Router;

use crate::config::AuthConfig;
use crate::state::AuthState;

/// What a feature contributes to the `/api/auth` router.
pub(crate) trait Feature: Sync {
    /// The feature's endpoints, relative to `/api/auth`; the core's middleware (rate limit,
    /// origin check, bearer hook, `no-store`) wraps them like every other route.
    fn routes(&self) -> Router<AuthState>;

    /// Endpoints that open a session from credentials in the body (`/sign-in/email`): they get
    /// the login-CSRF origin rule ([`crate::origin::check_login_request`]) instead of the
    /// cookie rule, since no session cookie protects them yet.
    fn login_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the feature is mounted under `config` (a Better Auth plugin left out of the
    /// configuration: its paths are unknown, an empty 404).
    fn enabled(&self, _config: &AuthConfig) -> bool {
        true
    }
}

/// Every feature, in mounting order. Adding a feature is its module and one line here.
const FEATURES: &[&dyn Feature] = &[
    &email_password::EmailPassword,
    &jwt::JwtPlugin,
    &password_reset::PasswordReset,
    &email_verification::EmailVerification,
    &passkey::Passkeys,
    &change_email::ChangeEmail,
    &delete_user::DeleteUser,
    &social::Social,
    &two_factor::TwoFactor,
];

/// The routes of every feature `config` turns on.
pub(crate) fn routes(config: &AuthConfig) -> Router<AuthState> {
    FEATURES
        .iter()
        .filter(|feature| feature.enabled(config))
        .fold(Router::new(), |router, feature| {
            router.merge(feature.routes())
        })
}

/// Whether `path` (as the router sees it, or with a prefix) is a feature's login path.
pub(crate) fn is_login_path(path: &str) -> bool {
    FEATURES
        .iter()
        .flat_map(|feature| feature.login_paths())
        .any(|login| path.ends_with(login))
}
