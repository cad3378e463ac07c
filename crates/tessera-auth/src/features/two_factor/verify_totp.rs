//! `POST /two-factor/get-totp-uri` and `POST /two-factor/verify-totp`.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::challenge::Verifier;
use super::totp::UserTotp;
use super::{PluginOn, TwoFactorRow, password_again, switch_and_rotate};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::error::{ApiError, codes};
use crate::rate_limit::CheckedRoute;
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/two-factor/get-totp-uri", post(get_totp_uri))
        .route("/two-factor/verify-totp", post(verify_totp))
}

/// The user's TOTP generator from their row, `None` when the secret does not open with any
/// configured secret (a retired `BETTER_AUTH_SECRETS` version) or is malformed.
pub(super) fn user_totp(state: &AuthState, row: &TwoFactorRow) -> Option<UserTotp> {
    let settings = &state.config.two_factor;
    let secret = state.config.secrets.decrypt(&row.secret)?;
    UserTotp::new(&secret, settings.totp_digits, settings.totp_period_secs)
}

/// The `otpauth://` URI again, after checking the password (400 `TOTP_NOT_ENABLED` without a
/// secret), with the app's name as issuer.
async fn get_totp_uri(
    _on: PluginOn,
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let password = fields.string("password");
    fields.finish()?;
    let row = state
        .store
        .find_two_factor(&auth.user.id)
        .await?
        .ok_or_else(codes::totp_not_enabled)?;
    let totp = user_totp(&state, &row).ok_or_else(|| {
        tracing::error!("a two-factor secret does not open with any configured secret");
        ApiError::internal()
    })?;
    if let Err(refused) = password_again(&state, &meta, &auth, password).await {
        return Ok(refused);
    }
    // Better Auth's get-totp-uri names the app, whatever `issuer` enable used.
    let uri = totp.uri(&state.config.two_factor.app_name, &auth.user.email);
    Ok(reply(json!({ "totpURI": uri }), auth.cookies))
}

/// Checks a TOTP code: signed in, the first right code confirms the secret and turns
/// two-factor on (the session renewed); for a pending sign-in, a right code opens the session.
/// Each code works once (Tessera's replay guard); wrong ones count in the per-account limits,
/// the challenge's five attempts and the account lockout, and are audited.
async fn verify_totp(
    _on: PluginOn,
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let code = fields.string("code");
    let trust_device = fields.opt_bool("trustDevice").unwrap_or(false);
    fields.finish()?;
    let verifier = Verifier::resolve(&state, &headers).await?;
    let user = verifier.user().clone();
    let row = state
        .store
        .find_two_factor(&user.id)
        .await?
        .ok_or_else(codes::totp_not_enabled)?;
    if verifier.is_sign_in() && row.verified == Some(false) {
        return Err(codes::totp_not_enabled());
    }
    let route = CheckedRoute::VerifyTotp;
    let sign_in = verifier.is_sign_in();
    let lockout = sign_in.then_some(&row);
    let check = match verifier
        .begin_check(&state, &meta, route, lockout, sign_in)
        .await
    {
        Ok(check) => check,
        Err(refused) => return Ok(refused),
    };
    let Some(totp) = user_totp(&state, &row) else {
        check.not_checked().await?;
        tracing::error!("a two-factor secret does not open with any configured secret");
        return Err(ApiError::internal());
    };
    let now_secs = u64::try_from(state.clock.now().timestamp()).unwrap_or(0);
    let step = totp.check(&code, now_secs);
    // A right code is spent by its step: the same code (or an earlier one) again is refused
    // like a wrong one, however close together the two requests come.
    let accepted = match step {
        Some(step) => {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            state.store.accept_totp_step(&user.id, step).await?
        }
        None => false,
    };
    if !accepted {
        check.failed().await?;
        return Err(codes::invalid_code());
    }
    check.succeeded().await?;
    if row.verified != Some(true) {
        let audit = state
            .audit_event(AuditKind::TwoFactorEnabled, &meta)
            .user(&user.id)
            .detail(json!({ "method": "totp", "confirmed": true }));
        if let Verifier::Session(auth) = &verifier
            && auth.user.two_factor_enabled != Some(true)
        {
            // The first right code confirms the secret and turns two-factor on. Better Auth
            // answers with the session the request came with (now deleted) and the user as it
            // was; the new session is in the cookie it sets.
            let audit = audit.session(&auth.session.id);
            let (_, cookies, _) = switch_and_rotate(&state, &meta, auth, true, audit).await?;
            return Ok(reply(
                json!({ "token": auth.session.token, "user": auth.user }),
                cookies,
            ));
        }
        // Already on (by mail codes): the secret is confirmed, nothing else changes.
        state
            .store
            .set_two_factor_enabled(&user.id, true, state.clock.now(), &audit)
            .await?;
        audit.emit();
    }
    verifier.passed(&state, &meta, "totp", trust_device).await
}
