//! Better Auth's email change (`user.changeEmail`): `POST /change-email` mails a link, to the
//! new address (it verifies and moves the account there) or, with `sendChangeEmailConfirmation`
//! and a verified user, first to the current address (approving it mails the new one). The
//! links are stateless email-verification JWTs with `updateTo`, followed on `GET /verify-email`
//! (the `email_verification` feature), so links either server mailed work on the other. With
//! `updateEmailWithoutVerification`, an unverified user's address is changed at once.

mod request;
mod settings;

use axum::Router;

use super::Feature;
use crate::state::AuthState;

pub use settings::ChangeEmailSettings;

/// The email-change feature.
pub(crate) struct ChangeEmail;

impl Feature for ChangeEmail {
    fn routes(&self) -> Router<AuthState> {
        request::router()
    }
}
