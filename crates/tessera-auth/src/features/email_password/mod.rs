//! Better Auth's email-and-password sign-in: `/sign-up/email`, `/sign-in/email` and
//! `/change-password`, the password hasher's settings, and the credential account's storage.

mod change_password;
mod sign_in;
mod sign_up;
mod store;

use axum::Router;

use super::Feature;
use crate::state::AuthState;

pub use store::CredentialStore;

/// The email-and-password feature.
pub(crate) struct EmailPassword;

impl Feature for EmailPassword {
    fn routes(&self) -> Router<AuthState> {
        Router::new()
            .merge(sign_up::router())
            .merge(sign_in::router())
            .merge(change_password::router())
    }

    fn login_paths(&self) -> &'static [&'static str] {
        &["/sign-in/email", "/sign-up/email"]
    }
}
