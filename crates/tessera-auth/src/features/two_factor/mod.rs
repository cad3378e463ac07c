//! Better Auth's twoFactor plugin: TOTP (`/two-factor/enable`, `/get-totp-uri`,
//! `/verify-totp`), codes by mail (`/send-otp`, `/verify-otp`, through the outbox), backup
//! codes (`/generate-backup-codes`, `/verify-backup-code`), `/disable`, the sign-in gate
//! (`{twoFactorRedirect: true}` and the `two_factor` cookie instead of a session) and trusted
//! devices. Secrets and backup codes are sealed as Better Auth seals them
//! ([`crate::secret::SecretSet::encrypt`]) in its `twoFactor` table, so a Better Auth database
//! with two-factor is adopted in place. Off unless [`TwoFactorSettings::enabled`]: every
//! endpoint then answers 404, as Better Auth without the plugin.

mod backup_codes;
mod challenge;
mod enable;
mod otp;
mod settings;
mod store;
mod totp;
mod verify_totp;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::json;

use super::Feature;
use crate::audit::AuditKind;
use crate::error::ApiError;
use crate::features::email_password::confirm_password;
use crate::rate_limit::CheckedRoute;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;
use crate::store::{Session, User};

pub(crate) use challenge::{SignInGate, gate_sign_in};
pub use settings::TwoFactorSettings;
pub(crate) use settings::{LOCKOUT_FAILURES, LOCKOUT_SECS};
pub use store::{Lockout, TWO_FACTOR_MAILS_PER_HOUR, TwoFactorRow, TwoFactorStore};

/// The two-factor feature.
pub(crate) struct TwoFactor;

impl Feature for TwoFactor {
    fn routes(&self) -> Router<AuthState> {
        enable::router()
            .merge(verify_totp::router())
            .merge(otp::router())
            .merge(backup_codes::router())
    }
}

/// The first extractor of every two-factor handler: with the plugin off the endpoint does not
/// exist (an empty 404, before anything else is looked at).
pub(super) struct PluginOn;

impl FromRequestParts<AuthState> for PluginOn {
    type Rejection = StatusCode;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &AuthState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.two_factor.enabled {
            Ok(Self)
        } else {
            Err(StatusCode::NOT_FOUND)
        }
    }
}

/// The password check of `/enable`, `/disable`, `/get-totp-uri` and `/generate-backup-codes`
/// ([`confirm_password`]); the refusal is the answer to give.
async fn password_again(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    password: String,
) -> Result<(), Response> {
    confirm_password(state, meta, CheckedRoute::TwoFactorPassword, auth, password).await
}

/// Turns two-factor on or off for the signed-in user and, as Better Auth does, moves them to a
/// new session (the old one deleted and announced like a sign-out), so no session opened before
/// the change outlives it. The new session and its cookies, and the updated user.
async fn switch_and_rotate(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    enabled: bool,
    audit: crate::audit::AuditEvent,
) -> Result<(Session, Vec<String>, User), ApiError> {
    let user = state
        .store
        .set_two_factor_enabled(&auth.user.id, enabled, state.clock.now(), &audit)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    audit.emit();
    let opened = state
        .audit_event(AuditKind::SignIn, meta)
        .user(&user.id)
        .detail(json!({ "via": "two_factor_change" }));
    let session = state.create_session(&user, meta, false, opened).await?;
    let cookies = state.session_cookies(&session, auth.dont_remember);
    let ended = state
        .audit_event(AuditKind::SessionRevoked, meta)
        .user(&user.id)
        .session(&auth.session.id)
        .reason("two_factor_changed");
    let stamp = state.revocation_stamp();
    if let Some(id) = state
        .store
        .delete_session(&auth.session.token, &ended, stamp)
        .await?
    {
        ended.emit();
        state.sessions_ended(&[id], stamp).await;
    }
    Ok((session, cookies, user))
}
