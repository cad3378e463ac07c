//! `POST /two-factor/enable` and `POST /two-factor/disable`.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::backup_codes::{new_codes, seal_codes};
use super::challenge::presented_trust_identifier;
use super::totp::UserTotp;
use super::{PluginOn, TwoFactorRow, password_again, switch_and_rotate};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::error::{ApiError, codes};
use crate::ids::{URL_SAFE_ALPHABET, generate_id, random_string};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/two-factor/enable", post(enable))
        .route("/two-factor/disable", post(disable))
}

/// Sets two-factor up after checking the password. `totp` (the default): a new secret and
/// backup codes, answered once as `{method, totpURI, backupCodes}`; `twoFactorEnabled` is set by
/// the first verified code (at once with `skipVerificationOnEnable`). `otp`: codes by mail, on
/// at once.
async fn enable(
    _on: PluginOn,
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let password = fields.string("password");
    // Better Auth's `z.enum(["otp", "totp"]).default("totp")`.
    let method = fields.opt_string("method");
    let issuer = fields.opt_string("issuer");
    fields.finish()?;
    let method = match method.as_deref() {
        None | Some("totp") => "totp",
        Some("otp") => "otp",
        Some(_) => {
            return Err(ApiError::validation(
                r#"[body.method] Invalid option: expected one of "otp"|"totp""#,
            ));
        }
    };
    if let Err(refused) = password_again(&state, &meta, &auth, password).await {
        return Ok(refused);
    }
    if method == "otp" {
        if state.outbox().is_none() {
            return Err(codes::otp_not_configured());
        }
        let audit = state
            .audit_event(AuditKind::TwoFactorEnabled, &meta)
            .user(&auth.user.id)
            .session(&auth.session.id)
            .detail(json!({ "method": "otp" }));
        let (_, cookies, _) = switch_and_rotate(&state, &meta, &auth, true, audit).await?;
        return Ok(reply(json!({ "method": "otp" }), cookies));
    }
    let existing = state.store.find_two_factor(&auth.user.id).await?;
    if existing
        .as_ref()
        .is_some_and(|row| row.verified != Some(false))
    {
        return Err(codes::totp_already_enabled());
    }
    let settings = &state.config.two_factor;
    let backup_codes = new_codes();
    let secret = random_string(32, URL_SAFE_ALPHABET);
    let sealed = |plain: &str| {
        state.config.secrets.encrypt(plain).map_err(|error| {
            tracing::error!(error = %error, "sealing a two-factor secret failed");
            ApiError::internal()
        })
    };
    let skip = settings.skip_verification_on_enable;
    let row = TwoFactorRow {
        id: existing.map_or_else(|| generate_id(32), |row| row.id),
        secret: sealed(&secret)?,
        backup_codes: seal_codes(&state, &backup_codes)?,
        user_id: auth.user.id.clone(),
        verified: Some(skip),
        failed_verification_count: None,
        locked_until: None,
    };
    let audit = state
        .audit_event(AuditKind::TwoFactorEnabled, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .detail(json!({ "method": "totp", "confirmed": false }));
    state.store.save_two_factor(&row, &audit).await?;
    audit.emit();
    let mut cookies = auth.cookies.clone();
    if skip {
        let confirmed = state
            .audit_event(AuditKind::TwoFactorEnabled, &meta)
            .user(&auth.user.id)
            .session(&auth.session.id)
            .detail(json!({ "method": "totp", "confirmed": true, "skipped_verification": true }));
        cookies = switch_and_rotate(&state, &meta, &auth, true, confirmed)
            .await?
            .1;
    }
    let totp = UserTotp::new(&secret, settings.totp_digits, settings.totp_period_secs)
        .ok_or_else(ApiError::internal)?;
    let issuer = issuer.filter(|i| !i.is_empty());
    let uri = totp.uri(
        issuer.as_deref().unwrap_or(&settings.issuer),
        &auth.user.email,
    );
    Ok(reply(
        json!({ "method": "totp", "totpURI": uri, "backupCodes": backup_codes }),
        cookies,
    ))
}

/// Turns two-factor off after checking the password: the secret and backup codes are deleted,
/// `twoFactorEnabled` cleared, the session renewed, and this device's trusted-device record
/// (if its cookie is presented) deleted and its cookie expired.
async fn disable(
    _on: PluginOn,
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let password = fields.string("password");
    fields.finish()?;
    if let Err(refused) = password_again(&state, &meta, &auth, password).await {
        return Ok(refused);
    }
    let audit = state
        .audit_event(AuditKind::TwoFactorDisabled, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id);
    let (_, mut cookies, _) = switch_and_rotate(&state, &meta, &auth, false, audit).await?;
    if let Some(identifier) = presented_trust_identifier(&state, &headers) {
        state.store.delete_verification(&identifier).await?;
        cookies.push(state.cookies.expire(&state.cookies.trust_device));
    }
    Ok(reply(json!({ "status": true }), cookies))
}
