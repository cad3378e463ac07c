//! Better Auth's email-and-password sign-in: `/sign-up/email`, `/sign-in/email` and
//! `/change-password`, `/verify-password`, the password hasher's settings, and the credential account's storage.

mod change_password;
mod settings;
mod sign_in;
mod sign_up;
mod store;
mod verify_password;

use axum::Router;

use super::Feature;
use crate::password::PasswordHasher;
use crate::state::AuthState;

pub use settings::{EmailPasswordSettings, hashing_threads_for};
pub use store::CredentialStore;
pub(crate) use verify_password::confirm_password;

/// The email-and-password feature.
pub(crate) struct EmailPassword;

impl Feature for EmailPassword {
    fn routes(&self) -> Router<AuthState> {
        Router::new()
            .merge(sign_up::router())
            .merge(sign_in::router())
            .merge(change_password::router())
            .merge(verify_password::router())
    }

    fn login_paths(&self) -> &'static [&'static str] {
        &["/sign-in/email", "/sign-up/email"]
    }
}

/// The email-and-password feature's part of [`AuthState`].
pub struct EmailPasswordState {
    /// The bounded password hasher.
    pub hasher: PasswordHasher,
}

impl EmailPasswordState {
    pub(crate) fn new(settings: &EmailPasswordSettings) -> Self {
        Self {
            hasher: PasswordHasher::with_limits(
                settings.password_hash,
                settings.hash_concurrency,
                settings.hash_priority,
                settings.hash_queue,
            ),
        }
    }
}
