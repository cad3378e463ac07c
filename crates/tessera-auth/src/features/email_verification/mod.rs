//! Better Auth's email verification: `POST /send-verification-email` mails a link,
//! `GET /verify-email?token=…` follows it and sets `emailVerified`. Links are Better Auth's
//! stateless HS256 JWTs over the secret ([`token`]), so a link a Better Auth deployment mailed
//! verifies here and the other way round. Sign-up and sign-in mail links through
//! [`send_verification_mail`] under the settings' `sendOnSignUp` / `sendOnSignIn`. The same
//! landing follows email-change links (`updateTo`, [`change`]), which `POST /change-email`
//! (the `change_email` feature) mails.

mod change;
mod send;
mod settings;
mod store;
mod token;
mod verify;

use axum::Router;
use percent_encoding::utf8_percent_encode;
use serde_json::json;
use tessera_mail::{Mail, MailKind, SecretUrl};

use super::Feature;
use crate::audit::{AuditEvent, AuditKind};
use crate::cookies::URI_COMPONENT;
use crate::error::ApiError;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::User;

pub(crate) use change::{mail_change_link, move_account};
pub use settings::EmailVerificationSettings;
pub use store::{EmailVerificationStore, VERIFICATION_MAILS_PER_HOUR};
pub(crate) use token::{ChangeStep, EmailChange};

/// The email-verification feature.
pub(crate) struct EmailVerification;

impl Feature for EmailVerification {
    fn routes(&self) -> Router<AuthState> {
        send::router().merge(verify::router())
    }
}

/// Which flow mailed a link, for the audit event's `detail.via`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SentVia {
    /// `POST /send-verification-email`.
    Request,
    /// `POST /sign-up/email` with `sendOnSignUp`.
    SignUp,
    /// A refused `POST /sign-in/email` with `sendOnSignIn`.
    SignIn,
    /// An email change moved the account to an address not verified yet
    /// (`updateEmailWithoutVerification`, or a legacy change link).
    ChangeEmail,
}

impl SentVia {
    fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::ChangeEmail => "change_email",
        }
    }
}

/// Mints `user`'s token and queues the mail carrying Better Auth's link,
/// `{base}/api/auth/verify-email?token=<jwt>&callbackURL=<encodeURIComponent(callback), or %2F>`,
/// with an `email_verification_sent` event in the same transaction, then wakes the mail worker.
/// Past the address's hourly allowance nothing is queued (the event is written with reason
/// `recipient_limit`) and the answer is `false`. The caller checked that a mail worker runs.
pub(crate) async fn send_verification_mail(
    state: &AuthState,
    meta: &ClientMeta,
    user: &User,
    callback: Option<&str>,
    via: SentVia,
) -> Result<bool, ApiError> {
    let lifetime = state.config.email_verification.expires_in_secs;
    let url = verification_link(state, &user.email, &user.id, None, lifetime, callback)?;
    let mail = Mail::new(
        MailKind::VerifyEmail,
        &user.email,
        &user.name,
        SecretUrl::new(url),
    );
    let audit = state
        .audit_event(AuditKind::EmailVerificationSent, meta)
        .user(&user.id)
        .detail(json!({ "via": via.as_str() }));
    queue_link_mail(state, &mail, audit).await
}

/// Better Auth's `/verify-email` link for a token over `email` of user `user_id` (an
/// email-change one with `change`), valid for `lifetime` seconds from now:
/// `{base}/api/auth/verify-email?token=<jwt>&callbackURL=<encodeURIComponent(callback), or %2F>`.
pub(crate) fn verification_link(
    state: &AuthState,
    email: &str,
    user_id: &str,
    change: Option<EmailChange<'_>>,
    lifetime: u32,
    callback: Option<&str>,
) -> Result<String, ApiError> {
    let secret = &state.config.secrets.current().secret;
    let now = state.clock.now().timestamp();
    let token = token::mint(secret, email, user_id, change, now, lifetime).map_err(|error| {
        // Serialising a few plain fields cannot fail; if it ever did, fail closed.
        tracing::error!(error = %error, "minting a verification token failed");
        ApiError::internal()
    })?;
    let callback = utf8_percent_encode(
        callback.filter(|c| !c.is_empty()).unwrap_or("/"),
        URI_COMPONENT,
    );
    Ok(format!(
        "{}/api/auth/verify-email?token={token}&callbackURL={callback}",
        state.config.base_origin
    ))
}

/// Queues `mail` (a stateless link: no token row goes with it) with `audit` in one transaction
/// and wakes the mail worker. Past the recipient's hourly allowance for the mail's kind
/// ([`VERIFICATION_MAILS_PER_HOUR`]) nothing is queued, `audit` is written with reason
/// `recipient_limit`, and the answer is `false`.
pub(crate) async fn queue_link_mail(
    state: &AuthState,
    mail: &Mail,
    audit: AuditEvent,
) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let queued = state
        .store
        .queue_verification_mail(mail, now, &audit)
        .await?;
    Ok(state.mail_queued(queued, audit).await?)
}
