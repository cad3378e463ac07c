//! Better Auth's password reset from a link: `GET /reset-password/:token` (the link's landing,
//! redirecting to the app's page with the token or an error) and `POST /reset-password` (the new
//! password, spending the token). Tokens are Better Auth's `verification` rows, so links a
//! Better Auth deployment issued keep working here and the other way round.

mod request;
mod reset;
mod settings;
mod store;

use axum::Router;

use super::Feature;
use crate::state::AuthState;

pub use settings::PasswordResetSettings;
pub use store::{PasswordResetStore, PasswordResetWrite, RESET_MAILS_PER_HOUR, ResetOutcome};

/// The identifier of a reset token's `verification` row, as Better Auth names it.
pub fn reset_identifier(token: &str) -> String {
    format!("reset-password:{token}")
}

/// The password-reset feature.
pub(crate) struct PasswordReset;

impl Feature for PasswordReset {
    fn routes(&self) -> Router<AuthState> {
        reset::router().merge(request::router())
    }
}
